package scheduler

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/docket-p2p/docket/lib/wire"
)

// Limits on what one peer can make this host hold or do.
const (
	// maxRequestQueue is how many of a peer's block requests wait to be served at most
	// (wire.MaxRequestQueue, 16 bytes each); a request beyond it is rejected (BEP 6) or, on a
	// connection without the fast extension, ends the connection (errRequestFlood). Requests
	// are served by one goroutine per peer, so a flood costs a bounded queue, never memory
	// that grows with what the peer sends.
	maxRequestQueue = wire.MaxRequestQueue
	// maxAddrStrikes is how many offences (a bad piece, a protocol violation, a request
	// flood, a stall) from one listening address, within BanDuration, ban that address for
	// BanDuration whatever peer id it shows next.
	maxAddrStrikes = 3
)

// uploadBatch is how many waiting requests the uploader answers with one write: about what
// the connection's write buffer holds (wire's writeBufferSize, four blocks).
const uploadBatch = 4

// errRequestFlood ends a connection without the fast extension whose peer has more than
// maxRequestQueue requests waiting.
var errRequestFlood = errors.New("scheduler: peer exceeded the request queue")

// ErrBanned is returned when dialling an address that is banned.
var ErrBanned = errors.New("scheduler: peer banned")

// uploads serves a peer's requests in arrival order from a bounded queue, so that reading
// the peer's messages (its blocks for us, its cancels) never waits on writing blocks to it.
// A request the peer cancels while it waits is not served: in endgame a peer asks several
// others for the same blocks and cancels the rest once one has arrived, and serving them
// anyway would spend the link on blocks nobody wants.
type uploads struct {
	queue chan wire.Message
	wg    sync.WaitGroup
	bufs  [uploadBatch][]byte // the uploader's block buffers, one per request of a batch

	mu     sync.Mutex
	queued map[blockRef]int // requests in the queue, by block (a peer may repeat one)
	cancel map[blockRef]int // how many of those the peer cancelled
}

// blockRef names one requested block.
type blockRef struct{ index, begin, length uint32 }

func refOf(m wire.Message) blockRef { return blockRef{m.Index, m.Begin, m.Length} }

// cancelled records that the peer cancelled request m; a cancel for a request not waiting
// (served already, or never made) is ignored.
func (u *uploads) cancelled(m wire.Message) {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := refOf(m)
	if u.cancel[r] < u.queued[r] {
		u.cancel[r]++
	}
}

// take removes m from the waiting requests and reports whether it was cancelled meanwhile.
func (u *uploads) take(m wire.Message) (cancelled bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := refOf(m)
	if u.queued[r]--; u.queued[r] <= 0 {
		delete(u.queued, r)
	}
	if u.cancel[r] > 0 {
		if u.cancel[r]--; u.cancel[r] == 0 {
			delete(u.cancel, r)
		}
		return true
	}
	return false
}

// startUploads starts p's uploader; the returned stop ends it (closing the connection so a
// write blocked on a peer that does not read returns) and waits for it.
func (p *peer) startUploads() (stop func()) {
	p.up.queue = make(chan wire.Message, maxRequestQueue)
	p.up.queued, p.up.cancel = make(map[blockRef]int), make(map[blockRef]int)
	for i := range p.up.bufs {
		p.up.bufs[i] = make([]byte, wire.BlockSize)
	}
	p.up.wg.Go(func() {
		batch := make([]wire.Message, 0, uploadBatch)
		for m := range p.up.queue {
			batch = append(batch[:0], m)
		more:
			for len(batch) < uploadBatch {
				select {
				case m, ok := <-p.up.queue:
					if !ok {
						break more
					}
					batch = append(batch, m)
				default:
					break more
				}
			}
			if err := p.serve(batch); err != nil {
				p.c.Close()
				for range p.up.queue { // drain until the reader stops
				}
				return
			}
		}
	})
	return func() {
		close(p.up.queue)
		p.c.Close()
		p.up.wg.Wait()
	}
}

// queueRequest queues a request for the uploader, or refuses it when the queue is full.
func (p *peer) queueRequest(m wire.Message) error {
	p.up.mu.Lock()
	p.up.queued[refOf(m)]++ // before the uploader can take it
	p.up.mu.Unlock()
	select {
	case p.up.queue <- m:
		return nil
	default:
	}
	p.up.take(m)
	p.s.scope.Counter("requests_refused").Inc(1)
	if p.c.Fast {
		return p.send(wire.Message{ID: wire.RejectRequest, Index: m.Index, Begin: m.Begin, Length: m.Length})
	}
	return fmt.Errorf("%w: more than %d requests waiting", errRequestFlood, maxRequestQueue)
}

// Address bans. A peer's id is its own choice: one that misbehaves can pick a new id for its
// next connection. Bans therefore also apply to the listening address (ip, port) we dialled —
// the address the tracker hands out, which the peer cannot change as cheaply — once it has
// misbehaved maxAddrStrikes times. Never the IP alone: several honest peers share one (NAT,
// every peer of a test on 127.0.0.1). An incoming connection's port is ephemeral, so incoming
// peers are banned by id only.

type strikes struct {
	n     int
	since time.Time
}

// offence reports whether err ends a connection for misbehaviour rather than for I/O or a
// normal end.
func offence(err error) bool {
	for _, e := range []error{ErrBadPiece, ErrStalled, ErrLyingPeer, errRequestFlood,
		wire.ErrMessageTooLarge, wire.ErrMalformed, wire.ErrOutOfRange, wire.ErrBlockTooLarge,
		wire.ErrNotNegotiated, wire.ErrExtendedHandshake} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// strike records err against the listening address ap if it is an offence, and bans ap on
// its maxAddrStrikes-th offence within BanDuration.
func (s *Scheduler) strike(ap netip.AddrPort, err error) {
	if !offence(err) {
		return
	}
	now := s.now()
	s.mu.Lock()
	st := s.strikes[ap]
	if now.Sub(st.since) > s.cfg.BanDuration {
		st = strikes{since: now}
	}
	st.n++
	banned := st.n >= maxAddrStrikes
	if banned {
		delete(s.strikes, ap)
		s.addrBans[ap] = now.Add(s.cfg.BanDuration)
	} else {
		s.strikes[ap] = st
	}
	s.mu.Unlock()
	if banned {
		s.scope.Counter("addresses_banned").Inc(1)
		s.log.Info("peer address banned", "addr", ap, "strikes", maxAddrStrikes, "last", err)
	}
}

// BannedAddr reports whether the listening address ap is banned (see strike).
func (s *Scheduler) BannedAddr(ap netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return activeBan(s.addrBans, ap, s.now())
}

// activeBan reports whether bans holds a ban of k in force at now, forgetting it once expired.
func activeBan[K comparable](bans map[K]time.Time, k K, now time.Time) bool {
	until, ok := bans[k]
	if ok && now.After(until) {
		delete(bans, k)
		return false
	}
	return ok
}
