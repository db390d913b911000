package httpdownload

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/registry"
	"github.com/docket-p2p/docket/lib/store"
	"github.com/docket-p2p/docket/origin"
	"github.com/docket-p2p/docket/origin/client"
)

// countingOrigin starts a real origin behind a handler that counts blob downloads.
func countingOrigin(t *testing.T) (addr string, srv *origin.Server, gets *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	srv, err = origin.New(origin.Config{Listen: addr, DataDir: t.TempDir(), Replicas: 1},
		slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	gets = new(atomic.Int64)
	h := srv.Handler()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
		}
		h.ServeHTTP(w, r)
	})}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return addr, srv, gets
}

func newDownloader(t *testing.T, origins ...string) (*Downloader, *store.Store) {
	t.Helper()
	st, err := store.New(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := client.NewCluster(origins, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(cluster, st, slog.New(slog.DiscardHandler), tally.NoopScope), st
}

func blob(t *testing.T, n int) ([]byte, core.Digest) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b, core.SHA256Digest(b)
}

func TestSharedDownload(t *testing.T) {
	ctx := context.Background()
	addr, srv, gets := countingOrigin(t)
	data, d := blob(t, 8<<20)
	if err := srv.Store().Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	dl, st := newDownloader(t, addr)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = dl.Download(ctx, "repo", d) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := gets.Load(); n != 1 {
		t.Fatalf("%d origin downloads for 16 concurrent pulls, want 1", n)
	}
	f, err := st.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data)+1)
	n, _ := f.Read(got)
	f.Close()
	if !bytes.Equal(got[:n], data) {
		t.Fatal("stored blob differs")
	}
	// Cached now: no further origin traffic.
	if err := dl.Download(ctx, "repo", d); err != nil || gets.Load() != 1 {
		t.Fatalf("second download: %v, %d origin gets", err, gets.Load())
	}
	// Unknown blobs are registry.ErrBlobUnknown.
	if err := dl.Download(ctx, "repo", core.SHA256Digest([]byte("absent"))); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("unknown blob: %v", err)
	}
}

// TestCancelledWaiter: a caller that gives up does not cancel the transfer another caller is
// still waiting for.
func TestCancelledWaiter(t *testing.T) {
	data, d := blob(t, 4<<20)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write(data)
	}))
	t.Cleanup(slow.Close)
	dl, st := newDownloader(t, slow.Listener.Addr().String())
	impatient, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- dl.Download(impatient, "repo", d) }()
	second := make(chan error, 1)
	go func() { second <- dl.Download(context.Background(), "repo", d) }()
	waitWaiters(t, dl, d, 2) // both callers joined the same transfer
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	if _, err := st.Stat(d); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptOrigin: an origin that serves the wrong bytes leaves nothing in the store.
func TestCorruptOrigin(t *testing.T) {
	data, d := blob(t, 1<<20)
	data[100] ^= 1
	var gets atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
		}
		w.Write(data)
	}))
	t.Cleanup(bad.Close)
	dl, st := newDownloader(t, bad.Listener.Addr().String())
	if err := dl.Download(context.Background(), "repo", d); !errors.Is(err, store.ErrDigestMismatch) {
		t.Fatalf("corrupt download: %v", err)
	}
	if _, err := st.Stat(d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("corrupt blob stored: %v", err)
	}
	if gets.Load() != maxAttempts {
		t.Fatalf("%d attempts, want %d", gets.Load(), maxAttempts)
	}
}

// TestOversizedOrigin: an origin that streams more bytes than the size it reported is cut off
// at that size and leaves nothing in the store.
func TestOversizedOrigin(t *testing.T) {
	data, d := blob(t, 64<<10)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method == http.MethodHead {
			return
		}
		w.Header().Del("Content-Length")
		w.Write(data)
		w.Write(data) // twice the size it reported
	}))
	t.Cleanup(bad.Close)
	dl, st := newDownloader(t, bad.Listener.Addr().String())
	if err := dl.Download(context.Background(), "repo", d); !errors.Is(err, store.ErrSizeMismatch) {
		t.Fatalf("oversized download: %v", err)
	}
	if _, err := st.Stat(d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("oversized blob stored: %v", err)
	}
}

func waitWaiters(t *testing.T, dl *Downloader, d core.Digest, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		dl.mu.Lock()
		tr := dl.inflight[d]
		ok := tr != nil && tr.waiters == n
		dl.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("transfer of %s never had %d waiters", d, n)
}
