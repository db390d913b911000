package tracker

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/metrics"
)

// fakeSource is a metaInfoSource over a map; if gate is set, every fetch waits for it and
// records whether its context had ended by then.
type fakeSource struct {
	mu       sync.Mutex
	byDigest map[core.Digest]*core.MetaInfo
	calls    int
	entered  chan struct{}
	gate     chan struct{}
	ctxErrs  []error
}

func (f *fakeSource) MetaInfo(ctx context.Context, _ string, d core.Digest) (*core.MetaInfo, error) {
	f.mu.Lock()
	f.calls++
	m := f.byDigest[d]
	f.mu.Unlock()
	if f.gate != nil {
		f.entered <- struct{}{}
		<-f.gate
		f.mu.Lock()
		f.ctxErrs = append(f.ctxErrs, ctx.Err())
		f.mu.Unlock()
	}
	return m, nil
}

func genMetaInfo(t *testing.T, content string) *core.MetaInfo {
	t.Helper()
	b := []byte(content)
	d := core.SHA256Digest(b)
	m, err := metainfo.Generate(bytes.NewReader(b), d, int64(len(b)), metainfo.PieceLength(int64(len(b)), metainfo.DefaultTable))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestServer(t *testing.T, src metaInfoSource) *httptest.Server {
	t.Helper()
	s, err := New(Config{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.origins = src
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func getStatus(t *testing.T, ctx context.Context, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An origin that answers with another blob's metainfo gets a 502, and nothing is cached.
func TestMetaInfoOfAnotherBlobRefused(t *testing.T) {
	asked, other := genMetaInfo(t, "asked"), genMetaInfo(t, "other")
	src := &fakeSource{byDigest: map[core.Digest]*core.MetaInfo{asked.Digest: other}}
	ts := newTestServer(t, src)
	url := ts.URL + "/metainfo/" + asked.Digest.String()
	if got := getStatus(t, context.Background(), url); got != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502", got)
	}
	src.mu.Lock()
	src.byDigest[asked.Digest] = asked
	src.mu.Unlock()
	if got := getStatus(t, context.Background(), url); got != http.StatusOK {
		t.Fatalf("status after the origin mends = %d, want 200", got)
	}
	if got := getStatus(t, context.Background(), url); got != http.StatusOK {
		t.Fatalf("cached status = %d, want 200", got)
	}
	if src.calls != 2 {
		t.Fatalf("origin asked %d times, want 2 (the refused answer, then the good one; the third from cache)", src.calls)
	}
}

// The shared fetch does not end when the request that started it goes away.
func TestMetaInfoFetchOutlivesItsFirstCaller(t *testing.T) {
	m := genMetaInfo(t, "blob")
	src := &fakeSource{byDigest: map[core.Digest]*core.MetaInfo{m.Digest: m},
		entered: make(chan struct{}, 4), gate: make(chan struct{})}
	ts := newTestServer(t, src)
	url := ts.URL + "/metainfo/" + m.Digest.String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- getStatus(t, ctx, url) }()
	select {
	case <-src.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the fetch never reached the origin")
	}
	cancel()
	<-done
	// Let the server notice the hang-up (on loopback it does at once) before the origin
	// answers; a fetch bound to the request would be cancelled by then.
	time.Sleep(100 * time.Millisecond)
	close(src.gate)
	if got := getStatus(t, context.Background(), url); got != http.StatusOK {
		t.Fatalf("status = %d, want 200", got)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.ctxErrs) == 0 || src.ctxErrs[0] != nil {
		t.Fatalf("fetch context errors %v: the fetch was cancelled with its first caller", src.ctxErrs)
	}
}
