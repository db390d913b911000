// Package scheduler moves blobs between Docket peers over the BitTorrent
// peer protocol (lib/wire). A Scheduler owns the peer listener; Seed serves
// a blob we hold, Download fetches one from peers while serving the pieces
// it has verified. Pieces are checked against the blob's SHA-256 chain
// (lib/metainfo) before they are kept or announced, written to a temp file,
// and the finished file goes to a Committer (lib/store) that checks the
// whole-blob digest, resumed from the chain when it can.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/fsutil"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/scheduler/bandwidth"
	"github.com/docket-p2p/docket/lib/scheduler/piecepicker"
	"github.com/docket-p2p/docket/lib/scheduler/superseed"
	"github.com/docket-p2p/docket/lib/wire"
)

// Committer publishes a finished blob; *store.Store satisfies it.
type Committer interface {
	Put(ctx context.Context, d core.Digest, size int64, r io.Reader) error
}

// FileCommitter is a Committer that also takes over a download's file: the pieces are written
// into a file it creates (in its own temp area), which PutFile checks and publishes by a
// rename, not a copy. *store.Store satisfies it.
type FileCommitter interface {
	Committer
	CreateTemp() (*os.File, error)
	// PutFileFrom is PutFile (check, then publish f) with g already fed f's first hashed
	// bytes.
	PutFileFrom(ctx context.Context, f *os.File, d core.Digest, size int64, g *core.Digester, hashed int64) error
}

// Scheduler runs torrents for one host.
type Scheduler struct {
	cfg   Config
	log   *slog.Logger
	scope tally.Scope
	// bytesIn and bytesOut are the byte counters by peer kind, made once: a Tagged scope
	// per block cost more CPU than the block's bookkeeping.
	bytesIn, bytesOut map[string]tally.Counter
	now               func() time.Time
	peerID            core.PeerID
	limit             *bandwidth.Limiter

	lookup Lookup
	origin bool // tell peers we are an origin (BEP 10 "docket_origin")

	mu       sync.Mutex
	torrents map[core.InfoHash]*torrent
	bans     map[core.PeerID]time.Time
	addrBans map[netip.AddrPort]time.Time // limits.go
	strikes  map[netip.AddrPort]strikes
}

// Lookup resolves an info-hash no torrent is registered for when a peer asks for it: an
// origin finds the blob in its store and the scheduler super-seeds it from then on, so a
// store of many blobs costs nothing until a peer asks. ok is false when the blob is not here.
type Lookup func(h core.InfoHash) (m *core.MetaInfo, src io.ReaderAt, ok bool)

// Option customises a Scheduler.
type Option func(*Scheduler)

// WithClock injects the clock used for bans.
func WithClock(now func() time.Time) Option { return func(s *Scheduler) { s.now = now } }

// AsOrigin marks this host as an origin in its BEP 10 handshake, so peers count its bytes
// as origin traffic.
func AsOrigin() Option { return func(s *Scheduler) { s.origin = true } }

// WithLookup super-seeds, on demand, torrents that lookup resolves (an origin).
func WithLookup(lookup Lookup) Option { return func(s *Scheduler) { s.lookup = lookup } }

