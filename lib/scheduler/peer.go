package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/wire"
)

// Peer kinds, the "peer" tag of the byte counters.
const (
	kindAgent  = "agent"
	kindOrigin = "origin"
	kindOther  = "other"
)

// clientVersion is the "v" of Docket's BEP 10 handshake; a peer sending it is a Docket agent
// unless it also sets the origin flag.
const clientVersion = "Docket"

// partial is a piece being assembled from one peer's blocks.
type partial struct {
	buf       []byte
	got       []bool
	received  int
	requested int // blocks [0, requested) have been asked for
}

type peer struct {
	s    *Scheduler
	t    *torrent
	c    *wire.Conn
	addr netip.Addr

	wmu sync.Mutex // serialises writes on c.W; what it holds between writes, queue buffered
	up  uploads    // the peer's requests waiting to be served (limits.go)

	// kind is what the peer said it is in its BEP 10 handshake (kindAgent, kindOrigin), else
	// kindOther; it tags the byte counters. Guarded by t.mu.
	kind string

	// Guarded by t.mu.
	bits        *wire.Bits
	pieces      map[int]*partial
	outstanding int
	choked      bool
	// refused holds the pieces the peer refused (BEP 6 reject), each until it is asked for
	// again; lies counts those it had claimed and refused while unchoking us.
	refused map[int]time.Time
	lies    int
	// rate is what the peer has been sending us, in bytes per second (0 until measured),
	// over windows of rateWindow: window bytes since windowStart.
	rate        float64
	window      int64
	windowStart time.Time
}

// rateWindow is how long a peer's block bytes are counted before its rate is updated.
const rateWindow = 500 * time.Millisecond

// requestLatencyTarget is how much of a peer's sending the requests kept in flight to an
// origin or a stock client cover (depth): enough to keep its link busy through round trips
// and queueing, and no more, because a shared origin serves its peers' queues side by side,
// so every block queued there delays every piece it sends. Measured with bench swarm (tc,
// N=20, 128 MiB, 8 MiB/s): with 32 requests per agent in flight to the origin, a piece took
// 1.15 s on average from request to arrival and the last agent had its last piece 1.6 s
// after the origin sent its own last; with 8, 0.56 s and 1.2 s, and p99 lower in four
// alternating runs of four (1.28-1.33 against 1.29-1.36).
const requestLatencyTarget = 250 * time.Millisecond

// measure counts n block bytes from the peer towards its rate. Called with t.mu held.
func (p *peer) measure(n int) {
	now := p.s.now()
	if p.windowStart.IsZero() {
		p.windowStart = now
	}
	p.window += int64(n)
	if d := now.Sub(p.windowStart); d >= rateWindow {
		r := float64(p.window) / d.Seconds()
		if p.rate > 0 {
			r = (p.rate + r) / 2
		}
		p.rate, p.window, p.windowStart = r, 0, now
	}
}

// refusalBackoff is how long a peer is not asked again for a piece it refused: a super-seeding
// origin refuses what others already hold, and asking again at once would only be refused.
const refusalBackoff = 500 * time.Millisecond

// maxLies is how many pieces a peer other than an origin may refuse while claiming them and
// unchoking us before it is dropped and banned (ErrLyingPeer): a Docket agent only claims
// what it serves, and a stock client only rejects what it has once it chokes.
const maxLies = 4

// send writes msgs, after whatever queue left in the buffer, and flushes.
func (p *peer) send(msgs ...wire.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.write(msgs)
}

// write encodes msgs and flushes the buffer; called with wmu held.
func (p *peer) write(msgs []wire.Message) error {
	// A peer that takes nothing for StallTimeout is stalled as surely as one that sends
	// nothing: the write fails rather than hold up the goroutine sending (often another
	// peer's reader, broadcasting a have).
	if err := p.c.SetWriteDeadline(time.Now().Add(p.s.cfg.StallTimeout)); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := p.c.W.WriteMessage(m); err != nil {
			return err
		}
	}
	return p.c.W.Flush()
}

// queueRoom is the most a message given to queue takes encoded (a have takes 9 bytes).
const queueRoom = 17

// haveFlushInterval is the longest a queued message waits: a download flushes every
// connection's queue this often (torrent.flushQueued), and any send flushes it sooner.
const haveFlushInterval = 50 * time.Millisecond

