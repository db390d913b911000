package scheduler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/scheduler/bandwidth"
	"github.com/docket-p2p/docket/lib/wire"
)

// floodRequests is how many requests the flooding peer sends: far more than the request
// queue plus every block loopback's socket buffers can hold.
const floodRequests = 20000

// rawPeer connects to n as a bare wire peer of m's torrent, with the fast extension or not;
// the connection is closed when the test ends.
func rawPeer(ctx context.Context, t *testing.T, n *node, m *core.MetaInfo, fast bool) *wire.Conn {
	t.Helper()
	var reserved wire.Reserved
	if fast {
		reserved = wire.DefaultReserved()
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", n.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	wire.BindContext(ctx, nc)
	c, err := wire.Initiate(ctx, nc, wire.Handshake{Reserved: reserved, InfoHash: m.InfoHash, PeerID: core.NewPeerID()}, wire.ParamsFor(m))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRequestFloodIsCapped: a raw wire peer sends floodRequests requests and reads nothing
// while it sends. Without the fast extension the seeder drops it once its queue is full,
// having served only a bounded number; with it, the seeder rejects (BEP 6) what does not fit.
// Either way the seeder goes on serving an honest leecher.
func TestRequestFloodIsCapped(t *testing.T) {
	data, m := blob(t, 1<<20)
	seeder := startNode(t, Config{})
	if err := seeder.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	for _, fast := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := rawPeer(ctx, t, seeder, m, fast)
		if c.Fast != fast {
			t.Fatalf("fast extension %v, want %v", c.Fast, fast)
		}
		sent := make(chan int, 1)
		go func() {
			n := 0
			for ; n < floodRequests; n++ {
				i := n % m.NumPieces()
				if c.W.WriteMessage(wire.Message{ID: wire.Request, Index: uint32(i), Begin: 0, Length: wire.BlockSize}) != nil {
					break
				}
			}
			_ = c.W.Flush()
			sent <- n
		}()
		n := <-sent // nothing is read until the flood is written (or refused)
		var pieces, rejects int
		var readErr error
		for pieces+rejects < n {
			msg, err := c.R.ReadMessage()
			if err != nil {
				readErr = err
				break
			}
			switch msg.ID {
			case wire.Piece:
				pieces++
			case wire.RejectRequest:
				rejects++
			}
		}
		t.Logf("fast=%v: sent %d requests, got %d pieces and %d rejects, then %v", fast, n, pieces, rejects, readErr)
		if fast {
			if readErr != nil || rejects == 0 || pieces+rejects != floodRequests {
				t.Fatalf("fast: %d pieces + %d rejects for %d requests (%v): want every request answered, some rejected", pieces, rejects, floodRequests, readErr)
			}
		} else if readErr == nil || pieces >= floodRequests {
			t.Fatalf("no fast extension: %d pieces of %d requests and the connection still open", pieces, floodRequests)
		}
	}
	if counter(seeder, "requests_refused") == 0 {
		t.Fatal("requests_refused not counted")
	}
	leech := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := leech.s.Download(ctx, m, []netip.AddrPort{seeder.addr}, leech.store); err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
}

// badSeeder listens on one address and, on every connection, shows a fresh peer id, claims
// every piece, unchokes and answers each request with zeros: a corrupt peer that changes its
// id. It returns its address and a count of connections it accepted.
func badSeeder(t *testing.T, m *core.MetaInfo) (netip.AddrPort, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Go(func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
				c, err := wire.Respond(context.Background(), nc, wire.DefaultReserved(), core.NewPeerID(), func(core.InfoHash) (wire.Params, error) {
					return wire.ParamsFor(m), nil
				})
				if err != nil {
					return
				}
				_ = c.W.WriteMessage(wire.Message{ID: wire.HaveAll})
				_ = c.W.WriteMessage(wire.Message{ID: wire.Unchoke})
				_ = c.W.Flush()
				for {
					msg, err := c.R.ReadMessage()
					if err != nil {
						return
					}
					if msg.ID == wire.Request && !msg.KeepAlive {
						_ = c.W.WriteMessage(wire.Message{ID: wire.Piece, Index: msg.Index, Begin: msg.Begin, Payload: make([]byte, msg.Length)})
						_ = c.W.Flush()
					}
				}
			})
		}
	})
	return netip.MustParseAddrPort(l.Addr().String()), &accepted
}

