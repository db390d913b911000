package origin

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/membership"
	"github.com/docket-p2p/docket/lib/membership/membershiptest"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin/client"
)

// pushBlobs pushes n random blobs through the cluster client and returns their digests.
func pushBlobs(t *testing.T, cluster *client.Cluster, n int) []core.Digest {
	t.Helper()
	var ds []core.Digest
	for i := range n {
		data, d := randomBlob(t, 4<<10+i*1024)
		if err := cluster.Upload(context.Background(), "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// TestListBlobs: the blob list pages in digest order, and bad parameters are 400.
func TestListBlobs(t *testing.T) {
	byAddr, cluster := ringOf(t, 1, 1)
	want := pushBlobs(t, cluster, 5)
	var o *testOrigin
	for _, v := range byAddr {
		o = v
	}
	c := client.New(o.addr, nil).(client.Lister)
	var got []string
	after, pages := "", 0
	for {
		page, err := c.List(context.Background(), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Blobs) > 2 {
			t.Fatalf("page of %d blobs, asked for 2", len(page.Blobs))
		}
		for _, b := range page.Blobs {
			d := core.MustParseDigest(b.Digest)
			if n, err := o.srv.Store().Stat(d); err != nil || n != b.Size {
				t.Fatalf("listed %s of %d bytes; store says %d, %v", d, b.Size, n, err)
			}
			got = append(got, b.Digest)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	var wantS []string
	for _, d := range want {
		wantS = append(wantS, d.String())
	}
	slices.Sort(wantS)
	if !slices.Equal(got, wantS) || pages != 3 {
		t.Fatalf("listed %v in %d pages, want %v in 3", got, pages, wantS)
	}
	for _, q := range []string{"n=0", "n=x", "after=sha256:zz"} {
		resp, err := http.Get("http://" + o.addr + "/blobs?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /blobs?%s: %d, want 400", q, resp.StatusCode)
		}
	}
}

// TestRepairLostBlobs: an origin that lost blobs it owns fetches exactly those back from its
// peers, verified, and leaves the blobs it does not own alone; a second pass finds nothing.
func TestRepairLostBlobs(t *testing.T) {
	ctx := context.Background()
	byAddr, cluster := ringOf(t, 3, 2)
	ds := pushBlobs(t, cluster, 24)
	var x *testOrigin
	for _, o := range byAddr {
		x = o
		break
	}
	var lost, absent []core.Digest
	for _, d := range ds {
		switch {
		case x.srv.ringNow().IsOwner(d.String(), x.addr):
			if err := x.srv.Store().Delete(d); err != nil {
				t.Fatal(err)
			}
			lost = append(lost, d)
		case !holds(x, d):
			absent = append(absent, d)
		}
	}
	if len(lost) == 0 || len(absent) == 0 {
		t.Fatalf("%d owned, %d not held by %s: want some of each", len(lost), len(absent), x.addr)
	}
	res, err := x.srv.repair(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Repaired != len(lost) || res.Failed != 0 {
		t.Fatalf("repaired %+v, want %d blobs", res, len(lost))
	}
	for _, d := range lost {
		if !holds(x, d) {
			t.Errorf("%s not repaired", d)
		}
	}
	for _, d := range absent {
		if holds(x, d) {
			t.Errorf("%s fetched, but %s does not own it", d, x.addr)
		}
	}
	if res, err := x.srv.repair(ctx); err != nil || res.Repaired != 0 {
		t.Fatalf("second pass: %+v, %v; want nothing to do", res, err)
	}
}

// TestRepairReturningOwner: blobs committed while an owner was down (taken by stand-ins)
// reach it when it comes back, by its start-up repair pass.
func TestRepairReturningOwner(t *testing.T) {
	byAddr, cluster := ringOf(t, 3, 2)
	var x *testOrigin
	var addrs []string
	for a, o := range byAddr {
		x = o
		addrs = append(addrs, a)
	}
	x.stop(t)
	ds := pushBlobs(t, cluster, 16)
	back := restartOrigin(t, x, addrs)
	var owned []core.Digest
	for _, d := range ds {
		if back.srv.ringNow().IsOwner(d.String(), back.addr) {
			owned = append(owned, d)
		}
	}
	if len(owned) == 0 {
		t.Fatal("the returning origin owns none of the blobs")
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, d := range owned {
		for !holds(back, d) {
			if time.Now().After(deadline) {
				t.Fatalf("%s not repaired on the returning owner within 10s", d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestRepairTicks: after the start-up pass, a pass runs at every tick of the injected clock.
func TestRepairTicks(t *testing.T) {
	byAddr, cluster := ringOf(t, 3, 2)
	ds := pushBlobs(t, cluster, 12)
	var x *testOrigin
	for _, o := range byAddr {
		x = o
		break
	}
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() { defer close(done); x.srv.runRepairs(ctx, tick) }()
	defer func() { cancel(); <-done }()
	tick <- time.Time{} // the start-up pass is over
	var lost core.Digest
	for _, d := range ds {
		if x.srv.ringNow().IsOwner(d.String(), x.addr) {
			lost = d
			break
		}
	}
	if err := x.srv.Store().Delete(lost); err != nil {
		t.Fatal(err)
	}
	tick <- time.Time{} // a pass starts
	tick <- time.Time{} // it is over
	if !holds(x, lost) {
		t.Fatalf("%s not repaired after a tick", lost)
	}
}

// restartOrigin serves a stopped origin again on its address, with its data dir and backend.
func restartOrigin(t *testing.T, o *testOrigin, addrs []string) *testOrigin {
	t.Helper()
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		t.Fatalf("re-listening on %s: %v", o.addr, err)
	}
	return serveOrigin(t, l, o.dir, addrs, o.srv.cfg.Replicas, o.srv.cfg.Backend.Root)
}

// TestClusterFromDNS: an origin whose ring comes from DNS starts alone, takes blobs, and a
// second origin appearing under the name (same port, another loopback address) joins: the
// newcomer's ring holds both and repairs the blobs it owns from the first, and the first
// rebuilds its ring at its next resolution (an injected tick).
func TestClusterFromDNS(t *testing.T) {
	ctx := context.Background()
	dns := membershiptest.StartDNS(t)
	la, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(la.Addr().String())
	lb, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", port))
	if err != nil {
		la.Close()
		t.Skipf("127.0.0.2:%s not available: %v", port, err)
	}
	dns.SetA("origins.test.", "127.0.0.1")
	backendRoot := t.TempDir()
	serve := func(l net.Listener) *testOrigin {
		addr := l.Addr().String()
		srv, err := New(Config{
			Listen: addr, PeerListen: "127.0.0.1:0", Tracker: TrackerNone, DataDir: t.TempDir(), Self: addr, Replicas: 2,
			ClusterDNS: membership.Source{DNS: "origins.test.:" + port, Resolver: dns.Resolver()},
			Backend:    BackendConfig{Type: "fs", Root: backendRoot},
		}, slog.New(slog.DiscardHandler), metrics.NewNop())
		if err != nil {
			l.Close()
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		o := &testOrigin{srv: srv, addr: addr, cancel: cancel, done: make(chan error, 1)}
		go func() { o.done <- srv.Serve(sctx, l) }()
		t.Cleanup(func() { o.stop(t) })
		return o
	}
	a := serve(la)
	if got := a.srv.ringNow().Members(); len(got) != 1 {
		t.Fatalf("first origin's ring %v, want itself alone", got)
	}
	var ds []core.Digest
	for range 8 {
		data, d := randomBlob(t, 8<<10)
		if err := client.New(a.addr, nil).Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	dns.SetA("origins.test.", "127.0.0.1", "127.0.0.2")
	b := serve(lb)
	want := []string{a.addr, b.addr}
	if got := b.srv.ringNow().Members(); !slices.Equal(got, want) {
		t.Fatalf("newcomer's ring %v, want %v", got, want)
	}
	if _, err := b.srv.repair(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if !holds(b, d) { // two members, replicas 2: both own everything
			t.Errorf("newcomer lacks %s", d)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() { defer close(done); a.srv.watchCluster(wctx, tick) }()
	tick <- time.Time{}
	tick <- time.Time{} // the first resolution is over
	cancel()
	<-done
	if got := a.srv.ringNow().Members(); !slices.Equal(got, want) {
		t.Fatalf("first origin's ring after a resolution %v, want %v", got, want)
	}
}