// queue buffers msgs without a write: a finished piece is announced to every connection,
// and a write(2) and a TCP segment per have per peer cost the hosts more CPU than the
// pieces' data did. A buffer without room for them sends at once.
func (p *peer) queue(msgs ...wire.Message) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.c.W.Available() < queueRoom*len(msgs) {
		return p.write(msgs)
	}
	for _, m := range msgs {
		if err := p.c.W.WriteMessage(m); err != nil {
			return err
		}
	}
	return nil
}

// flushQueued starts sending what queue buffered, if anything, without waiting for it: a
// peer that takes nothing must not hold up the download's loop for StallTimeout. A writer
// already held is left alone: whoever holds it sends the queue along, or (queue) leaves it
// for the next flush.
func (p *peer) flushQueued() {
	if !p.wmu.TryLock() {
		return
	}
	if p.c.W.Buffered() == 0 { // every write flushes: what is buffered was queued
		p.wmu.Unlock()
		return
	}
	go func() {
		defer p.wmu.Unlock()
		if err := p.write(nil); err != nil {
			p.c.Close()
		}
	}()
}

// flushQueued flushes every connection's queued messages (peer.flushQueued).
func (t *torrent) flushQueued() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for q := range t.conns {
		q.flushQueued()
	}
}

func (s *Scheduler) runPeer(ctx context.Context, t *torrent, c *wire.Conn, addr netip.Addr) error {
	defer c.Close()
	if s.banned(c.Remote.PeerID) {
		return fmt.Errorf("scheduler: peer %s at %s is banned", c.Remote.PeerID, addr)
	}
	stop := wire.BindContext(ctx, c.Conn)
	defer stop()
	p := &peer{s: s, t: t, c: c, addr: addr, bits: wire.NewBits(t.m.NumPieces()), pieces: make(map[int]*partial), choked: true, kind: kindOther}

	// The hello goes out before anything another goroutine sends p (a have) once p is in
	// t.conns: p's writer is held from here until it is written.
	p.wmu.Lock()
	t.mu.Lock()
	if len(t.conns) >= s.cfg.MaxConnsPerTorrent {
		t.mu.Unlock()
		p.wmu.Unlock()
		return errTooManyConns
	}
	t.conns[p] = struct{}{}
	var hello []wire.Message
	if c.ExtensionProtocol {
		// A super-seeding host says it is an origin, whatever it is: it refuses pieces
		// others hold, so its peers must ask it last and not take refusals for lies.
		eh, err := wire.ExtendedHandshake{V: clientVersion, Origin: s.origin || t.ledger != nil, Reqq: maxRequestQueue}.Marshal()
		if err == nil {
			hello = append(hello, wire.Message{ID: wire.Extended, ExtendedID: wire.ExtendedHandshakeID, Payload: eh})
		}
	}
	if t.picker.Complete() && c.Fast {
		hello = append(hello, wire.Message{ID: wire.HaveAll})
	} else {
		bf := wire.NewBits(t.m.NumPieces())
		for i := 0; i < t.m.NumPieces(); i++ {
			if t.picker.Have(i) {
				bf.Set(i)
			}
		}
		hello = append(hello, wire.Message{ID: wire.Bitfield, Payload: bf.Bitfield()})
	}
	if !t.picker.Complete() {
		hello = append(hello, wire.Message{ID: wire.Interested})
	}
	t.mu.Unlock()
	// Docket peers do no tit-for-tat: every connected peer is unchoked.
	hello = append(hello, wire.Message{ID: wire.Unchoke})

	defer func() {
		t.mu.Lock()
		t.picker.RemovePeer(p, p.bits)
		if p.kind == kindOrigin {
			for i := range t.originAvail {
				if p.bits.Has(i) {
					t.originAvail[i]--
				}
			}
		}
		if t.ledger != nil {
			t.ledger.Forget(p)
		}
		delete(t.conns, p)
		// What p had in flight, and what only p held apart from origins, is now for the
		// others to fetch; an idle peer would otherwise not ask until it next sends something.
		reqs := t.refill()
		t.mu.Unlock()
		sendAll(reqs)
	}()
	err := p.write(hello)
	p.wmu.Unlock()
	if err != nil {
		return err
	}
	stopUploads := p.startUploads()
	err = p.loop()
	stopUploads()
	if ctx.Err() != nil {
		// This side ended the connection (shutdown, a download's end): its context set the
		// deadline that ended the read, which is no fault of the peer's.
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	for reason, e := range banReasons {
		if errors.Is(err, e) {
			s.ban(c.Remote.PeerID, reason)
		}
	}
	return err
}

func (p *peer) loop() error {
	for {
		p.t.mu.Lock()
		waiting := p.outstanding > 0
		p.t.mu.Unlock()
		var deadline time.Time
		if waiting {
			deadline = time.Now().Add(p.s.cfg.StallTimeout)
		}
		if err := p.c.SetReadDeadline(deadline); err != nil {
			return err
		}
		m, err := p.c.R.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("%w: %s", ErrStalled, p.addr)
			}
			return err
		}
		if m.KeepAlive {
			continue
		}
		if err := p.handle(m); err != nil {
			return err
		}
	}
}

