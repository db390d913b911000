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
// stop shuts the origin down; it is also registered as a cleanup and safe to call twice.
func countingOrigin(t *testing.T) (addr string, srv *origin.Server, gets *atomic.Int64, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	srv, err = origin.New(origin.Config{Listen: addr, PeerListen: "127.0.0.1:0", Tracker: origin.TrackerNone, DataDir: t.TempDir(), Replicas: 1},
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
	var once sync.Once
	stop = func() { once.Do(func() { hs.Close(); srv.Close() }) }
	t.Cleanup(stop)
	return addr, srv, gets, stop
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
	dl := New(cluster, st, slog.New(slog.DiscardHandler), tally.NoopScope)
	dl.backoff = time.Millisecond
	t.Cleanup(func() { dl.Close() })
	return dl, st
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
	addr, srv, gets, _ := countingOrigin(t)
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

// TestCancelledLastWaiterStartsFresh: once the only caller of a transfer gives up, the next
// caller starts a new transfer instead of inheriting the cancelled one's error.
func TestCancelledLastWaiterStartsFresh(t *testing.T) {
	data, d := blob(t, 256<<10)
	var gets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method != http.MethodGet {
			return
		}
		if gets.Add(1) == 1 {
			<-r.Context().Done() // the first transfer stalls until it is cancelled
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	dl, _ := newDownloader(t, srv.Listener.Addr().String())

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- dl.Download(ctx, "repo", d) }()
	waitWaiters(t, dl, d, 1)
	for gets.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	if err := dl.Download(context.Background(), "repo", d); err != nil {
		t.Fatalf("next caller: %v", err)
	}
}

// TestCloseStopsTransfers: Close cancels a stalled transfer, its caller gets an error, and
// later calls get ErrClosed.
func TestCloseStopsTransfers(t *testing.T) {
	_, d := blob(t, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1024")
		if r.Method == http.MethodGet {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	dl, st := newDownloader(t, srv.Listener.Addr().String())
	waiter := make(chan error, 1)
	go func() { waiter <- dl.Download(context.Background(), "repo", d) }()
	waitWaiters(t, dl, d, 1)
	closed := make(chan struct{})
	go func() { dl.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := <-waiter; err == nil {
		t.Fatal("a transfer stopped by Close reported success")
	}
	if err := dl.Download(context.Background(), "repo", d); !errors.Is(err, ErrClosed) {
		t.Fatalf("Download after Close: %v", err)
	}
	if _, err := st.Stat(d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stopped transfer stored something: %v", err)
	}
}

// TestFailoverToNextOwner: with the first owner of a blob down, the blob comes from the next.
func TestFailoverToNextOwner(t *testing.T) {
	ctx := context.Background()
	addrA, srvA, getsA, stopA := countingOrigin(t)
	addrB, srvB, getsB, stopB := countingOrigin(t)
	data, d := blob(t, 512<<10)
	for _, s := range []*origin.Server{srvA, srvB} {
		if err := s.Store().Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.New(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := client.NewCluster([]string{addrA, addrB}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	dl := New(cluster, st, slog.New(slog.DiscardHandler), tally.NoopScope)
	t.Cleanup(func() { dl.Close() })
	// Stop the first owner: its listener refuses connections from now on.
	first := cluster.Owners(d)[0].Addr()
	var surviving *atomic.Int64
	switch first {
	case addrA:
		stopA()
		surviving = getsB
	case addrB:
		stopB()
		surviving = getsA
	}
	if err := dl.Download(ctx, "repo", d); err != nil {
		t.Fatalf("download with the first owner down: %v", err)
	}
	if surviving.Load() != 1 {
		t.Fatalf("the surviving owner served %d downloads, want 1", surviving.Load())
	}
}

// TestRetryAfterTruncatedStream: a transfer cut short is retried and completes.
func TestRetryAfterTruncatedStream(t *testing.T) {
	data, d := blob(t, 256<<10)
	var gets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method != http.MethodGet {
			return
		}
		if gets.Add(1) == 1 {
			w.Write(data[:len(data)/2])
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	scope := tally.NewTestScope("", nil)
	st, err := store.New(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := client.NewCluster([]string{srv.Listener.Addr().String()}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	dl := New(cluster, st, slog.New(slog.DiscardHandler), scope)
	t.Cleanup(func() { dl.Close() })
	if err := dl.Download(context.Background(), "repo", d); err != nil {
		t.Fatalf("download after a truncated stream: %v", err)
	}
	if gets.Load() != 2 {
		t.Fatalf("%d GETs, want 2", gets.Load())
	}
	if err := dl.Download(context.Background(), "repo", d); err != nil {
		t.Fatal(err)
	}
	counters := scope.Snapshot().Counters()
	for name, want := range map[string]int64{
		"downloads+": 1, "bytes+": int64(len(data)), "cache_misses+": 1, "cache_hits+": 1,
	} {
		c, ok := counters[name]
		if !ok || c.Value() != want {
			t.Errorf("counter %s = %v, want %d", name, c, want)
		}
	}
}