// New returns a Scheduler. cfg gets ApplyDefaults and Validate.
func New(cfg Config, log *slog.Logger, scope tally.Scope, opts ...Option) (*Scheduler, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	limit, err := bandwidth.New(cfg.Bandwidth)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s := &Scheduler{
		limit: limit,
		cfg:   cfg, log: log, scope: scope, now: time.Now, peerID: core.NewPeerID(),
		torrents: make(map[core.InfoHash]*torrent),
		bans:     make(map[core.PeerID]time.Time),
		addrBans: make(map[netip.AddrPort]time.Time),
		strikes:  make(map[netip.AddrPort]strikes),
	}
	s.bytesIn, s.bytesOut = make(map[string]tally.Counter), make(map[string]tally.Counter)
	for _, kind := range []string{kindAgent, kindOrigin, kindOther} {
		tagged := scope.Tagged(map[string]string{"peer": kind})
		s.bytesIn[kind], s.bytesOut[kind] = tagged.Counter("bytes_in"), tagged.Counter("bytes_out")
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// PeerID is this host's peer id.
func (s *Scheduler) PeerID() core.PeerID { return s.peerID }

type torrent struct {
	m      *core.MetaInfo
	params wire.Params

	mu sync.Mutex
	// src holds the pieces: a download's file, then the published blob. Guarded by mu for
	// the pointer, and by srcMu, held for reading while src is read or written and for
	// writing to swap it (seal), for its use. writable is set while pieces may be
	// written to src. Lock srcMu before mu.
	src      io.ReaderAt
	srcMu    sync.RWMutex
	writable bool
	// closer is closed when the torrent is removed (the published blob DownloadAndSeed opened).
	closer io.Closer
	// dial connects to a peer for a running download (nil when seeding); dialed holds every
	// address tried or queued, pending those waiting for a dial slot, active how many
	// connections are being dialled or run, progress when a piece last verified. peersGone
	// receives when active drops to zero. stopDials ends the dialled connections, dials
	// waits for them.
	dial      func(netip.AddrPort)
	pending   []netip.AddrPort
	stopDials context.CancelFunc
	dials     sync.WaitGroup
	dialed    map[netip.AddrPort]bool
	active    int
	progress  time.Time
	peersGone chan struct{}
	// received counts the block bytes that arrived, by peer kind.
	received map[string]int64
	picker   *piecepicker.Picker[*peer]
	// originAvail counts, per piece, the connected origins holding it (the picker's
	// availability counts every peer).
	originAvail []int
	conns       map[*peer]struct{}
	// ledger is set for a super-seeding torrent (SuperSeed).
	ledger *superseed.Ledger[*peer]
	done   chan struct{}
	once   sync.Once
	// path is a download's file (empty when seeding); ended is set once the download has
	// published its blob or failed; advanced, made by a Partial view that waits, is closed
	// when the verified prefix grows or the download ends (advance).
	path     string
	ended    bool
	advanced chan struct{}
	// bufs holds piece buffers (PieceLength bytes) free for reuse: a download goes through
	// a blob's worth of them, and fresh memory for each costs page faults and GC work.
	bufs sync.Pool
}

// pieceBuf returns a buffer for piece i, its contents undefined (every block overwrites it
// before the piece is verified).
func (t *torrent) pieceBuf(i int) []byte {
	size := int(t.m.PieceSize(i))
	if b, ok := t.bufs.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:size]
	}
	return make([]byte, size, t.m.PieceLength)
}

// freePieceBuf gives back a buffer from pieceBuf that nothing refers to any more.
func (t *torrent) freePieceBuf(b []byte) { t.bufs.Put(&b) }

func (t *torrent) closeDone() { t.once.Do(func() { close(t.done) }) }

func (s *Scheduler) addTorrent(m *core.MetaInfo, src io.ReaderAt, complete bool) (*torrent, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("scheduler: metainfo: %w", err)
	}
	t := &torrent{
		m: m, params: wire.ParamsFor(m), src: src,
		picker:      piecepicker.New[*peer](m.NumPieces(), rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))),
		conns:       make(map[*peer]struct{}),
		originAvail: make([]int, m.NumPieces()),
		done:        make(chan struct{}),
		dialed:      make(map[netip.AddrPort]bool),
		peersGone:   make(chan struct{}, 1),
		received:    make(map[string]int64),
	}
	if complete {
		for i := 0; i < m.NumPieces(); i++ {
			_ = t.picker.SetHave(i)
		}
		t.closeDone()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.torrents[m.InfoHash]; ok {
		return nil, fmt.Errorf("%w: %s", ErrTorrentExists, m.InfoHash)
	}
	s.torrents[m.InfoHash] = t
	return t, nil
}

func (s *Scheduler) removeTorrent(t *torrent) {
	s.mu.Lock()
	if s.torrents[t.m.InfoHash] == t {
		delete(s.torrents, t.m.InfoHash)
	}
	s.mu.Unlock()
	t.mu.Lock()
	for p := range t.conns {
		p.c.Close()
	}
	closer := t.closer
	t.closer = nil
	t.dial = nil
	if t.stopDials != nil {
		t.stopDials()
	}
	t.mu.Unlock()
	t.dials.Wait()
	if closer != nil {
		closer.Close()
	}
}

// Seed serves m from src (all pieces present) until ctx ends or Unseed.
func (s *Scheduler) Seed(m *core.MetaInfo, src io.ReaderAt) error {
	_, err := s.addTorrent(m, src, true)
	return err
}

// SuperSeed serves m from src as its only source (an origin): a block of a
// piece is served only while that piece has left this host no more often
// than the least-sent piece (superseed.Ledger.Allow); other requests are
// rejected (BEP 6) so the peer asks for another piece. Every piece thus
// leaves once before any leaves twice and leechers trade the rest.
func (s *Scheduler) SuperSeed(m *core.MetaInfo, src io.ReaderAt) error {
	t, err := s.addTorrent(m, src, true)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.ledger = superseed.New[*peer](m.NumPieces())
	t.mu.Unlock()
	return nil
}

