package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/clocktest"
)

// putBlob stores n random bytes and returns their digest.
func putBlob(t *testing.T, s *Store, n int) core.Digest {
	t.Helper()
	b := randomBytes(t, n)
	d := core.SHA256Digest(b)
	if err := s.Put(t.Context(), d, int64(n), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return d
}

func assertStored(t *testing.T, s *Store, want map[core.Digest]bool) {
	t.Helper()
	for d, stored := range want {
		_, err := s.Stat(d)
		if stored && err != nil {
			t.Errorf("%s: %v, want stored", d, err)
		}
		if !stored && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err %v, want evicted", d, err)
		}
		if _, err := os.Stat(s.blobPath(d) + metainfoSuffix); !stored && err == nil {
			t.Errorf("%s: metainfo outlived its blob", d)
		}
	}
}

func TestEvictLeastRecentlyUsed(t *testing.T) {
	clock := clocktest.New()
	scope := tally.NewTestScope("", nil)
	s := newStore(t, Options{Now: clock.Now, Budget: 250, Scope: scope})
	a := putBlob(t, s, 100)
	clock.Advance(time.Second)
	b := putBlob(t, s, 100)
	if _, err := s.MetaInfo(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	c := putBlob(t, s, 100)
	// Over budget, but every blob is within the grace of its last use.
	if used, budget := s.Usage(); used != 300 || budget != 250 {
		t.Fatalf("usage %d/%d, want 300/250", used, budget)
	}
	assertStored(t, s, map[core.Digest]bool{a: true, b: true, c: true})

	clock.Advance(2 * DefaultEvictGrace)
	f, err := s.Open(a) // a is now the most recently used
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	n, err := s.Evict()
	if err != nil || n != 1 {
		t.Fatalf("Evict = %d, %v; want 1 eviction", n, err)
	}
	assertStored(t, s, map[core.Digest]bool{a: true, b: false, c: true})
	if used, _ := s.Usage(); used != 200 {
		t.Fatalf("used %d after eviction, want 200", used)
	}
	snap := scope.Snapshot()
	if got := snap.Counters()["evictions+"].Value(); got != 1 {
		t.Errorf("evictions counter %d, want 1", got)
	}
	if got := snap.Gauges()["bytes_used+"].Value(); got != 200 {
		t.Errorf("bytes_used gauge %v, want 200", got)
	}
	if got := snap.Gauges()["budget_bytes+"].Value(); got != 250 {
		t.Errorf("budget_bytes gauge %v, want 250", got)
	}
}

// TestEvictAfterPut: a new blob pushes out the least recently used one at once.
func TestEvictAfterPut(t *testing.T) {
	clock := clocktest.New()
	s := newStore(t, Options{Now: clock.Now, Budget: 200})
	a := putBlob(t, s, 100)
	b := putBlob(t, s, 100)
	clock.Advance(2 * DefaultEvictGrace)
	c := putBlob(t, s, 100)
	assertStored(t, s, map[core.Digest]bool{a: false, b: true, c: true})
}

// TestEvictNeverPinnedOrKept: pinned blobs and blobs the Keep predicate names stay even
// when the store is left over budget; an unpinned one goes at the next round.
func TestEvictNeverPinnedOrKept(t *testing.T) {
	clock := clocktest.New()
	var mu sync.Mutex
	keep := map[core.Digest]bool{}
	s := newStore(t, Options{Now: clock.Now, Budget: 1, Keep: func(d core.Digest) bool {
		mu.Lock()
		defer mu.Unlock()
		return keep[d]
	}})
	a := putBlob(t, s, 100)
	b := putBlob(t, s, 100)
	c := putBlob(t, s, 100)
	mu.Lock()
	keep[b] = true
	mu.Unlock()
	unpin := s.Pin(a)
	unpin2 := s.Pin(a)
	clock.Advance(2 * DefaultEvictGrace)
	if n, err := s.Evict(); err != nil || n != 1 {
		t.Fatalf("Evict = %d, %v; want 1", n, err)
	}
	assertStored(t, s, map[core.Digest]bool{a: true, b: true, c: false})
	if used, _ := s.Usage(); used != 200 {
		t.Fatalf("used %d, want 200 (over budget: the rest is pinned or kept)", used)
	}
	unpin()
	unpin() // once only: the second pin still holds
	if n, _ := s.Evict(); n != 0 {
		t.Fatalf("evicted %d blobs while a pin held", n)
	}
	unpin2()
	if n, _ := s.Evict(); n != 1 {
		t.Fatalf("evicted %d after unpin, want 1", n)
	}
	assertStored(t, s, map[core.Digest]bool{a: false, b: true})
}

// TestBudgetCountsOnlyBlobs: uploads in progress, temp files and foreign files are not the
// store's blobs and never count or get evicted.
func TestBudgetCountsOnlyBlobs(t *testing.T) {
	clock := clocktest.New()
	s := newStore(t, Options{Now: clock.Now, Budget: 1 << 20})
	if err := s.CreateUpload("up"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload("up", 0, bytes.NewReader(randomBytes(t, 5000))); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(s.Root(), "blobs", "notes.txt")
	if err := os.WriteFile(foreign, randomBytes(t, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	d := putBlob(t, s, 700)
	if used, _ := s.Usage(); used != 700 {
		t.Fatalf("used %d, want 700", used)
	}
	// Reopened, the store finds the same.
	s2, err := New(s.Root(), Options{Now: clock.Now, Budget: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if used, _ := s2.Usage(); used != 700 {
		t.Fatalf("reopened: used %d, want 700", used)
	}
	if err := s.Delete(d); err != nil {
		t.Fatal(err)
	}
	if used, _ := s.Usage(); used != 0 {
		t.Fatalf("used %d after delete, want 0", used)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Fatal(err)
	}
	if n, err := s.UploadSize("up"); err != nil || n != 5000 {
		t.Fatalf("upload %d, %v", n, err)
	}
}

// TestEvictOrderSurvivesReopen: the LRU is seeded from the blobs' mtimes, which a use writes
// (by the store's clock), so a reopened store evicts in the same order.
func TestEvictOrderSurvivesReopen(t *testing.T) {
	clock := clocktest.New()
	s := newStore(t, Options{Now: clock.Now})
	a := putBlob(t, s, 100)
	clock.Advance(time.Hour)
	b := putBlob(t, s, 100)
	clock.Advance(time.Hour)
	f, err := s.Open(a) // a read makes a the most recent, and is persisted
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	clock.Advance(time.Hour)
	s2, err := New(s.Root(), Options{Now: clock.Now, Budget: 150})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s2.Evict(); err != nil || n != 1 {
		t.Fatalf("Evict = %d, %v", n, err)
	}
	assertStored(t, s2, map[core.Digest]bool{a: true, b: false})
}

// TestRunEvictorWithoutBudget returns at once: nothing to bound.
func TestRunEvictorWithoutBudget(t *testing.T) {
	s := newStore(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s.RunEvictor(ctx, time.Millisecond, nil)
	if ctx.Err() != nil {
		t.Fatal("RunEvictor without a budget kept running")
	}
	if n, err := s.Evict(); n != 0 || err != nil {
		t.Fatalf("Evict without budget = %d, %v", n, err)
	}
}
