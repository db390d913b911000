// Package superseed implements the serving side of super-seeding for a
// seeder that is the only source of a blob (an origin).
//
// Goal: every piece leaves the seeder once before any piece leaves it
// twice, so leechers end up holding different pieces and trade them among
// themselves instead of all pulling the same bytes from the origin. The
// Ledger counts how many times each piece was sent and which pieces each
// peer was given. The scheduler uses it two ways:
//   - Suggest picks, for a peer, the piece it lacks that was sent least (ties
//     to the lowest index after a per-peer rotation, so peers start apart);
//     the seeder advertises that piece (have/suggest) instead of a full
//     bitfield, as in BEP 16.
//   - Allow tells whether a requested piece may be served now: only pieces
//     whose send count is within Slack of the minimum over pieces are served,
//     so a greedy peer cannot drain the seeder with duplicates while other
//     pieces have never left it.
//
// A Ledger is not safe for concurrent use; the scheduler holds it under the
// torrent's lock.
package superseed

import "fmt"

// Slack bounds the spread: a piece not yet given to the asking peer is
// served only while its send count is below min(send counts)+Slack. With 1,
// only the least-sent pieces are served, so every piece leaves once before
// any leaves twice; the least-sent pieces are always allowed, so some
// request can always be served.
const Slack = 1

// Ledger records pieces sent by a super-seeding seeder. P identifies a peer.
type Ledger[P comparable] struct {
	sent  []int
	given map[P]map[int]struct{}
}

// New returns a Ledger for numPieces pieces.
func New[P comparable](numPieces int) *Ledger[P] {
	return &Ledger[P]{sent: make([]int, numPieces), given: make(map[P]map[int]struct{})}
}

// Sent returns how many times piece i was sent.
func (l *Ledger[P]) Sent(i int) int {
	if i < 0 || i >= len(l.sent) {
		return 0
	}
	return l.sent[i]
}

// Record notes that piece i was sent to peer in full.
func (l *Ledger[P]) Record(peer P, i int) error {
	if i < 0 || i >= len(l.sent) {
		return fmt.Errorf("%w: %d of %d", ErrPieceRange, i, len(l.sent))
	}
	g := l.given[peer]
	if g == nil {
		g = make(map[int]struct{})
		l.given[peer] = g
	}
	if _, dup := g[i]; dup {
		return nil
	}
	g[i] = struct{}{}
	l.sent[i]++
	return nil
}

// Forget drops a departed peer's record of given pieces. Send counts stay:
// the bytes did leave the seeder, and the peer may still pass them on.
func (l *Ledger[P]) Forget(peer P) {
	delete(l.given, peer)
}

func (l *Ledger[P]) minSent() int {
	m := -1
	for _, c := range l.sent {
		if m < 0 || c < m {
			m = c
		}
	}
	return m
}

// Given reports whether piece i was given to peer (and peer has not been forgotten).
func (l *Ledger[P]) Given(peer P, i int) bool {
	_, ok := l.given[peer][i]
	return ok
}

// Allow reports whether piece i may be served now: it was already given to
// this peer (a re-request of a partly sent piece) or its send count is
// below the least-sent piece's count plus Slack.
func (l *Ledger[P]) Allow(peer P, i int) bool {
	if i < 0 || i >= len(l.sent) {
		return false
	}
	if _, ok := l.given[peer][i]; ok {
		return true
	}
	return l.sent[i] < l.minSent()+Slack
}

// Suggest returns the piece to advertise to peer: one that lacks(i) reports
// the peer lacks, not yet given to it, with the lowest send count. rotate
// (e.g. a hash of the peer ID) offsets the scan so ties spread over peers.
// ok is false when the peer lacks nothing we can offer.
func (l *Ledger[P]) Suggest(peer P, lacks func(int) bool, rotate int) (piece int, ok bool) {
	n := len(l.sent)
	if n == 0 {
		return 0, false
	}
	if rotate < 0 {
		rotate = -rotate
	}
	best := -1
	for k := 0; k < n; k++ {
		i := (k + rotate) % n
		if !lacks(i) {
			continue
		}
		if _, ok := l.given[peer][i]; ok {
			continue
		}
		if best < 0 || l.sent[i] < l.sent[best] {
			best = i
		}
	}
	return best, best >= 0
}