func (p *peer) handle(m wire.Message) error {
	t := p.t
	switch m.ID {
	case wire.Bitfield, wire.HaveAll, wire.Have:
		t.mu.Lock()
		var nb *wire.Bits
		switch m.ID {
		case wire.Bitfield:
			b, err := wire.BitsFromBitfield(m.Payload, t.m.NumPieces())
			if err != nil {
				t.mu.Unlock()
				return err
			}
			nb = b
		case wire.HaveAll:
			nb = wire.NewBits(t.m.NumPieces())
			nb.SetAll()
		}
		if nb == nil { // Have: one piece, not a pass over all of them per 9-byte message
			if i := int(m.Index); !p.bits.Has(i) {
				p.has(i)
			}
		}
		for i := 0; nb != nil && i < t.m.NumPieces(); i++ {
			if nb.Has(i) && !p.bits.Has(i) {
				p.has(i)
			}
		}
		reqs := p.fill()
		t.mu.Unlock()
		return p.send(reqs...)
	case wire.Unchoke:
		t.mu.Lock()
		p.choked = false
		reqs := p.fill()
		t.mu.Unlock()
		return p.send(reqs...)
	case wire.Choke:
		t.mu.Lock()
		p.choked = true
		t.mu.Unlock()
	case wire.Extended:
		if m.ExtendedID != wire.ExtendedHandshakeID {
			return nil
		}
		eh, err := wire.UnmarshalExtendedHandshake(m.Payload)
		if err != nil {
			return err
		}
		t.mu.Lock()
		switch {
		case eh.Origin:
			p.kind = kindOrigin
		case eh.V == clientVersion:
			p.kind = kindAgent
		}
		t.mu.Unlock()
	case wire.Request:
		return p.queueRequest(m)
	case wire.Cancel:
		p.up.cancelled(m)
	case wire.Piece:
		return p.block(m)
	case wire.RejectRequest:
		t.mu.Lock()
		i, j := int(m.Index), int(m.Begin/wire.BlockSize)
		if pp := p.pieces[i]; pp != nil && j < pp.requested && !pp.got[j] {
			delete(p.pieces, i)
			p.outstanding -= pp.requested - pp.received
			t.picker.Release(p, i)
			if p.refused == nil {
				p.refused = make(map[int]time.Time)
			}
			p.refused[i] = p.s.now().Add(refusalBackoff)
			if p.kind != kindOrigin && !p.choked && p.bits.Has(i) {
				p.lies++
			}
		}
		lying := p.lies >= maxLies
		// The released piece may now go to another peer, idle or not.
		reqs := t.refill()
		t.mu.Unlock()
		err := sendAll(reqs)[p]
		if lying {
			return fmt.Errorf("%w: %s refused %d pieces it claimed", ErrLyingPeer, p.addr, p.lies)
		}
		return err
	}
	return nil
}

// refill tops up every connected peer's pipeline: after a piece is released or a peer leaves,
// peers with nothing in flight would otherwise wait for a message of their own that may never
// come (a seeder that has sent everything sends nothing more). Called with t.mu held; the
// requests are sent with sendAll once it is released.
func (t *torrent) refill() map[*peer][]wire.Message { return t.refillExcept("") }