// TestAddressBanAcrossPeerIDs: a corrupt peer that shows a new peer id on every connection is
// banned by its listening address after maxAddrStrikes offences; the leecher then no longer
// dials it, an honest peer on the same IP (127.0.0.1, another port) still serves the blob, and
// the ban ends after BanDuration on the injected clock.
func TestAddressBanAcrossPeerIDs(t *testing.T) {
	data, m := blob(t, 512*1024)
	bad, accepted := badSeeder(t, m)
	good := startNode(t, Config{})
	if err := good.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	leech := startNode(t, Config{BanDuration: time.Minute}, WithClock(clock))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range maxAddrStrikes {
		if leech.s.BannedAddr(bad) {
			t.Fatalf("address banned after %d offences, want %d", i, maxAddrStrikes)
		}
		if err := leech.s.Download(ctx, m, []netip.AddrPort{bad}, leech.store); !errors.Is(err, ErrNoPeers) {
			t.Fatalf("download %d from the corrupt peer = %v, want ErrNoPeers", i, err)
		}
	}
	if !leech.s.BannedAddr(bad) || counter(leech, "addresses_banned") != 1 {
		t.Fatalf("banned %v, addresses_banned %d after %d offences", leech.s.BannedAddr(bad), counter(leech, "addresses_banned"), maxAddrStrikes)
	}
	if leech.s.BannedAddr(good.addr) {
		t.Fatal("the honest peer sharing the IP is banned")
	}
	if err := leech.s.Download(ctx, m, []netip.AddrPort{bad, good.addr}, leech.store); err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
	if got := accepted.Load(); got != maxAddrStrikes {
		t.Fatalf("the banned address was dialled again: %d connections, want %d", got, maxAddrStrikes)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if leech.s.BannedAddr(bad) {
		t.Fatal("address still banned after BanDuration")
	}
}

// TestStrikesNeedOffences: normal ends of a connection (EOF, a closed listener) never count
// toward an address ban.
func TestStrikesNeedOffences(t *testing.T) {
	s, err := New(Config{}, slog.New(slog.DiscardHandler), tally.NoopScope)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort("127.0.0.1:7000")
	for range 2 * maxAddrStrikes {
		s.strike(ap, net.ErrClosed)
		s.strike(ap, context.Canceled)
	}
	if s.BannedAddr(ap) {
		t.Fatal("banned for ordinary connection ends")
	}
	for range maxAddrStrikes {
		s.strike(ap, wire.ErrMalformed)
	}
	if !s.BannedAddr(ap) {
		t.Fatal("not banned after protocol violations")
	}
}

// TestCancelledRequestsAreNotServed: a peer that cancels requests still waiting in the
// seeder's queue gets rejects (BEP 6) for them instead of their blocks; the others are served.
func TestCancelledRequestsAreNotServed(t *testing.T) {
	data, m := blob(t, 1<<20)
	// 256 KiB/s: the first blocks take long enough for the cancels to find the rest waiting.
	seeder := startNode(t, Config{Bandwidth: bandwidth.Config{EgressBytesPerSec: 256 << 10, Burst: wire.BlockSize}})
	if err := seeder.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := rawPeer(ctx, t, seeder, m, true)
	const requests, cancelled = 16, 8
	perPiece := int(m.PieceLength / wire.BlockSize)
	req := func(id wire.MessageID, k int) wire.Message {
		return wire.Message{ID: id, Index: uint32(k / perPiece), Begin: uint32(k%perPiece) * wire.BlockSize, Length: wire.BlockSize}
	}
	for k := range requests {
		if err := c.W.WriteMessage(req(wire.Request, k)); err != nil {
			t.Fatal(err)
		}
	}
	for k := requests - cancelled; k < requests; k++ {
		if err := c.W.WriteMessage(req(wire.Cancel, k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.W.Flush(); err != nil {
		t.Fatal(err)
	}
	served := map[int]bool{}
	rejected := 0
	for len(served)+rejected < requests {
		msg, err := c.R.ReadMessage()
		if err != nil {
			t.Fatalf("after %d blocks and %d rejects: %v", len(served), rejected, err)
		}
		k := int(msg.Index)*perPiece + int(msg.Begin/wire.BlockSize)
		switch msg.ID {
		case wire.Piece:
			if k >= requests-cancelled {
				t.Errorf("cancelled block %d was served", k)
			}
			served[k] = true
		case wire.RejectRequest:
			if k < requests-cancelled {
				t.Errorf("block %d was rejected though not cancelled", k)
			}
			rejected++
		}
	}
	if len(served) != requests-cancelled || rejected != cancelled {
		t.Fatalf("%d blocks served and %d rejected, want %d and %d", len(served), rejected, requests-cancelled, cancelled)
	}
}
