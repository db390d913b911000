package tracker

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/docket-p2p/docket/core"
)

// maxPeersPerTorrent bounds one swarm's entries; announces beyond it are answered but not
// recorded, so a flood of peer ids cannot grow the tracker's memory without bound.
const maxPeersPerTorrent = 10000

// maxSwarms bounds how many swarms the store keeps; announces for a new info-hash beyond it
// are answered but not recorded, so a flood of made-up info-hashes cannot grow memory without
// bound. Expiry makes room again.
const maxSwarms = 1 << 17

// Peer is one swarm member as the tracker knows it.
type Peer struct {
	ID       core.PeerID
	Addr     netip.AddrPort // the address the tracker observed, with the announced port
	Complete bool           // has the whole blob (a seeder)
	Origin   bool           // a Docket origin
	Seen     time.Time      // last announce
}

// PeerStore records swarms. The tracker's hand-out policy lives in the server; a store only
// keeps, expires and samples entries, so a shared store (Redis, say) can replace the
// in-memory one.
type PeerStore interface {
	// Update records p's announce in swarm h; stopped removes it.
	Update(h core.InfoHash, p Peer, stopped bool)
	// Sample returns up to n live peers of h other than exclude, in random order, and the
	// swarm's counts of complete and incomplete live peers.
	Sample(h core.InfoHash, exclude core.PeerID, n int) (peers []Peer, complete, incomplete int)
	// Expire forgets every peer not seen since before.
	Expire(before time.Time) int
}

// memoryStore is the in-memory PeerStore.
type memoryStore struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	swarms map[core.InfoHash]map[core.PeerID]Peer
}

func newMemoryStore(ttl time.Duration, now func() time.Time) *memoryStore {
	return &memoryStore{ttl: ttl, now: now, swarms: make(map[core.InfoHash]map[core.PeerID]Peer)}
}

func (s *memoryStore) Update(h core.InfoHash, p Peer, stopped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sw := s.swarms[h]
	if stopped {
		if sw != nil {
			delete(sw, p.ID)
			if len(sw) == 0 {
				delete(s.swarms, h)
			}
		}
		return
	}
	if sw == nil {
		if len(s.swarms) >= maxSwarms {
			return
		}
		sw = make(map[core.PeerID]Peer)
		s.swarms[h] = sw
	}
	if _, known := sw[p.ID]; !known && len(sw) >= maxPeersPerTorrent {
		return
	}
	sw[p.ID] = p
}

func (s *memoryStore) Sample(h core.InfoHash, exclude core.PeerID, n int) ([]Peer, int, int) {
	cutoff := s.now().Add(-s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	var live []Peer
	complete, incomplete := 0, 0
	for id, p := range s.swarms[h] {
		if p.Seen.Before(cutoff) {
			continue
		}
		if p.Complete {
			complete++
		} else {
			incomplete++
		}
		if id != exclude {
			live = append(live, p)
		}
	}
	rand.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	return live[:min(n, len(live))], complete, incomplete
}

func (s *memoryStore) Expire(before time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, sw := range s.swarms {
		for id, p := range sw {
			if p.Seen.Before(before) {
				delete(sw, id)
				n++
			}
		}
		if len(sw) == 0 {
			delete(s.swarms, h)
		}
	}
	return n
}