// refillExcept is refill that leaves out peers of the given kind.
func (t *torrent) refillExcept(kind string) map[*peer][]wire.Message {
	if t.picker.Complete() {
		return nil
	}
	var out map[*peer][]wire.Message
	for q := range t.conns {
		if q.kind == kind {
			continue
		}
		if reqs := q.fill(); len(reqs) > 0 {
			if out == nil {
				out = make(map[*peer][]wire.Message)
			}
			out[q] = reqs
		}
	}
	return out
}

// sendAll sends each peer its messages and returns the errors by peer; a peer whose write
// failed is closed, so its reader ends too.
func sendAll(msgs map[*peer][]wire.Message) map[*peer]error {
	var errs map[*peer]error
	for q, m := range msgs {
		if err := q.send(m...); err != nil {
			q.c.Close()
			if errs == nil {
				errs = make(map[*peer]error)
			}
			errs[q] = err
		}
	}
	return errs
}

// has records that the peer holds piece i (which it did not); called with t.mu held.
func (p *peer) has(i int) {
	p.bits.Set(i)
	_ = p.t.picker.PeerHas(i)
	if p.kind == kindOrigin {
		p.t.originAvail[i]++
	}
}

// fill tops the pipeline up to PipelineDepth (AgentPipelineDepth to a Docket agent); called
// with t.mu held.
func (p *peer) fill() []wire.Message {
	t := p.t
	if p.choked {
		return nil
	}
	var reqs []wire.Message
	bits := p.askable()
	depth := p.depth()
	for p.outstanding < depth {
		var idx = -1
		for i, pp := range p.pieces {
			if pp.requested < len(pp.got) {
				idx = i
				break
			}
		}
		if idx < 0 {
			var only func(int) bool
			if p.kind == kindOrigin {
				// An origin is the last resort: what a peer already holds is
				// fetched from that peer, so the origin sends little more than one
				// copy (endgame aside, where any holder will do).
				only = func(i int) bool { return t.picker.Availability(i) == t.originAvail[i] }
			}
			var picked []int
			if p.kind == kindOrigin {
				// Roughly in order from an origin, so the swarm's pieces come out of it,
				// and reach every agent, in order too, and a pull served from a download
				// (Partial) gets its bytes while the download runs.
				picked = t.picker.PickNearFront(p, bits, piecesPerPick, only, originWindow(t.m.NumPieces()))
			} else {
				picked = t.picker.PickOnly(p, bits, piecesPerPick, only)
			}
			if len(picked) == 0 {
				break
			}
			for _, i := range picked {
				size := t.m.PieceSize(i)
				p.pieces[i] = &partial{buf: t.pieceBuf(i), got: make([]bool, wire.BlockCount(size))}
			}
			continue
		}
		pp := p.pieces[idx]
		begin, length := wire.Block(int64(len(pp.buf)), pp.requested)
		reqs = append(reqs, wire.Message{ID: wire.Request, Index: uint32(idx), Begin: begin, Length: length})
		pp.requested++
		p.outstanding++
	}
	return reqs
}

// depth is how many block requests p is kept busy with: AgentPipelineDepth to a Docket
// agent; to others, what p has been sending us in requestLatencyTarget, between
// AgentPipelineDepth and PipelineDepth (PipelineDepth until measured). An origin serving
// many agents at once sends each a small share, so each keeps few requests queued there;
// one serving a single agent, or a fast link, gets the full depth. Called with t.mu held.
func (p *peer) depth() int {
	cfg := p.s.cfg
	if p.kind == kindAgent {
		return cfg.AgentPipelineDepth
	}
	if p.rate == 0 {
		return cfg.PipelineDepth
	}
	want := int(math.Ceil(p.rate * requestLatencyTarget.Seconds() / wire.BlockSize))
	return max(min(want, cfg.PipelineDepth), min(cfg.AgentPipelineDepth, cfg.PipelineDepth))
}

// askable is the pieces p may be asked for: those it holds, less those it refused lately.
// Called with t.mu held.
func (p *peer) askable() *wire.Bits {
	if len(p.refused) == 0 {
		return p.bits
	}
	now := p.s.now()
	bits := p.bits.Clone()
	for i, until := range p.refused {
		if now.After(until) {
			delete(p.refused, i)
		} else {
			bits.Clear(i)
		}
	}
	return bits
}

