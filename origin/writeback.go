package origin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/store"
)

// Write-back policy: workers copying blobs in parallel, and exponential backoff between
// attempts on one blob, capped.
const (
	writeBackWorkers    = 4
	writeBackFirstRetry = time.Second
	writeBackMaxRetry   = time.Minute
	writeBackQueueSize  = 4096
	// closeDrainTimeout bounds how long close waits for queued write-backs to finish.
	closeDrainTimeout = 10 * time.Second
)

// writeBack copies committed blobs to the backend in the background, retrying each until it
// succeeds. A digest is queued at most once at a time, and enqueue never blocks a request.
//
// The queue lives in memory: a blob committed just before a crash stays on the owners' disks
// (a commit is acknowledged only once an owner holds it) but reaches the backend only when it
// is written again; the persistent queue of the object-storage work replaces this one.
type writeBack struct {
	store   *store.Store
	backend backend.Client
	log     *slog.Logger
	depth   tally.Gauge
	done    tally.Counter
	fails   tally.Counter
	dropped tally.Counter

	queue   chan core.Digest
	mu      sync.Mutex
	pending map[core.Digest]bool // queued or being written
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func newWriteBack(st *store.Store, be backend.Client, log *slog.Logger, scope tally.Scope) *writeBack {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writeBack{
		store: st, backend: be, log: log,
		depth: scope.Gauge("queue_depth"), done: scope.Counter("written"),
		fails: scope.Counter("failures"), dropped: scope.Counter("dropped"),
		queue: make(chan core.Digest, writeBackQueueSize), pending: make(map[core.Digest]bool),
		ctx: ctx, stop: cancel,
	}
	for range writeBackWorkers {
		w.wg.Add(1)
		go w.run()
	}
	return w
}

// enqueue schedules d for write-back unless it is already pending.
func (w *writeBack) enqueue(d core.Digest) {
	w.mu.Lock()
	if w.pending[d] {
		w.mu.Unlock()
		return
	}
	w.pending[d] = true
	w.depth.Update(float64(len(w.pending)))
	w.mu.Unlock()
	select {
	case w.queue <- d:
	default:
		// Queue full (the backend is slow or down): hand over from a goroutine rather than
		// hold up the commit; pending still bounds one goroutine per distinct blob.
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			select {
			case w.queue <- d:
			case <-w.ctx.Done():
			}
		}()
	}
}

func (w *writeBack) finish(d core.Digest) {
	w.mu.Lock()
	delete(w.pending, d)
	w.depth.Update(float64(len(w.pending)))
	w.mu.Unlock()
}

// drain waits until every queued blob has been written back, or ctx ends.
func (w *writeBack) drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		w.mu.Lock()
		n := len(w.pending)
		w.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// close writes back what is queued (for at most closeDrainTimeout) and stops the workers.
func (w *writeBack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeDrainTimeout)
	if err := w.drain(ctx); err != nil {
		w.mu.Lock()
		n := len(w.pending)
		w.mu.Unlock()
		w.log.Warn("write-back queue not drained at shutdown", "pending", n, "err", err)
	}
	cancel()
	w.stop()
	w.wg.Wait()
}

func (w *writeBack) run() {
	defer w.wg.Done()
	for {
		select {
		case <-w.ctx.Done():
			return
		case d := <-w.queue:
			w.write(d)
			w.finish(d)
		}
	}
}

// write copies d to the backend, retrying until it succeeds or the origin stops. A blob no
// longer on disk (deleted meanwhile) is dropped: there is nothing left to write.
func (w *writeBack) write(d core.Digest) {
	wait := writeBackFirstRetry
	for {
		err := w.copy(w.ctx, d)
		if err == nil {
			w.done.Inc(1)
			return
		}
		if errors.Is(err, store.ErrNotFound) {
			w.dropped.Inc(1)
			w.log.Warn("write-back dropped: blob no longer stored", "digest", d)
			return
		}
		w.fails.Inc(1)
		w.log.Warn("write-back failed; retrying", "digest", d, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return
		case <-t.C:
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
