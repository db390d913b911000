package tracker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin"
	originclient "github.com/docket-p2p/docket/origin/client"
	"github.com/docket-p2p/docket/tracker"
	"github.com/docket-p2p/docket/tracker/client"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func startTracker(t *testing.T, cfg tracker.Config, opts ...tracker.Option) (string, *tracker.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = l.Addr().String()
	s, err := tracker.New(cfg, slog.New(slog.DiscardHandler), metrics.NewNop(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		s.Close()
	})
	return l.Addr().String(), s
}

func infoHash(t *testing.T) core.InfoHash {
	var h core.InfoHash
	if _, err := rand.Read(h[:]); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAnnounce(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	addr, _ := startTracker(t, tracker.Config{AnnounceInterval: 3 * time.Second, PeerTTL: 30 * time.Second}, tracker.WithClock(clock.Now))
	c := client.New(addr, nil)
	ctx := context.Background()
	h := infoHash(t)

	ids := make([]core.PeerID, 8)
	for i := range ids {
		ids[i] = core.NewPeerID()
		resp, err := c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: ids[i], Port: uint16(7000 + i),
			Left: int64(100 * (i % 2)), Event: "started", Origin: i == 7})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Interval != 3*time.Second {
			t.Fatalf("interval %s", resp.Interval)
		}
		if len(resp.Peers) != i {
			t.Fatalf("announce %d got %d peers, want %d (everybody before it)", i, len(resp.Peers), i)
		}
		for _, p := range resp.Peers {
			// The observed address is loopback; the requester never gets itself.
			if p.Addr() != netip.MustParseAddr("127.0.0.1") || p.Port() == uint16(7000+i) {
				t.Fatalf("peer %s handed to peer %d", p, i)
			}
		}
	}
	resp, err := c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: ids[0], Port: 7000, NumWant: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Peers) != 3 {
		t.Fatalf("numwant 3 gave %d peers", len(resp.Peers))
	}
	if resp.Complete != 4 || resp.Incomplete != 4 {
		t.Fatalf("complete %d incomplete %d, want 4 and 4", resp.Complete, resp.Incomplete)
	}
	// A stopped peer leaves at once; the others expire after the TTL without announcing.
	if _, err := c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: ids[1], Port: 7001, Event: "stopped"}); err != nil {
		t.Fatal(err)
	}
	resp, _ = c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: ids[0], Port: 7000})
	if len(resp.Peers) != 6 {
		t.Fatalf("after a stop: %d peers, want 6", len(resp.Peers))
	}
	clock.Add(31 * time.Second)
	resp, _ = c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: ids[0], Port: 7000})
	if len(resp.Peers) != 0 {
		t.Fatalf("after the TTL: %d peers, want 0", len(resp.Peers))
	}
}

// TestOriginsAreNotEverybodysFirstHop: with many origins in a swarm, a response carries at
// most two of them, at varying positions.
func TestOriginsAreNotEverybodysFirstHop(t *testing.T) {
	addr, _ := startTracker(t, tracker.Config{})
	c := client.New(addr, nil)
	ctx := context.Background()
	h := infoHash(t)
	for i := range 30 {
		if _, err := c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: core.NewPeerID(), Port: uint16(8000 + i),
			Left: 10, Origin: i < 5}); err != nil {
			t.Fatal(err)
		}
	}
	firstIsOrigin := 0
	for range 40 {
		resp, err := c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: core.PeerID{1}, Port: 9999, Left: 10, NumWant: 10})
		if err != nil {
			t.Fatal(err)
		}
		origins := 0
		for i, p := range resp.Peers {
			if p.Port() < 8005 {
				origins++
				if i == 0 {
					firstIsOrigin++
				}
			}
		}
		if origins > 2 || len(resp.Peers) != 10 {
			t.Fatalf("%d origins in %d peers", origins, len(resp.Peers))
		}
	}
	if firstIsOrigin > 30 {
		t.Fatalf("an origin came first in %d of 40 responses", firstIsOrigin)
	}
}

func TestBadAnnounces(t *testing.T) {
	addr, _ := startTracker(t, tracker.Config{})
	ih := strings.Repeat("%01", 20)
	for _, q := range []string{
		"",
		"info_hash=short&peer_id=" + ih + "&port=1&left=0",
		"info_hash=" + ih + "&peer_id=x&port=1&left=0",
		"info_hash=" + ih + "&peer_id=" + ih + "&port=0&left=0",
		"info_hash=" + ih + "&peer_id=" + ih + "&port=70000&left=0",
		"info_hash=" + ih + "&peer_id=" + ih + "&port=1",
		"info_hash=" + ih + "&peer_id=" + ih + "&port=1&left=-5",
		"info_hash=" + ih + "&peer_id=" + ih + "&port=1&left=0&event=exploded",
		"info_hash=" + ih + "&peer_id=" + ih + "&port=1&left=0&numwant=-1",
	} {
		resp, err := http.Get("http://" + addr + "/announce?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		_, perr := client.ParseAnnounceResponse(body[:n])
		if !errors.Is(perr, client.ErrTracker) || !bytes.Contains(body[:n], []byte("failure reason")) {
			t.Errorf("query %q: %q, want a failure reason", q, body[:n])
		}
	}
}

// TestMetaInfo fetches a blob's metainfo through the tracker from a real origin, then keeps
// serving it from the cache after the origin is gone.
func TestMetaInfo(t *testing.T) {
	ol, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	oaddr := ol.Addr().String()
	o, err := origin.New(origin.Config{Listen: oaddr, PeerListen: "127.0.0.1:0", Tracker: origin.TrackerNone, DataDir: t.TempDir(), Replicas: 1}, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	octx, stopOrigin := context.WithCancel(context.Background())
	odone := make(chan error, 1)
	go func() { odone <- o.Serve(octx, ol) }()
	defer o.Close()
	data := make([]byte, 3<<20)
	rand.Read(data)
	d := core.SHA256Digest(data)
	if err := o.Store().Put(context.Background(), d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	addr, _ := startTracker(t, tracker.Config{Ring: originclient.Ring{Origins: []string{oaddr}, Replicas: 1}})
	c := client.New(addr, nil)
	m, err := c.MetaInfo(context.Background(), "lib/x", d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Length != int64(len(data)) || m.NumPieces() == 0 {
		t.Fatalf("metainfo %+v", m)
	}
	stopOrigin()
	<-odone
	again, err := c.MetaInfo(context.Background(), "lib/x", d)
	if err != nil || again.InfoHash != m.InfoHash {
		t.Fatalf("cached metainfo after the origin stopped: %v", err)
	}
	if _, err := c.MetaInfo(context.Background(), "lib/x", core.SHA256Digest([]byte("absent"))); err == nil {
		t.Fatal("metainfo of an unknown blob")
	}
}
