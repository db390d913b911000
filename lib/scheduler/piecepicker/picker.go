// Package piecepicker chooses which pieces to request from which peer.
//
// The policy is rarest-first: among the pieces a peer has and we lack that
// are not already requested, pick those held by the fewest known peers, and
// break ties at random so that leechers starting together spread out over
// the torrent instead of all asking for piece 0. When every missing piece is
// already requested (endgame), a peer may be given pieces that are in flight
// with other peers; the first copy to arrive wins and the caller cancels the
// rest, using the peer list returned by Done.
//
// A Picker is pure bookkeeping: it does no I/O and is not safe for concurrent
// use; the scheduler holds it under the torrent's lock.
package piecepicker

import (
	"fmt"
	"math/rand/v2"

	"github.com/docket-p2p/docket/lib/wire"
)

// Picker tracks piece availability, our own pieces and requests in flight
// for one torrent. P identifies a peer connection.
type Picker[P comparable] struct {
	n        int
	have     *wire.Bits
	avail    []int
	inflight []map[P]struct{}
	// requested counts pieces with at least one request in flight.
	requested int
	// front is the lowest piece we lack (see Front).
	front   int
	rng     *rand.Rand
	scratch []int
}

// New returns a Picker for numPieces pieces, none of which we have. rng
// drives the tie-break; pass a seeded source for deterministic tests.
func New[P comparable](numPieces int, rng *rand.Rand) *Picker[P] {
	return &Picker[P]{
		n:        numPieces,
		have:     wire.NewBits(numPieces),
		avail:    make([]int, numPieces),
		inflight: make([]map[P]struct{}, numPieces),
		rng:      rng,
	}
}

// NumPieces is the number of pieces in the torrent.
func (p *Picker[P]) NumPieces() int { return p.n }

// Have reports whether we hold verified piece i.
func (p *Picker[P]) Have(i int) bool { return i >= 0 && i < p.n && p.have.Has(i) }

// Complete reports whether we hold every piece.
func (p *Picker[P]) Complete() bool { return p.have.Complete() }

// Missing is the number of pieces we still lack.
func (p *Picker[P]) Missing() int { return p.n - p.have.Count() }

// maxEndgameFetchers is how many peers a piece is requested from at once in endgame: a second
// one covers a slow first, and more would mostly spend links on copies that arrive too late.
const maxEndgameFetchers = 2

// Endgame reports whether every missing piece has a request in flight.
func (p *Picker[P]) Endgame() bool {
	return p.Missing() > 0 && p.requested == p.Missing()
}

// Availability is the number of known peers holding piece i.
func (p *Picker[P]) Availability(i int) int {
	if i < 0 || i >= p.n {
		return 0
	}
	return p.avail[i]
}

// SetHave marks piece i as held (for a seeder or a resumed download).
func (p *Picker[P]) SetHave(i int) error {
	if i < 0 || i >= p.n {
		return fmt.Errorf("%w: %d of %d", ErrPieceRange, i, p.n)
	}
	p.have.Set(i)
	p.advanceFront()
	return nil
}

func (p *Picker[P]) advanceFront() {
	for p.front < p.n && p.have.Has(p.front) {
		p.front++
	}
}

// Front is the lowest piece we lack (NumPieces when complete): every piece before it is held.
func (p *Picker[P]) Front() int { return p.front }

// AddPeer counts a peer's piece set (from its bitfield or have-all).
func (p *Picker[P]) AddPeer(bits *wire.Bits) error {
	if bits.Len() != p.n {
		return fmt.Errorf("%w: %d, want %d", ErrBitsLength, bits.Len(), p.n)
	}
	for i := 0; i < p.n; i++ {
		if bits.Has(i) {
			p.avail[i]++
		}
	}
	return nil
}

// PeerHas counts one have message from a peer.
func (p *Picker[P]) PeerHas(i int) error {
	if i < 0 || i >= p.n {
		return fmt.Errorf("%w: %d of %d", ErrPieceRange, i, p.n)
	}
	p.avail[i]++
	return nil
}

// RemovePeer forgets a departing peer: its availability and every request
// it had in flight, which become pickable again.
func (p *Picker[P]) RemovePeer(peer P, bits *wire.Bits) {
	for i := 0; i < p.n; i++ {
		if bits != nil && bits.Len() == p.n && bits.Has(i) && p.avail[i] > 0 {
			p.avail[i]--
		}
		p.Release(peer, i)
	}
}