// Unseed stops serving the torrent and closes its connections.
func (s *Scheduler) Unseed(h core.InfoHash) {
	s.mu.Lock()
	t := s.torrents[h]
	s.mu.Unlock()
	if t != nil {
		s.removeTorrent(t)
	}
}

func (s *Scheduler) banned(a core.PeerID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return activeBan(s.bans, a, s.now())
}

// banReasons are the errors that ban a peer's id for BanDuration, by the "reason" tag of the
// peers_banned counter.
var banReasons = map[string]error{"bad_piece": ErrBadPiece, "stalled": ErrStalled, "lying": ErrLyingPeer}

func (s *Scheduler) ban(a core.PeerID, reason string) {
	s.mu.Lock()
	s.bans[a] = s.now().Add(s.cfg.BanDuration)
	s.mu.Unlock()
	s.scope.Tagged(map[string]string{"reason": reason}).Counter("peers_banned").Inc(1)
	s.log.Info("peer banned", "peer_id", a, "reason", reason, "for", s.cfg.BanDuration)
}

// Banned reports whether a peer id is currently banned. Addresses are banned
// apart (BannedAddr), and never by IP alone: several honest peers may share
// one (NAT, one host in tests).
func (s *Scheduler) Banned(id core.PeerID) bool { return s.banned(id) }

// Serve accepts peer connections on l until ctx ends.
func (s *Scheduler) Serve(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("scheduler: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.accept(ctx, nc)
		}()
	}
}

