package origin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/store"
)

// writeBackWorkers is how many blobs are copied to the backend at once.
const writeBackWorkers = 4

// writeBack copies committed blobs to the backend in the background, retrying each until it
// succeeds. A blob is queued at most once at a time per namespace, and enqueue never waits
// for the backend.
//
// Every queued blob is first recorded in the journal (<data_dir>/writeback), durably, before
// the commit is acknowledged, and forgotten once it is in the backend; at start-up the
// journal is queued again. A crash or restart therefore delays a write-back but never loses
// it, and an object store that is down for hours only grows the journal.
type writeBack struct {
	store    *store.Store
	backends backendRouter
	journal  *journal
	now      func() time.Time
	log      *slog.Logger
	q        *retryQueue

	// oldest reports, in seconds, how long the oldest blob still owed to the backend has been
	// waiting (0 when none is); it is updated whenever a blob is queued, tried or written.
	oldest tally.Gauge
	mu     sync.Mutex
	since  map[string]time.Time // queue key → when the blob was first owed
}

func newWriteBack(st *store.Store, be backendRouter, j *journal, now func() time.Time, log *slog.Logger, scope tally.Scope) *writeBack {
	return &writeBack{
		store: st, backends: be, journal: j, now: now, log: log,
		q:      newRetryQueue("write-back", writeBackWorkers, writeBackDrainTimeout, log, scope),
		oldest: scope.Gauge("oldest_age_seconds"), since: make(map[string]time.Time),
	}
}

// owed records that the blob of queue key k has been owed since t (the earliest time wins)
// and refreshes the age gauge.
func (w *writeBack) owed(k string, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.since[k]; !ok || t.Before(old) {
		w.since[k] = t
	}
	w.updateOldest()
}

// settled forgets the blob of queue key k (written back or dropped) and refreshes the gauge.
func (w *writeBack) settled(k string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.since, k)
	w.updateOldest()
}

// updateOldest sets the gauge to how long the oldest blob still owed has waited (0 if none
// is); mu is held.
func (w *writeBack) updateOldest() {
	var age time.Duration
	now := w.now()
	for _, t := range w.since {
		age = max(age, now.Sub(t))
	}
	w.oldest.Update(age.Seconds())
}

// enqueue records d in the journal as owed to the backend of namespace ns, then schedules
// its write-back unless it is already pending. The journal error, if any, is returned after
// the blob is queued anyway (it is then owed only as long as this process lives).
// (Namespaces sharing a backend may queue one blob twice; the second copy finds it there and
// uploads nothing.)
//
// A namespace whose backend is read-only (an HTTP server, another registry) owes nothing:
// its blobs are neither journalled nor queued.
func (w *writeBack) enqueue(ns string, d core.Digest) error {
	if backend.IsReadOnly(w.backends.For(ns)) {
		w.log.Debug("no write-back: the namespace's backend is read-only", "digest", d, "ns", ns)
		return nil
	}
	now := w.now()
	err := w.journal.add(journalEntry{NS: ns, Digest: d, Queued: now})
	w.schedule(ns, d, now)
	return err
}

// schedule queues the write-back of a journalled blob, owed since queued.
func (w *writeBack) schedule(ns string, d core.Digest, queued time.Time) {
	key := ns + " " + d.String()
	w.owed(key, queued)
	w.q.enqueue(job{key: key, run: func(ctx context.Context) error {
		w.owed(key, queued) // refreshes the age on every attempt
		err := w.copy(ctx, w.backends.For(ns), d)
		if err == nil || errors.Is(err, errDrop) {
			if jerr := w.journal.remove(ns, d); jerr != nil {
				w.log.Warn("forgetting a written-back blob", "digest", d, "ns", ns, "err", jerr)
			}
			w.settled(key)
		}
		return err
	}})
}

// recover queues every blob the journal says is owed to the backend, after a restart.
func (w *writeBack) recover() error {
	es, bad, err := w.journal.entries()
	if err != nil {
		return err
	}
	for _, e := range bad {
		w.log.Warn("dropping a damaged write-back journal entry", "err", e)
	}
	for _, e := range es {
		w.schedule(e.NS, e.Digest, e.Queued)
	}
	if len(es) > 0 {
		w.log.Info("resuming write-back", "blobs", len(es))
	}
	return nil
}

// drain waits until every queued blob has been written back, or ctx ends.
func (w *writeBack) drain(ctx context.Context) error { return w.q.drain(ctx) }

// close writes back what is queued (for a bounded time) and stops the workers.
func (w *writeBack) close() { w.q.close() }

// copy uploads d to the backend unless it is there already. A blob no longer on disk
// (deleted meanwhile) is dropped: there is nothing left to write. So is a blob owed to a
// backend that has since become read-only (a journal entry from before a config change).
func (w *writeBack) copy(ctx context.Context, be backend.Client, d core.Digest) error {
	if backend.IsReadOnly(be) {
		return fmt.Errorf("%w: %w", errDrop, backend.ErrReadOnly)
	}
	name := blobName(d)
	f, err := w.store.Open(d)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %w", errDrop, err)
		}
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if info, err := be.Stat(ctx, name); err == nil && info.Size == fi.Size() {
		return nil // already there (content-addressed: same name, same bytes)
	}
	if err := be.Upload(ctx, name, f, fi.Size()); err != nil {
		if errors.Is(err, backend.ErrReadOnly) {
			return fmt.Errorf("%w: %w", errDrop, err)
		}
		return err
	}
	return nil
}

// blobName is d's object name in the backend.
func blobName(d core.Digest) string {
	return backend.BlobName(d)
}