// heldElsewhere reports whether a peer connected to this torrent other than p announced
// piece i or is being sent it by this seeder. Call with t.mu held.
func (p *peer) heldElsewhere(i int) bool {
	for q := range p.t.conns {
		if q != p && (q.bits != nil && q.bits.Has(i) || p.t.ledger != nil && p.t.ledger.Given(q, i)) {
			return true
		}
	}
	return false
}

// serve answers the peer's requests ms with one write: a block each, or a refusal for one
// cancelled while it waited (up.take) or not served (read).
// Blocks are read into p.up.bufs, free again once the write returns.
func (p *peer) serve(ms []wire.Message) error {
	out := make([]wire.Message, 0, len(ms))
	var kind string
	var sent int64
	for i, m := range ms {
		var buf []byte
		if !p.up.take(m) {
			var err error
			if buf, kind, err = p.read(m, p.up.bufs[i]); err != nil {
				return err
			}
		}
		switch {
		case buf != nil:
			out = append(out, wire.Message{ID: wire.Piece, Index: m.Index, Begin: m.Begin, Payload: buf})
			sent += int64(len(buf))
		case p.c.Fast:
			// The fast extension (BEP 6) asks that every request be answered.
			out = append(out, wire.Message{ID: wire.RejectRequest, Index: m.Index, Begin: m.Begin, Length: m.Length})
		}
	}
	if err := p.send(out...); err != nil {
		return err
	}
	if sent > 0 {
		p.s.bytesOut[kind].Inc(sent)
	}
	return nil
}

// read reads the block request m asks for into dst (of at least wire.BlockSize bytes) and
// returns it, or nil when it is refused (a piece not held, or held back by super-seeding);
// kind is the peer's kind for the byte counters.
func (p *peer) read(m wire.Message, dst []byte) (buf []byte, kind string, err error) {
	t := p.t
	t.srcMu.RLock() // src stays open until the block is read
	defer t.srcMu.RUnlock()
	t.mu.Lock()
	have := t.picker.Have(int(m.Index))
	src, kind := t.src, p.kind
	if have && t.ledger != nil && p.c.Fast {
		// A piece beyond the ledger's spread is still served when no connected peer
		// holds it or is being sent it: those that took it may have left without
		// passing it on, and a refusal would then stall the download for good.
		if have = t.ledger.Allow(p, int(m.Index)) || !p.heldElsewhere(int(m.Index)); have {
			_ = t.ledger.Record(p, int(m.Index))
		}
	}
	t.mu.Unlock()
	if !have || m.Length > wire.BlockSize {
		return nil, kind, nil
	}
	buf = dst[:m.Length]
	off := int64(m.Index)*t.m.PieceLength + int64(m.Begin)
	if _, err := src.ReadAt(buf, off); err != nil {
		return nil, kind, fmt.Errorf("scheduler: read piece %d: %w", m.Index, err)
	}
	return buf, kind, nil
}