func addrOf(nc net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (s *Scheduler) accept(ctx context.Context, nc net.Conn) {
	nc = s.limit.Conn(ctx, nc)
	hctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	c, err := wire.Respond(hctx, nc, wire.DefaultReserved(), s.peerID, func(h core.InfoHash) (wire.Params, error) {
		s.mu.Lock()
		t, ok := s.torrents[h]
		s.mu.Unlock()
		if ok {
			return t.params, nil
		}
		if s.lookup != nil {
			if m, src, found := s.lookup(h); found && m.InfoHash == h {
				if err := s.SuperSeed(m, src); err != nil && !errors.Is(err, ErrTorrentExists) {
					return wire.Params{}, err
				}
				s.mu.Lock()
				t, ok = s.torrents[h]
				s.mu.Unlock()
				if ok {
					return t.params, nil
				}
			}
		}
		return wire.Params{}, fmt.Errorf("%w: %s", wire.ErrUnknownTorrent, h)
	})
	cancel()
	if err != nil {
		nc.Close()
		return
	}
	s.mu.Lock()
	t := s.torrents[c.Remote.InfoHash]
	s.mu.Unlock()
	if t == nil {
		nc.Close()
		return
	}
	_ = s.runPeer(ctx, t, c, addrOf(nc))
}

// Download fetches m from peers, serving verified pieces to others while it
// runs, and publishes the blob with dst.Put once every piece has verified.
// AddPeers hands it more peers while it runs. It fails with ErrNoPeers once
// every peer is gone, or with ErrNoProgress when no piece has verified for
// Config.ProgressTimeout.
func (s *Scheduler) Download(ctx context.Context, m *core.MetaInfo, peers []netip.AddrPort, dst Committer) error {
	return s.download(ctx, m, peers, dst, nil)
}

// Publisher publishes a finished blob and opens it again; *store.Store satisfies it.
type Publisher interface {
	Committer
	Open(d core.Digest) (*os.File, error)
}

// DownloadAndSeed is Download that keeps the torrent after the blob is
// published: it is then seeded from the published blob, without dropping the
// connections it has, until Unseed.
func (s *Scheduler) DownloadAndSeed(ctx context.Context, m *core.MetaInfo, peers []netip.AddrPort, dst Publisher) error {
	return s.download(ctx, m, peers, dst, dst)
}

func (s *Scheduler) download(ctx context.Context, m *core.MetaInfo, peers []netip.AddrPort, dst Committer, seed Publisher) error {
	start := s.now()
	fc, inPlace := dst.(FileCommitter)
	var f *os.File
	var err error
	if inPlace {
		f, err = fc.CreateTemp()
	} else {
		f, err = os.CreateTemp(s.cfg.TempDir, "docket-download-*")
	}
	if err != nil {
		return fmt.Errorf("scheduler: temp file: %w", err)
	}
	published := false
	defer func() {
		if !published {
			os.Remove(f.Name())
		}
	}()
	defer f.Close()
	if err := fsutil.Preallocate(f, m.Length); err != nil {
		return fmt.Errorf("scheduler: temp file: %w", err)
	}
	t, err := s.addTorrent(m, f, false)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.path = f.Name()
	t.mu.Unlock()
	defer t.end()
	defer t.seal(nil) // before f.Close: nothing is written to a closed file
	seeding := false
	defer func() {
		if !seeding {
			s.removeTorrent(t)
		}
	}()

	// The peers this download dials outlive ctx when it goes on seeding: they end with the
	// torrent (removeTorrent), not with the request that started it.
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.mu.Lock()
	t.stopDials = cancel
	t.writable = true
	t.progress = s.now()
	// At most maxDials connections are dialled at once; other addresses wait in t.pending.
	// The rest of MaxConnsPerTorrent is left to peers that dial in: if every host filled
	// its slots with its own dials, a host that joins late would find every peer full.
	maxDials := max(1, s.cfg.MaxConnsPerTorrent/2)
	var dialNow func(ap netip.AddrPort)
	dialNow = func(ap netip.AddrPort) {
		// Called with t.mu held.
		t.active++
		t.dials.Add(1)
		go func() {
			defer t.dials.Done()
			for attempt := 0; ; attempt++ {
				refused, err := s.dial(dctx, t, ap)
				if err == nil || dctx.Err() != nil {
					break
				}
				s.log.Debug("peer ended", "peer", ap, "err", err)
				// A peer that has just announced may not have started the torrent
				// when we knock, and closes the handshake: it is tried again a few
				// times, backing off. A peer that does not answer is not.
				if !refused || attempt+1 == dialAttempts || t.missing() == 0 {
					break
				}
				select {
				case <-time.After(dialRetry << attempt):
				case <-dctx.Done():
				}
			}
			t.mu.Lock()
			t.active--
			if len(t.pending) > 0 && t.dial != nil && dctx.Err() == nil && !t.picker.Complete() {
				next := t.pending[0]
				t.pending = t.pending[1:]
				dialNow(next)
			}
			if t.active == 0 {
				select {
				case t.peersGone <- struct{}{}:
				default:
				}
			}
			t.mu.Unlock()
		}()
	}
	t.dial = func(ap netip.AddrPort) {
		// Called with t.mu held.
		if t.dialed[ap] || dctx.Err() != nil {
			return
		}
		t.dialed[ap] = true
		if t.active >= maxDials {
			t.pending = append(t.pending, ap)
			return
		}
		dialNow(ap)
	}
	for _, ap := range peers {
		t.dial(ap)
	}
	if t.active == 0 {
		t.peersGone <- struct{}{}
	}
	t.mu.Unlock()

	tick := time.NewTicker(progressCheck(s.cfg.ProgressTimeout))
	defer tick.Stop()
	// Pieces a peer refused become askable again after refusalBackoff, which no message
	// announces: the pipelines are topped up on a timer too.
	refillTick := time.NewTicker(refusalBackoff)
	defer refillTick.Stop()
	flushTick := time.NewTicker(haveFlushInterval)
	defer flushTick.Stop()
	for done := false; !done; {
		select {
		case <-t.done:
			t.flushQueued()
			done = true
		case <-flushTick.C:
			t.flushQueued()
		case <-refillTick.C:
			t.mu.Lock()
			var reqs map[*peer][]wire.Message
			if t.picker.Endgame() {
				// Not an origin in endgame: what is left is in flight with peers already,
				// and a duplicate from the origin is one more copy of its egress.
				reqs = t.refillExcept(kindOrigin)
			} else {
				reqs = t.refill()
			}
			t.mu.Unlock()
			sendAll(reqs)
		case <-ctx.Done():
			return ctx.Err()
		case <-t.peersGone:
			t.mu.Lock()
			gone := t.active == 0 && !t.picker.Complete()
			missing := t.picker.Missing()
			t.mu.Unlock()
			if gone {
				return fmt.Errorf("%w: %d of %d pieces missing", ErrNoPeers, missing, m.NumPieces())
			}
		case <-tick.C:
			t.mu.Lock()
			idle := s.now().Sub(t.progress)
			missing := t.picker.Missing()
			t.mu.Unlock()
			if idle >= s.cfg.ProgressTimeout && missing > 0 {
				return fmt.Errorf("%w: %d of %d pieces missing after %s", ErrNoProgress, missing, m.NumPieces(), idle)
			}
		}
	}
	// Peers are served from a handle of its own while the file is committed, which may
	// close f; renamed into the store, it is still the same file.
	rd, err := os.Open(f.Name())
	if err != nil {
		return fmt.Errorf("scheduler: reopen %s: %w", f.Name(), err)
	}
	t.seal(rd)
	defer func() {
		if !seeding {
			rd.Close()
		}
	}()
	if inPlace {
		// Every piece verified by the SHA-256 chain: the store resumes the digest from the
		// chain before the last piece and checks it over the last piece as it is on disk
		// (over the whole file for a blob whose digest is not the chain's SHA-256).
		var g *core.Digester
		var hashed int64
		if g, hashed, err = metainfo.ResumeDigester(m); err == nil {
			err = fc.PutFileFrom(ctx, f, m.Digest, m.Length, g, hashed)
		}
		published = err == nil
	} else {
		err = dst.Put(ctx, m.Digest, m.Length, io.NewSectionReader(f, 0, m.Length))
	}
	if err != nil {
		return fmt.Errorf("scheduler: commit %s: %w", m.Digest, err)
	}
	s.scope.Timer("download_time").Record(s.now().Sub(start))
	if seed != nil {
		pub, err := seed.Open(m.Digest)
		if err != nil {
			return fmt.Errorf("scheduler: open %s to seed: %w", m.Digest, err)
		}
		t.seal(pub)
		rd.Close()
		t.mu.Lock()
		t.closer, t.dial = pub, nil
		t.mu.Unlock()
		seeding = true
	}
	return nil
}

// seal ends the writing of pieces, once the reads and writes in flight are done, and makes
// src, unless nil, the torrent's pieces from then on.
func (t *torrent) seal(src io.ReaderAt) {
	t.srcMu.Lock()
	defer t.srcMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if src != nil {
		t.src = src
	}
	t.writable = false
}

// progressCheck is how often a download looks for progress: often enough to notice a stall
// within a tenth of the timeout.
func progressCheck(timeout time.Duration) time.Duration {
	return max(timeout/10, 10*time.Millisecond)
}

// Received returns the bytes torrent h has received so far, by the kind of peer they came from
// ("agent", "origin", "other"); nil when h is not active here. After DownloadAndSeed it reports
// the whole download until Unseed.
func (s *Scheduler) Received(h core.InfoHash) map[string]int64 {
	s.mu.Lock()
	t := s.torrents[h]
	s.mu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.received)
}

