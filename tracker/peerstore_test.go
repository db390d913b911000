package tracker

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
)

// The store keeps at most maxSwarms swarms and maxPeersPerTorrent peers per swarm, and expiry
// makes room again.
func TestMemoryStoreBounds(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := newMemoryStore(time.Minute, func() time.Time { return now })
	peer := func(i int) Peer {
		var id core.PeerID
		binary.BigEndian.PutUint64(id[:], uint64(i))
		return Peer{ID: id, Addr: netip.MustParseAddrPort("127.0.0.1:6881"), Seen: now}
	}
	hash := func(i int) core.InfoHash {
		var h core.InfoHash
		binary.BigEndian.PutUint64(h[:], uint64(i))
		return h
	}
	for i := range maxSwarms + 10 {
		s.Update(hash(i), peer(1), false)
	}
	if len(s.swarms) != maxSwarms {
		t.Fatalf("%d swarms kept, want %d", len(s.swarms), maxSwarms)
	}
	// An existing swarm still takes new peers.
	s.Update(hash(0), peer(2), false)
	if _, c, i := s.Sample(hash(0), core.PeerID{}, 10); c+i != 2 {
		t.Fatalf("swarm 0 has %d peers, want 2", c+i)
	}
	for i := range maxPeersPerTorrent + 10 {
		s.Update(hash(1), peer(i), false)
	}
	if n := len(s.swarms[hash(1)]); n != maxPeersPerTorrent {
		t.Fatalf("%d peers kept, want %d", n, maxPeersPerTorrent)
	}
	now = now.Add(2 * time.Minute)
	if n := s.Expire(now.Add(-time.Minute)); n != maxSwarms+1+maxPeersPerTorrent-1 {
		t.Fatalf("expired %d peers", n)
	}
	s.Update(hash(maxSwarms+5), peer(1), false)
	if _, c, i := s.Sample(hash(maxSwarms+5), core.PeerID{}, 10); c+i != 1 {
		t.Fatal("no room for a new swarm after expiry")
	}
}
