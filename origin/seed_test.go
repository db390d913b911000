package origin

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/scheduler"
	"github.com/docket-p2p/docket/lib/store"
	"github.com/docket-p2p/docket/origin/client"
	"github.com/docket-p2p/docket/tracker"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// startSeedingOrigin starts one origin that announces to the tracker at trackerAddr, with its
// store in dir.
func startSeedingOrigin(t *testing.T, dir, trackerAddr string) *testOrigin {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv, err := New(Config{
		Listen: addr, DataDir: dir, Replicas: 1, PeerListen: "127.0.0.1:0", Tracker: trackerAddr,
		Backend: BackendConfig{Type: "fs", Root: t.TempDir()},
	}, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &testOrigin{srv: srv, addr: addr, dir: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { o.done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { o.stop(t) })
	return o
}

func startTestTracker(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := tracker.New(tracker.Config{Listen: l.Addr().String()}, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return l.Addr().String()
}

// A committed blob is announced with origin=1 and super-seeded to a peer that finds the
// origin through the tracker; after a restart the info-hash index is rebuilt from the store
// and the blob is served again without anything registering it.
func TestOriginSeedsCommittedBlobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	trackerAddr := startTestTracker(t)
	dir := t.TempDir()
	o := startSeedingOrigin(t, dir, trackerAddr)
	c := client.New(o.addr, nil)
	data, d := randomBlob(t, 2<<20+5)
	if err := c.StartUpload(ctx, "lib/x", "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchUpload(ctx, "lib/x", "u1", 0, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitUpload(ctx, "lib/x", "u1", d); err != nil {
		t.Fatal(err)
	}
	m, err := c.MetaInfo(ctx, "lib/x", d)
	if err != nil {
		t.Fatal(err)
	}
	tc := trackerclient.New(trackerAddr, nil)
	peerPort := uint16(o.srv.PeerAddr().(*net.TCPAddr).Port)
	var peers []netip.AddrPort
	probe := core.NewPeerID()
	for range 200 { // the announce runs in the background after the commit
		resp, err := tc.Announce(ctx, trackerclient.AnnounceRequest{InfoHash: m.InfoHash, PeerID: probe, Port: 1, Left: m.Length})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Peers) > 0 {
			peers = resp.Peers
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(peers) != 1 || peers[0].Port() != peerPort {
		t.Fatalf("tracker handed out %v, want the origin's peer port %d", peers, peerPort)
	}
	fetch := func() {
		t.Helper()
		scope := tally.NewTestScope("", nil)
		s, err := scheduler.New(scheduler.Config{TempDir: t.TempDir()}, slog.New(slog.DiscardHandler), scope)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.New(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Download(ctx, m, peers, st); err != nil {
			t.Fatal(err)
		}
		f, err := st.Open(d)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := make([]byte, len(data)+1)
		n, _ := f.ReadAt(got, 0)
		if !bytes.Equal(got[:n], data) {
			t.Fatal("downloaded blob differs")
		}
		var fromOrigin int64
		for _, ctr := range scope.Snapshot().Counters() {
			if ctr.Name() == "bytes_in" && ctr.Tags()["peer"] == "origin" {
				fromOrigin = ctr.Value()
			}
		}
		if fromOrigin != int64(len(data)) {
			t.Fatalf("%d bytes counted from the origin, want %d", fromOrigin, len(data))
		}
	}
	fetch()

	// Restart on the same store and peer port: the index is rebuilt at start-up.
	o.stop(t)
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Listen: o.addr, DataDir: dir, Replicas: 1, PeerListen: o.srv.PeerAddr().String(), Tracker: TrackerNone,
		Backend: BackendConfig{Type: "fs", Root: t.TempDir()},
	}, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, l) }()
	defer func() { stop(); <-done; srv.Close() }()
	for range 500 { // the rebuild runs in the background
		srv.seeder.mu.Lock()
		n := len(srv.seeder.index)
		srv.seeder.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fetch()
}
