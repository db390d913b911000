package store

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/docket-p2p/docket/core"
)

// DefaultEvictGrace is how long a blob stays safe from eviction after its last use: long
// enough for a caller that just put or opened it to record it (the origin's write-back
// journal) or pin it.
const DefaultEvictGrace = time.Minute

// persistUseEvery bounds how often a blob's last use is written to its mtime (the order the
// LRU is seeded in at the next start): a hot blob costs one utimensat a minute, not one per read.
const persistUseEvery = time.Minute

// lru keeps every blob of the store in order of last use (front: most recent), the bytes
// they hold, and the pins that keep blobs from eviction. Only published blobs count:
// uploads, temp files, metainfo files and foreign files are not the store's blobs.
type lru struct {
	mu        sync.Mutex
	order     *list.List // of *lruEntry
	byDigest  map[core.Digest]*list.Element
	used      int64
	pins      map[core.Digest]int
	evictions int64
}

type lruEntry struct {
	d         core.Digest
	size      int64
	used      time.Time // last use, by the store's clock
	persisted time.Time // last use written to the blob's mtime
}

// seedLRU fills the LRU from the blobs on disk, oldest modification time first.
func (s *Store) seedLRU() error {
	s.lru = lru{order: list.New(), byDigest: make(map[core.Digest]*list.Element), pins: make(map[core.Digest]int)}
	var es []*lruEntry
	err := s.WalkInfo(context.Background(), func(d core.Digest, fi fs.FileInfo) error {
		es = append(es, &lruEntry{d: d, size: fi.Size(), used: fi.ModTime(), persisted: fi.ModTime()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	slices.SortFunc(es, func(a, b *lruEntry) int { return a.used.Compare(b.used) })
	for _, e := range es {
		s.lru.byDigest[e.d] = s.lru.order.PushFront(e)
		s.lru.used += e.size
	}
	s.updateGauges()
	return nil
}

// used records a use of blob d (size bytes) now: it becomes the most recently used.
func (s *Store) used(d core.Digest, size int64) {
	now := s.opts.Now()
	s.lru.mu.Lock()
	el, ok := s.lru.byDigest[d]
	if !ok {
		el = s.lru.order.PushFront(&lruEntry{d: d, size: size}) // persisted at once
		s.lru.byDigest[d] = el
		s.lru.used += size
	} else {
		s.lru.order.MoveToFront(el)
	}
	e := el.Value.(*lruEntry)
	e.used = now
	persist := now.Sub(e.persisted) >= persistUseEvery
	if persist {
		e.persisted = now
	}
	s.lru.mu.Unlock()
	if persist {
		s.touch(s.blobPath(d))
	}
	s.updateGauges()
}

// Touch records a use of blob d without reading it (a registry HEAD, as before a push that
// then skips the upload) and returns its size, or ErrNotFound: d becomes the most recently
// used, and young to a garbage collector that reads its last use.
func (s *Store) Touch(d core.Digest) (int64, error) {
	n, err := s.Stat(d)
	if err == nil {
		s.used(d, n)
	}
	return n, err
}

// forgetBlob drops d from the LRU (it was deleted).
func (s *Store) forgetBlob(d core.Digest) {
	s.lru.mu.Lock()
	if el, ok := s.lru.byDigest[d]; ok {
		s.lru.used -= el.Value.(*lruEntry).size
		s.lru.order.Remove(el)
		delete(s.lru.byDigest, d)
	}
	s.lru.mu.Unlock()
	s.updateGauges()
}

// Pin keeps blob d from eviction until the returned function is called (once); pins nest.
// Whoever serves or seeds a blob holds a pin for as long as it does. Pinning a blob that is
// not stored is allowed: it protects the blob from the moment it arrives.
func (s *Store) Pin(d core.Digest) (unpin func()) {
	s.lru.mu.Lock()
	s.lru.pins[d]++
	s.lru.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.lru.mu.Lock()
			if s.lru.pins[d]--; s.lru.pins[d] <= 0 {
				delete(s.lru.pins, d)
			}
			s.lru.mu.Unlock()
		})
	}
}

// Usage returns the bytes the store's blobs hold and the budget (0: none).
func (s *Store) Usage() (used, budget int64) {
	s.lru.mu.Lock()
	defer s.lru.mu.Unlock()
	return s.lru.used, s.opts.Budget
}

// Evict removes least-recently-used blobs until the blobs fit the budget, and returns how
// many it removed. It never removes a pinned blob, one used within the evict grace, or one
// Options.Keep says must stay: when only such blobs are left, the store stays over budget.
// Without a budget it does nothing. Readers that opened an evicted blob keep reading it.
func (s *Store) Evict() (int, error) {
	if s.opts.Budget <= 0 {
		return 0, nil
	}
	cutoff := s.opts.Now().Add(-s.opts.EvictGrace)
	n := 0
	var errs []error
	s.lru.mu.Lock()
	for el := s.lru.order.Back(); el != nil && s.lru.used > s.opts.Budget; {
		prev := el.Prev()
		e := el.Value.(*lruEntry)
		if e.used.After(cutoff) {
			break // every blob further on was used later still
		}
		if s.lru.pins[e.d] > 0 || (s.opts.Keep != nil && s.opts.Keep(e.d)) {
			el = prev
			continue
		}
		// The removal is not made durable: a blob an eviction forgot in a crash is
		// evicted again later.
		p := s.blobPath(e.d)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("store: evict %s: %w", e.d, err))
			el = prev
			continue
		}
		_ = os.Remove(p + metainfoSuffix)
		s.lru.used -= e.size
		s.lru.order.Remove(el)
		delete(s.lru.byDigest, e.d)
		s.lru.evictions++
		n++
		el = prev
	}
	s.lru.mu.Unlock()
	s.metrics.evictions.Inc(int64(n))
	s.updateGauges()
	return n, errors.Join(errs...)
}

// evictAfterPut runs an eviction after a blob arrived, reporting a failure to nobody: the
// next timer round tries again.
func (s *Store) evictAfterPut() {
	if s.opts.Budget > 0 {
		_, _ = s.Evict()
	}
}

func (s *Store) updateGauges() {
	s.lru.mu.Lock()
	used := s.lru.used
	s.lru.mu.Unlock()
	s.metrics.bytesUsed.Update(float64(used))
	s.metrics.budget.Update(float64(s.opts.Budget))
}

// RunEvictor calls Evict every interval until ctx ends, reporting errors to onError (which
// may be nil). Without a budget it returns at once.
func (s *Store) RunEvictor(ctx context.Context, interval time.Duration, onError func(error)) {
	if s.opts.Budget <= 0 {
		return
	}
	every(ctx, interval, func() error { _, err := s.Evict(); return err }, onError)
}
