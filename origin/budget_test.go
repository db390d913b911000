package origin

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/clocktest"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/store"
	"github.com/docket-p2p/docket/origin/client"
)

// TestDiskBudget: past its disk budget the origin evicts an old blob that is written back,
// keeps blobs not yet written back even over budget, and a read of the evicted blob comes
// back through read-through from the backend.
func TestDiskBudget(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	const blobSize = 100 << 10
	srv, err := New(Config{
		Listen: addr, DataDir: t.TempDir(), Self: addr, Cluster: []string{addr}, Replicas: 1,
		PeerListen: "127.0.0.1:0", Tracker: TrackerNone,
		Backend:    BackendConfig{Type: "fs", Root: t.TempDir()},
		DiskBudget: blobSize + blobSize/2, Now: clock.Now,
	}, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	o := &testOrigin{srv: srv, addr: addr, cancel: cancel, done: make(chan error, 1)}
	go func() { o.done <- srv.Serve(sctx, l) }()
	t.Cleanup(func() { o.stop(t) })
	c := client.New(addr, nil)

	upload := func() ([]byte, core.Digest) {
		t.Helper()
		data, d := randomBlob(t, blobSize)
		if err := c.Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		return data, d
	}
	stored := func(d core.Digest) bool {
		_, err := srv.Store().Stat(d)
		return err == nil
	}

	dataA, a := upload()
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	if err := srv.writeBack.drain(dctx); err != nil {
		t.Fatalf("write-back of a: %v", err)
	}
	if srv.writeBack.journal.owes(a) {
		t.Fatal("a is written back but still owed")
	}
	// From now on the backend is down for write-back (reads still reach it).
	srv.writeBack.backends = oneBackend{downBackend{}}
	srv.writeBack.q.drainAt = 0
	_, b := upload()
	clock.Advance(2 * store.DefaultEvictGrace)
	_, c2 := upload() // over budget: a goes, b stays though owed and older
	if stored(a) || !stored(b) || !stored(c2) {
		t.Fatalf("after the third upload: a stored %v (want false), b %v, c %v (want true)", stored(a), stored(b), stored(c2))
	}
	if !srv.writeBack.journal.owes(b) || !srv.writeBack.journal.owes(c2) {
		t.Fatal("b and c should still be owed to the backend")
	}
	clock.Advance(2 * store.DefaultEvictGrace)
	if n, err := srv.Store().Evict(); n != 0 || err != nil {
		t.Fatalf("Evict = %d, %v; blobs not written back must stay", n, err)
	}
	if used, budget := srv.Store().Usage(); used != 2*blobSize || budget != blobSize+blobSize/2 {
		t.Fatalf("usage %d/%d, want %d over budget %d", used, budget, 2*blobSize, blobSize+blobSize/2)
	}

	body, err := c.Download(ctx, "ns", a, 0, -1)
	if err != nil {
		t.Fatalf("read of the evicted blob: %v", err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, dataA) {
		t.Fatalf("evicted blob read through: %d bytes, %v", len(got), err)
	}
	if !stored(a) {
		t.Fatal("read-through did not store a again")
	}
}
