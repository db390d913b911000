package origin

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/store"
)

// Write-back retry policy: exponential backoff between attempts, capped.
const (
	writeBackFirstRetry = time.Second
	writeBackMaxRetry   = time.Minute
	writeBackQueueSize  = 4096
)

// writeBack copies committed blobs to the backend in the background. The queue lives in
// memory: a blob committed just before a crash stays on the origins' disks but reaches the
// backend only once the persistent queue of the object-storage work replaces this one.
type writeBack struct {
	store   *store.Store
	backend backend.Client
	log     *slog.Logger
	depth   tally.Gauge
	done    tally.Counter
	fails   tally.Counter

	queue  chan core.Digest
	mu     sync.Mutex
	queued int
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

func newWriteBack(st *store.Store, be backend.Client, log *slog.Logger, scope tally.Scope) *writeBack {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writeBack{
		store: st, backend: be, log: log,
		depth: scope.Gauge("queue_depth"), done: scope.Counter("written"), fails: scope.Counter("failures"),
		queue: make(chan core.Digest, writeBackQueueSize), stop: cancel,
	}
	w.wg.Add(1)
	go w.run(ctx)
	return w
}

// enqueue schedules d for write-back. It blocks only when the queue is full.
func (w *writeBack) enqueue(d core.Digest) {
	w.mu.Lock()
	w.queued++
	w.depth.Update(float64(w.queued))
	w.mu.Unlock()
	w.queue <- d
}

// closeDrainTimeout bounds how long close waits for queued write-backs to finish.
const closeDrainTimeout = 10 * time.Second

// drain waits until every queued blob has been written back, or ctx ends.
func (w *writeBack) drain(ctx context.Context) error {
	for {
		w.mu.Lock()
		n := w.queued
		w.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// close writes back what is queued (for at most closeDrainTimeout) and stops the worker.
func (w *writeBack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeDrainTimeout)
	if err := w.drain(ctx); err != nil {
		w.log.Warn("write-back queue not drained at shutdown", "err", err)
	}
	cancel()
	w.stop()
	w.wg.Wait()
}

func (w *writeBack) run(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-w.queue:
			w.write(ctx, d)
			w.mu.Lock()
			w.queued--
			w.depth.Update(float64(w.queued))
			w.mu.Unlock()
		}
	}
}

// write copies d to the backend, retrying until it succeeds or the origin stops.
func (w *writeBack) write(ctx context.Context, d core.Digest) {
	wait := writeBackFirstRetry
	for {
		err := w.copy(ctx, d)
		if err == nil {
			w.done.Inc(1)
			return
		}
		w.fails.Inc(1)
		w.log.Warn("write-back failed; retrying", "digest", d, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, writeBackMaxRetry)
	}
}

func (w *writeBack) copy(ctx context.Context, d core.Digest) error {
	name := blobName(d)
	f, err := w.store.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if info, err := w.backend.Stat(ctx, name); err == nil && info.Size == fi.Size() {
		return nil // already there (content-addressed: same name, same bytes)
	}
	return w.backend.Upload(ctx, name, f, fi.Size())
}

// blobName is d's object name in the backend.
func blobName(d core.Digest) string {
	return "blobs/" + d.Algorithm() + "/" + d.Hex()[:2] + "/" + d.Hex()
}