// AddPeers hands more peers to the running download of h (from a re-announce); addresses it
// has already tried are skipped. It does nothing when h is not downloading here.
func (s *Scheduler) AddPeers(h core.InfoHash, peers []netip.AddrPort) {
	s.mu.Lock()
	t := s.torrents[h]
	s.mu.Unlock()
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dial == nil {
		return
	}
	for _, ap := range peers {
		t.dial(ap)
	}
}

func (t *torrent) missing() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.picker.Missing()
}

// A download tries a peer that refused the handshake dialAttempts times, waiting dialRetry,
// then twice that, and so on, in between.
const (
	dialAttempts = 4
	dialRetry    = 250 * time.Millisecond
)

// dial connects to ap and runs the peer until it ends; refused reports that ap took the
// connection but not the handshake (it may not have started the torrent yet).
func (s *Scheduler) dial(ctx context.Context, t *torrent, ap netip.AddrPort) (refused bool, err error) {
	if s.BannedAddr(ap) {
		return false, fmt.Errorf("%w: %s", ErrBanned, ap)
	}
	var d net.Dialer
	hctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	nc, err := d.DialContext(hctx, "tcp", ap.String())
	if err != nil {
		return false, fmt.Errorf("scheduler: dial %s: %w", ap, err)
	}
	nc = s.limit.Conn(ctx, nc)
	c, err := wire.Initiate(hctx, nc, wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: t.m.InfoHash, PeerID: s.peerID}, t.params)
	if err != nil {
		nc.Close()
		// A peer that let the handshake time out is not knocked on again.
		return hctx.Err() == nil, fmt.Errorf("scheduler: handshake %s: %w", ap, err)
	}
	err = s.runPeer(ctx, t, c, ap.Addr().Unmap())
	s.strike(ap, err)
	return false, err
}

var errTooManyConns = errors.New("scheduler: connection limit reached")
