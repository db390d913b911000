package scheduler

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/internal/bttest"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/scheduler/bandwidth"
	"github.com/docket-p2p/docket/lib/store"
	"github.com/docket-p2p/docket/lib/wire"
)

const testPieceLength = 64 << 10

type node struct {
	s     *Scheduler
	addr  netip.AddrPort
	store *store.Store
	scope tally.TestScope
	stop  func()
}

func startNode(t *testing.T, cfg Config, opts ...Option) *node {
	t.Helper()
	cfg.TempDir = t.TempDir()
	scope := tally.NewTestScope("", nil)
	s, err := New(cfg, slog.New(slog.DiscardHandler), scope, opts...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, l) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	st, err := store.New(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &node{s: s, addr: netip.MustParseAddrPort(l.Addr().String()), store: st, scope: scope, stop: stop}
}

func blob(t *testing.T, size int) ([]byte, *core.MetaInfo) {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	d := core.SHA256Digest(b)
	m, err := metainfo.Generate(bytes.NewReader(b), d, int64(size), testPieceLength)
	if err != nil {
		t.Fatal(err)
	}
	return b, m
}

func checkStored(t *testing.T, n *node, m *core.MetaInfo, want []byte) {
	t.Helper()
	f, err := n.store.Open(m.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("stored blob differs (%d bytes, want %d)", len(got), len(want))
	}
}

// counter sums a counter over its tags (bytes_in and bytes_out are tagged by peer kind).
func counter(n *node, name string) int64 {
	var sum int64
	for _, c := range n.scope.Snapshot().Counters() {
		if c.Name() == name {
			sum += c.Value()
		}
	}
	return sum
}

func TestSwarmOneSeederFiveLeechers(t *testing.T) {
	data, m := blob(t, 5*1024*1024+123)
	seeder := startNode(t, Config{})
	if err := seeder.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	const leechers = 5
	nodes := make([]*node, leechers)
	for i := range nodes {
		nodes[i] = startNode(t, Config{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, leechers)
	for i, n := range nodes {
		peers := []netip.AddrPort{seeder.addr}
		for j, o := range nodes {
			if j < i {
				peers = append(peers, o.addr)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.s.Download(ctx, m, peers, n.store)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("leecher %d: %v", i, err)
		}
		checkStored(t, nodes[i], m, data)
	}
	out := counter(seeder, "bytes_out")
	t.Logf("seeder egress %d bytes for a %d-byte blob and %d leechers (%.2f× size)", out, len(data), leechers, float64(out)/float64(len(data)))
	if out > int64(leechers)*int64(len(data)) {
		t.Fatalf("seeder sent %d bytes, more than %d leechers × size", out, leechers)
	}
}

// corruptReader flips a byte in every block it serves.
type corruptReader struct{ r io.ReaderAt }

func (c corruptReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if n > 0 {
		p[0] ^= 0xff
	}
	return n, err
}

func TestCorruptPeerIsBannedAndDownloadCompletes(t *testing.T) {
	data, m := blob(t, 1024*1024)
	bad := startNode(t, Config{})
	if err := bad.s.Seed(m, corruptReader{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	good := startNode(t, Config{})
	if err := good.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	leech := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Alone, the corrupt peer cannot complete the blob: it is banned and
	// nothing is stored.
	if err := leech.s.Download(ctx, m, []netip.AddrPort{bad.addr}, leech.store); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("download from a corrupt peer = %v, want ErrNoPeers", err)
	}
	if _, err := leech.store.Stat(m.Digest); err == nil {
		t.Fatal("blob stored after a download from a corrupt peer")
	}
	if err := leech.s.Download(ctx, m, []netip.AddrPort{bad.addr, good.addr}, leech.store); err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
	if counter(leech, "pieces_failed") == 0 || counter(leech, "peers_banned") == 0 {
		t.Fatalf("pieces_failed=%d peers_banned=%d, want both > 0", counter(leech, "pieces_failed"), counter(leech, "peers_banned"))
	}
	if !leech.s.Banned(bad.s.PeerID()) {
		t.Fatal("corrupt peer's address is not banned")
	}
}

func TestBanExpiresWithInjectedClock(t *testing.T) {
	now := time.Unix(1000, 0)
	s, err := New(Config{BanDuration: time.Minute}, slog.New(slog.DiscardHandler), tally.NoopScope, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	a := core.NewPeerID()
	s.ban(a, "bad_piece")
	if !s.Banned(a) {
		t.Fatal("not banned right after ban")
	}
	now = now.Add(2 * time.Minute)
	if s.Banned(a) {
		t.Fatal("still banned after BanDuration")
	}
}

// A peer that advertises every piece and then never answers requests is dropped and banned
// once StallTimeout passes; the other seeder, slower than that, serves the blob.
func TestStalledPeerIsDropped(t *testing.T) {
	data, m := blob(t, 4<<20)
	staller := startNode(t, Config{})
	// The staller seeds a reader that blocks forever: its requests stall.
	block := make(chan struct{})
	defer close(block)
	if err := staller.s.Seed(m, blockingReader{block}); err != nil {
		t.Fatal(err)
	}
	good := startNode(t, Config{})
	if err := good.s.Seed(m, slowReader{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	leech := startNode(t, Config{StallTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := leech.s.Download(ctx, m, []netip.AddrPort{staller.addr, good.addr}, leech.store); err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
	if !leech.s.Banned(staller.s.PeerID()) {
		t.Fatal("the stalling peer is not banned")
	}
}

type blockingReader struct{ c chan struct{} }

func (b blockingReader) ReadAt(p []byte, off int64) (int, error) {
	<-b.c
	return 0, io.ErrUnexpectedEOF
}

func TestNoPeersLeft(t *testing.T) {
	_, m := blob(t, 256*1024)
	leech := startNode(t, Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	err = leech.s.Download(context.Background(), m, []netip.AddrPort{dead}, leech.store)
	if !errors.Is(err, ErrNoPeers) {
		t.Fatalf("Download with a dead peer = %v, want ErrNoPeers", err)
	}
	if _, err := leech.store.Stat(m.Digest); err == nil {
		t.Fatal("blob stored after a failed download")
	}
}

// A seeder killed mid-transfer does not stop the download: its requests
// return to the picker and the other seeder serves them.
func TestPeerKilledMidTransfer(t *testing.T) {
	data, m := blob(t, 4*1024*1024)
	a := startNode(t, Config{})
	if err := a.s.Seed(m, slowReader{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	b := startNode(t, Config{})
	if err := b.s.Seed(m, slowReader{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	leech := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for counter(leech, "pieces_verified") < 4 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		a.stop()
	}()
	err := leech.s.Download(ctx, m, []netip.AddrPort{a.addr, b.addr}, leech.store)
	<-killed
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
	if got := counter(leech, "pieces_verified"); got < int64(m.NumPieces()) {
		t.Fatalf("pieces_verified = %d, want at least %d", got, m.NumPieces())
	}
}

// slowReader delays every block so a transfer lasts long enough to interrupt.
type slowReader struct{ r io.ReaderAt }

func (s slowReader) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(time.Millisecond)
	return s.r.ReadAt(p, off)
}

// An egress limit on the seeder bounds how fast a leecher can finish.
func TestSeederEgressLimit(t *testing.T) {
	data, m := blob(t, 1024*1024)
	const rateBps = 2 << 20 // 2 MiB/s, burst 256 KiB: ~0.375 s for 1 MiB
	seeder := startNode(t, Config{Bandwidth: bandwidth.Config{EgressBytesPerSec: rateBps, Burst: 256 << 10}})
	if err := seeder.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	leech := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := leech.s.Download(ctx, m, []netip.AddrPort{seeder.addr}, leech.store); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	checkStored(t, leech, m, data)
	if elapsed < 300*time.Millisecond {
		t.Fatalf("1 MiB at 2 MiB/s after a 256 KiB burst took %v, want >= ~375ms", elapsed)
	}
	t.Logf("1 MiB under a 2 MiB/s egress limit took %v", elapsed)
}

// With super-seeding the origin sends each piece about once; the leechers
// trade the rest.
func TestSuperSeedEgress(t *testing.T) {
	data, m := blob(t, 5*1024*1024+123)
	seeder := startNode(t, Config{})
	if err := seeder.s.SuperSeed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	const leechers = 5
	nodes := make([]*node, leechers)
	for i := range nodes {
		nodes[i] = startNode(t, Config{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, leechers)
	for i, n := range nodes {
		peers := []netip.AddrPort{seeder.addr}
		for j, o := range nodes {
			if j < i {
				peers = append(peers, o.addr)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.s.Download(ctx, m, peers, n.store)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("leecher %d: %v", i, err)
		}
		checkStored(t, nodes[i], m, data)
	}
	out := counter(seeder, "bytes_out")
	t.Logf("super-seeder egress %d bytes for a %d-byte blob and %d leechers (%.2f× size)", out, len(data), leechers, float64(out)/float64(len(data)))
	if out > int64(float64(len(data))*2.5) {
		t.Fatalf("super-seeder sent %.2f× the blob, want < 2.5×", float64(out)/float64(len(data)))
	}
}

// An origin is asked only for what no other connected peer holds, so a leecher whose agent
// peer holds everything leaves its origin idle. When that agent leaves, the origin must be
// asked for the rest at once: nothing the idle origin sends would prompt it.
func TestIdleOriginTakesOverFromDepartedAgent(t *testing.T) {
	data, m := blob(t, 2<<20)
	origin := startNode(t, Config{}, AsOrigin())
	if err := origin.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	agentAddr, requested, leave := departingAgent(t, m)
	leech := startNode(t, Config{ProgressTimeout: 3 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- leech.s.Download(ctx, m, []netip.AddrPort{agentAddr}, leech.store) }()
	select {
	case <-requested:
	case err := <-errc:
		t.Fatalf("download ended before asking the agent: %v", err)
	}
	leech.s.AddPeers(m.InfoHash, []netip.AddrPort{origin.addr})
	// Wait until the leecher knows the origin holds every piece, and has asked it for none.
	for {
		leech.s.mu.Lock()
		tr := leech.s.torrents[m.InfoHash]
		leech.s.mu.Unlock()
		idle := false
		tr.mu.Lock()
		for q := range tr.conns {
			if q.kind == kindOrigin && q.bits.Complete() {
				idle = q.outstanding == 0
			}
		}
		tr.mu.Unlock()
		if idle {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the leecher never saw the origin's pieces")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(leave)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
	if got := taggedCounter(leech, "bytes_in", kindOrigin); got != m.Length {
		t.Fatalf("%d bytes from the origin, want the whole blob (%d)", got, m.Length)
	}
}

// departingAgent is a bttest.FakeAgent that answers no request and closes its connections when
// leave is closed; requested receives once the first request arrives.
func departingAgent(t *testing.T, m *core.MetaInfo) (addr netip.AddrPort, requested <-chan struct{}, leave chan struct{}) {
	t.Helper()
	leave = make(chan struct{})
	req := make(chan struct{}, 1)
	t.Cleanup(func() {
		select {
		case <-leave:
		default:
			close(leave)
		}
	})
	addr, _ = bttest.FakeAgent(t, m, func(c *wire.Conn) {
		go func() {
			for {
				msg, err := c.R.ReadMessage()
				if err != nil {
					return
				}
				if msg.ID == wire.Request && !msg.KeepAlive {
					select {
					case req <- struct{}{}:
					default:
					}
				}
			}
		}()
		<-leave
	})
	return addr, req, leave
}

// A peer that claims every piece and refuses every request (BEP 6 reject) is dropped and
// banned after maxLies refusals; the other seeder serves the blob.
func TestLyingPeerIsBanned(t *testing.T) {
	data, m := blob(t, 1<<20)
	liar, liarID := bttest.FakeAgent(t, m, bttest.Lie)
	good := startNode(t, Config{})
	if err := good.s.Seed(m, slowReader{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	leech := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := leech.s.Download(ctx, m, []netip.AddrPort{liar, good.addr}, leech.store); err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
	if !leech.s.Banned(liarID) {
		t.Fatal("the lying peer is not banned")
	}
	if got := counter(leech, "peers_banned"); got != 1 {
		t.Fatalf("peers_banned = %d, want 1", got)
	}
}

// A peer that has announced may not have started the torrent when a leecher knocks (it closes
// the handshake): the leecher knocks again, backing off, and gets the blob once it has.
func TestPeerThatStartsLateIsRedialed(t *testing.T) {
	data, m := blob(t, 512<<10)
	late := startNode(t, Config{})
	leech := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- leech.s.Download(ctx, m, []netip.AddrPort{late.addr}, leech.store) }()
	time.Sleep(dialRetry / 2)
	if err := late.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
}

// conns is how many peers n's torrent h is connected to.
func conns(n *node, h core.InfoHash) int {
	n.s.mu.Lock()
	tr := n.s.torrents[h]
	n.s.mu.Unlock()
	if tr == nil {
		return 0
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.conns)
}

// seededLeecher starts a seeder of a 512 KiB blob and a leecher that downloads it from the
// seeder and goes on seeding it; the context of the download is done when it returns.
func seededLeecher(t *testing.T) (seeder, leech *node, m *core.MetaInfo) {
	t.Helper()
	data, m := blob(t, 512<<10)
	seeder = startNode(t, Config{})
	if err := seeder.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	leech = startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := leech.s.DownloadAndSeed(ctx, m, []netip.AddrPort{seeder.addr}, leech.store); err != nil {
		t.Fatal(err)
	}
	return seeder, leech, m
}

// A download that goes on seeding keeps the peers it dialled, even once the context that
// started it is done: they may still need its pieces. Unseed ends them.
func TestSeedingKeepsDialledPeers(t *testing.T) {
	seeder, leech, m := seededLeecher(t)
	time.Sleep(200 * time.Millisecond) // time for a wrongly dropped connection to be seen
	if n := conns(seeder, m.InfoHash); n != 1 {
		t.Fatalf("the seeder has %d peers after the leecher finished, want 1", n)
	}
	leech.s.Unseed(m.InfoHash)
	for deadline := time.Now().Add(10 * time.Second); conns(seeder, m.InfoHash) != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection outlived Unseed")
		}
	}
}

// TestShutdownBansNobody: a scheduler shutting down ends its connections through their
// context's deadline; that timeout is its own doing, not a stall of the peer's, and bans no one.
func TestShutdownBansNobody(t *testing.T) {
	seeder, leech, _ := seededLeecher(t)
	seeder.stop() // the leecher, still connected, is cut off by the seeder's shutdown
	if seeder.s.Banned(leech.s.PeerID()) || counter(seeder, "peers_banned") != 0 {
		t.Fatalf("the seeder banned the leecher at shutdown (%d bans)", counter(seeder, "peers_banned"))
	}
}

// TestDialCap: a download dials at most half of max_conns_per_torrent peers at once, the rest
// waiting their turn, so that peers dialling in still find free slots. The peers here take the
// connection and never answer the handshake: each dial holds its slot until the handshake
// times out, so no more than the cap can arrive within one handshake timeout of the first
// (half of one here: a loaded machine may accept a connection late), and every address is
// tried in the end.
func TestDialCap(t *testing.T) {
	_, m := blob(t, 256<<10)
	const peers, maxConns, handshake = 8, 4, time.Second
	var mu sync.Mutex
	var accepts []time.Time
	var addrs []netip.AddrPort
	for range peers {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		addrs = append(addrs, netip.MustParseAddrPort(l.Addr().String()))
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				accepts = append(accepts, time.Now())
				mu.Unlock()
				go func() {
					_, _ = io.Copy(io.Discard, c) // until the dialler gives up and closes
					c.Close()
				}()
			}
		}()
	}
	leech := startNode(t, Config{MaxConnsPerTorrent: maxConns, HandshakeTimeout: handshake})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := leech.s.Download(ctx, m, addrs, leech.store); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("download from peers that never answer: %v, want ErrNoPeers", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(accepts) != peers {
		t.Fatalf("%d of %d peers dialled", len(accepts), peers)
	}
	first := slices.MinFunc(accepts, func(a, b time.Time) int { return a.Compare(b) })
	early := 0
	for _, at := range accepts {
		if at.Sub(first) < handshake/2 {
			early++
		}
	}
	if early > maxConns/2 {
		t.Errorf("%d dials within half a handshake timeout, want at most %d (half of max_conns_per_torrent %d)", early, maxConns/2, maxConns)
	}
}