// Release drops peer's request for piece i (rejected, timed out, or the
// piece failed verification) so another peer may be asked for it.
func (p *Picker[P]) Release(peer P, i int) {
	if i < 0 || i >= p.n || p.inflight[i] == nil {
		return
	}
	if _, ok := p.inflight[i][peer]; !ok {
		return
	}
	delete(p.inflight[i], peer)
	if len(p.inflight[i]) == 0 {
		p.inflight[i] = nil
		if !p.have.Has(i) {
			p.requested--
		}
	}
}

// Done records that piece i arrived and verified. It returns the other
// peers that still have a request for it in flight (endgame duplicates),
// which the caller should cancel. Done on a piece already held returns nil.
func (p *Picker[P]) Done(i int) ([]P, error) {
	if i < 0 || i >= p.n {
		return nil, fmt.Errorf("%w: %d of %d", ErrPieceRange, i, p.n)
	}
	if p.have.Has(i) {
		return nil, nil
	}
	p.have.Set(i)
	p.advanceFront()
	var others []P
	if p.inflight[i] != nil {
		p.requested--
		for peer := range p.inflight[i] {
			others = append(others, peer)
		}
		p.inflight[i] = nil
	}
	return others, nil
}

// Pick chooses up to max pieces to request from peer, whose piece set is
// peerBits, and records them as in flight with that peer. Outside endgame it
// returns only pieces nobody is fetching, rarest first with random
// tie-break. In endgame it returns pieces in flight with other peers that
// this peer is not already fetching, least-duplicated first.
func (p *Picker[P]) Pick(peer P, peerBits *wire.Bits, max int) []int {
	return p.PickOnly(peer, peerBits, max, nil)
}

// PickOnly is Pick restricted, outside endgame, to the pieces for which only(i) is true (nil:
// all of them).
func (p *Picker[P]) PickOnly(peer P, peerBits *wire.Bits, max int, only func(i int) bool) []int {
	return p.pick(peer, peerBits, max, only, 0)
}

// PickNearFront is PickOnly with ties in rarity broken, outside endgame, first by distance
// from Front in steps of window pieces, then at random: the pieces come roughly in order, a
// window at a time, while peers picking at once still spread over a whole window.
func (p *Picker[P]) PickNearFront(peer P, peerBits *wire.Bits, max int, only func(i int) bool, window int) []int {
	return p.pick(peer, peerBits, max, only, window)
}

func (p *Picker[P]) pick(peer P, peerBits *wire.Bits, max int, only func(i int) bool, window int) []int {
	if max <= 0 || peerBits == nil || peerBits.Len() != p.n {
		return nil
	}
	// Every piece below the front is held: the scans start there.
	cand := p.scratch[:0]
	for i := p.front; i < p.n; i++ {
		if !p.have.Has(i) && p.inflight[i] == nil && peerBits.Has(i) && (only == nil || only(i)) {
			cand = append(cand, i)
		}
	}
	endgame := false
	if len(cand) == 0 && p.Endgame() {
		endgame = true
		for i := p.front; i < p.n; i++ {
			if p.have.Has(i) || !peerBits.Has(i) {
				continue
			}
			if _, mine := p.inflight[i][peer]; mine || len(p.inflight[i]) >= maxEndgameFetchers {
				continue
			}
			cand = append(cand, i)
		}
	}
	p.scratch = cand
	if len(cand) == 0 {
		return nil
	}
	// Shuffle, then stable-select the lowest keys: random order among equals.
	p.rng.Shuffle(len(cand), func(a, b int) { cand[a], cand[b] = cand[b], cand[a] })
	key := func(i int) int {
		if endgame {
			return len(p.inflight[i])
		}
		if window > 0 {
			return p.avail[i]*p.n + (i-p.front)/window
		}
		return p.avail[i]
	}
	if max > len(cand) {
		max = len(cand)
	}
	out := make([]int, 0, max)
	for len(out) < max {
		best := -1
		for j, i := range cand {
			if i < 0 {
				continue
			}
			if best < 0 || key(i) < key(cand[best]) {
				best = j
			}
		}
		out = append(out, cand[best])
		cand[best] = -1
	}
	for _, i := range out {
		if p.inflight[i] == nil {
			p.inflight[i] = make(map[P]struct{})
			p.requested++
		}
		p.inflight[i][peer] = struct{}{}
	}
	return out
}