func (p *peer) block(m wire.Message) error {
	t := p.t
	idx := int(m.Index)
	t.mu.Lock()
	p.s.bytesIn[p.kind].Inc(int64(len(m.Payload)))
	t.received[p.kind] += int64(len(m.Payload))
	if p.kind != kindAgent { // only depth towards others follows the rate
		p.measure(len(m.Payload))
	}
	pp := p.pieces[idx]
	j := int(m.Begin / wire.BlockSize)
	if pp == nil || m.Begin%wire.BlockSize != 0 || j >= len(pp.got) || j >= pp.requested || pp.got[j] {
		// Unrequested, cancelled or duplicate block: ignore it.
		t.mu.Unlock()
		return nil
	}
	begin, length := wire.Block(int64(len(pp.buf)), j)
	if begin != m.Begin || int(length) != len(m.Payload) {
		t.mu.Unlock()
		return fmt.Errorf("scheduler: block %d/%d has length %d, want %d", idx, j, len(m.Payload), length)
	}
	copy(pp.buf[begin:], m.Payload)
	pp.got[j] = true
	pp.received++
	p.outstanding--
	if pp.received < len(pp.got) {
		var reqs []wire.Message
		if p.depth()-p.outstanding >= p.depth()/2 {
			// Requests go out by half a pipeline at a time, not one per block
			// received: a write(2) and a segment each way per 17-byte request cost the
			// hosts more than the few blocks the pipeline runs shallower.
			reqs = p.fill()
		}
		t.mu.Unlock()
		return p.send(reqs...)
	}
	delete(p.pieces, idx)
	t.mu.Unlock()

	err := metainfo.VerifyPiece(t.m, idx, pp.buf)
	if err != nil {
		t.freePieceBuf(pp.buf)
		p.s.scope.Counter("pieces_failed").Inc(1)
		t.mu.Lock()
		t.picker.Release(p, idx)
		t.mu.Unlock()
		return fmt.Errorf("%w: piece %d from %s: %v", ErrBadPiece, idx, p.addr, err)
	}
	err = t.write(idx, pp.buf)
	t.freePieceBuf(pp.buf) // written (copied) or not, nothing refers to it now
	if err != nil {
		t.mu.Lock()
		t.picker.Release(p, idx)
		t.mu.Unlock()
		return err
	}
	p.s.scope.Counter("pieces_verified").Inc(1)

	t.mu.Lock()
	t.progress = p.s.now()
	front := t.picker.Front()
	others, _ := t.picker.Done(idx)
	if t.picker.Front() != front {
		t.advance()
	}
	cancels := make(map[*peer][]wire.Message)
	for _, q := range others {
		if q == p {
			continue
		}
		if qp := q.pieces[idx]; qp != nil {
			for b := 0; b < qp.requested; b++ {
				if !qp.got[b] {
					bg, ln := wire.Block(int64(len(qp.buf)), b)
					cancels[q] = append(cancels[q], wire.Message{ID: wire.Cancel, Index: uint32(idx), Begin: bg, Length: ln})
				}
			}
			q.outstanding -= qp.requested - qp.received
			delete(q.pieces, idx)
		}
	}
	// The have goes at once to origins (a super-seeding origin spreads pieces by them), to p
	// and to peers with cancels; the other peers get it with their next message or within
	// haveFlushInterval. A Docket agent that holds the piece is not told: it asks no one for
	// it, and agents all unchoke each other, so interest is no reason either.
	have := wire.Message{ID: wire.Have, Index: uint32(idx)}
	msgs := make(map[*peer][]wire.Message, len(cancels)+1)
	var later []*peer
	for q := range t.conns {
		switch {
		case cancels[q] != nil:
			msgs[q] = append(cancels[q], have)
		case q.kind == kindAgent && q.bits.Has(idx):
		case q == p || q.kind == kindOrigin:
			msgs[q] = []wire.Message{have}
		default:
			later = append(later, q)
		}
	}
	msgs[p] = append(msgs[p], p.fill()...)
	complete := t.picker.Complete()
	t.mu.Unlock()
	for _, q := range later {
		if err := q.queue(have); err != nil {
			q.c.Close()
		}
	}
	if complete {
		// After the queueing, so the download's last flush takes these haves too.
		t.closeDone()
	}
	return sendAll(msgs)[p]
}

// write stores verified piece idx in the download file, unless it is already there (an
// endgame duplicate) or the file has been sealed for commit (seal).
func (t *torrent) write(idx int, buf []byte) error {
	t.srcMu.RLock()
	defer t.srcMu.RUnlock()
	t.mu.Lock()
	w, ok := t.src.(interface {
		WriteAt([]byte, int64) (int, error)
	})
	ok = ok && t.writable && !t.picker.Have(idx)
	t.mu.Unlock()
	if !ok {
		return nil
	}
	off := int64(idx) * t.m.PieceLength
	// The write-out is left to the kernel and the fsync that publishes the blob: starting it
	// piece by piece (sync_file_range) cost more CPU than the pwrite itself with 40 agents
	// on two cores, and a pull no longer waits for the publish (see Partial).
	if _, err := w.WriteAt(buf, off); err != nil {
		return fmt.Errorf("scheduler: write piece %d: %w", idx, err)
	}
	return nil
}

// originWindow is how many pieces count as equally near the front when picking from an
// origin: a quarter of the blob, at least 64, so that agents asking the origin at once seldom
// ask it for the same piece (a refusal costs a round trip).
func originWindow(numPieces int) int { return max(64, numPieces/4) }
