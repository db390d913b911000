package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
	"github.com/docket-p2p/docket/lib/store"
)

// fakeCache is a cache of files in a directory.
type fakeCache struct{ dir string }

func (c fakeCache) path(d core.Digest) string { return filepath.Join(c.dir, d.Hex()) }

func (c fakeCache) Stat(d core.Digest) (int64, error) {
	fi, err := os.Stat(c.path(d))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (c fakeCache) Open(d core.Digest) (*os.File, error) { return os.Open(c.path(d)) }

func (c fakeCache) Pin(core.Digest) func() { return func() {} }

// fakeDownloader writes known blobs into the cache and counts calls.
type fakeDownloader struct {
	cache fakeCache
	blobs map[core.Digest][]byte
	calls int
}

func (f *fakeDownloader) Download(_ context.Context, _ string, d core.Digest) error {
	f.calls++
	b, ok := f.blobs[d]
	if !ok {
		return fmt.Errorf("%w: %s", registry.ErrBlobUnknown, d)
	}
	return os.WriteFile(f.cache.path(d), b, 0o644)
}

func TestBlobsDownloadOnMissOnly(t *testing.T) {
	ctx := context.Background()
	cache := fakeCache{dir: t.TempDir()}
	content := []byte("layer bytes")
	d := core.SHA256Digest(content)
	dl := &fakeDownloader{cache: cache, blobs: map[core.Digest][]byte{d: content}}
	b := &blobs{cache: cache, dl: dl}

	if n, err := b.Stat(ctx, "repo", d); err != nil || n != int64(len(content)) {
		t.Fatalf("Stat = %d, %v", n, err)
	}
	if dl.calls != 1 {
		t.Fatalf("%d downloads after a miss, want 1", dl.calls)
	}
	rc, err := b.Open(ctx, "repo", d)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if dl.calls != 1 {
		t.Fatalf("%d downloads after a hit, want 1", dl.calls)
	}

	missing := core.SHA256Digest([]byte("missing"))
	if _, err := b.Stat(ctx, "repo", missing); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("Stat of an unknown blob = %v", err)
	}
	if _, err := b.Open(ctx, "repo", missing); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("Open of an unknown blob = %v", err)
	}
}

// TestServedBlobIsPinned: a blob open for serving is never evicted under the disk budget;
// once closed it is evicted at the next round.
func TestServedBlobIsPinned(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st, err := store.New(t.TempDir(), store.Options{Now: clock, Budget: 1})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("layer bytes")
	d := core.SHA256Digest(content)
	if err := st.Put(ctx, d, int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	b := &blobs{cache: st, dl: &fakeDownloader{}}
	rc, err := b.Open(ctx, "repo", d)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * store.DefaultEvictGrace)
	mu.Unlock()
	if n, err := st.Evict(); n != 0 || err != nil {
		t.Fatalf("Evict while served = %d, %v", n, err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("served %q, %v", got, err)
	}
	rc.Close()
	if n, err := st.Evict(); n != 1 || err != nil {
		t.Fatalf("Evict after close = %d, %v; want 1", n, err)
	}
	if _, err := st.Stat(d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Stat after eviction: %v", err)
	}
}
