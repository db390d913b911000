package origin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"
)

// Retry policy of background jobs: exponential backoff between attempts on one job, capped.
const (
	retryFirst = time.Second
	retryMax   = time.Minute
	// retryQueueSize is the channel depth before enqueue hands jobs over from goroutines.
	retryQueueSize = 4096
	// writeBackDrainTimeout bounds how long closing the write-back queue waits for queued
	// blobs to reach the backend.
	writeBackDrainTimeout = 10 * time.Second
)

// errDrop, wrapped by a job's error, means retrying cannot help (the blob is gone, the peer
// rejected the content): the job is dropped.
var errDrop = errors.New("dropped")

// job is one piece of background work, retried until it succeeds, is dropped, or the origin
// stops. Jobs with the same key are not queued twice.
type job struct {
	key string
	run func(ctx context.Context) error
}

// retryQueue runs jobs on a fixed set of workers with retries. It lives in memory: queued
// work is lost in a crash (see writeBack for what that means for blobs).
type retryQueue struct {
	name    string
	drainAt time.Duration // how long close waits for pending jobs (0: not at all)
	log     *slog.Logger
	depth   tally.Gauge
	done    tally.Counter
	fails   tally.Counter
	dropped tally.Counter

	queue   chan job
	mu      sync.Mutex
	pending map[string]bool // queued or running
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func newRetryQueue(name string, workers int, drainAt time.Duration, log *slog.Logger, scope tally.Scope) *retryQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &retryQueue{
		name: name, drainAt: drainAt, log: log,
		depth: scope.Gauge("queue_depth"), done: scope.Counter("done"),
		fails: scope.Counter("failures"), dropped: scope.Counter("dropped"),
		queue: make(chan job, retryQueueSize), pending: make(map[string]bool),
		ctx: ctx, stop: cancel,
	}
	for range workers {
		q.wg.Add(1)
		go q.work()
	}
	return q
}

// enqueue schedules j unless a job with its key is pending. It never blocks.
func (q *retryQueue) enqueue(j job) {
	q.mu.Lock()
	if q.pending[j.key] || q.ctx.Err() != nil {
		q.mu.Unlock()
		return
	}
	q.pending[j.key] = true
	q.depth.Update(float64(len(q.pending)))
	q.mu.Unlock()
	select {
	case q.queue <- j:
	default:
		// Queue full (the target is slow or down): hand over from a goroutine rather than
		// hold up a request; pending bounds this to one goroutine per distinct job.
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			select {
			case q.queue <- j:
			case <-q.ctx.Done():
			}
		}()
	}
}

func (q *retryQueue) finish(key string) {
	q.mu.Lock()
	delete(q.pending, key)
	q.depth.Update(float64(len(q.pending)))
	q.mu.Unlock()
}

func (q *retryQueue) pendingCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// drain waits until no job is pending, or ctx ends.
func (q *retryQueue) drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for q.pendingCount() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// close lets queued jobs finish (for at most drainAt) and stops the workers.
func (q *retryQueue) close() {
	ctx, cancel := context.WithTimeout(context.Background(), q.drainAt)
	if err := q.drain(ctx); err != nil {
		q.log.Warn("background queue not drained at shutdown", "queue", q.name, "pending", q.pendingCount(), "err", err)
	}
	cancel()
	q.stop()
	q.wg.Wait()
}

func (q *retryQueue) work() {
	defer q.wg.Done()
	for {
		select {
		case <-q.ctx.Done():
			return
		case j := <-q.queue:
			q.runWithRetries(j)
			q.finish(j.key)
		}
	}
}

func (q *retryQueue) runWithRetries(j job) {
	wait := retryFirst
	for {
		err := j.run(q.ctx)
		if err == nil {
			q.done.Inc(1)
			return
		}
		if errors.Is(err, errDrop) {
			q.dropped.Inc(1)
			q.log.Warn("background job dropped", "queue", q.name, "job", j.key, "err", err)
			return
		}
		if q.ctx.Err() != nil {
			return
		}
		q.fails.Inc(1)
		q.log.Warn("background job failed; retrying", "queue", q.name, "job", j.key, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-q.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}
