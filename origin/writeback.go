package origin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/store"
)

// writeBackWorkers is how many blobs are copied to the backend at once.
const writeBackWorkers = 4

// writeBack copies committed blobs to the backend in the background, retrying each until it
// succeeds. A digest is queued at most once at a time, and enqueue never blocks a request.
//
// The queue lives in memory: a blob committed just before a crash stays on the owners' disks
// (a commit is acknowledged only once an owner holds it, and every owner queues its own
// write-back) but reaches the backend only when it is written again; the persistent queue of
// the object-storage work replaces this one.
type writeBack struct {
	store    *store.Store
	backends backendRouter
	q        *retryQueue
}

func newWriteBack(st *store.Store, be backendRouter, log *slog.Logger, scope tally.Scope) *writeBack {
	return &writeBack{store: st, backends: be, q: newRetryQueue("write-back", writeBackWorkers, writeBackDrainTimeout, log, scope)}
}

// enqueue schedules d for write-back to the backend of namespace ns unless it is already
// pending. (Namespaces sharing a backend may queue one blob twice; the second copy finds it
// there and uploads nothing.)
func (w *writeBack) enqueue(ns string, d core.Digest) {
	w.q.enqueue(job{key: ns + " " + d.String(), run: func(ctx context.Context) error { return w.copy(ctx, w.backends.For(ns), d) }})
}

// drain waits until every queued blob has been written back, or ctx ends.
func (w *writeBack) drain(ctx context.Context) error { return w.q.drain(ctx) }

// close writes back what is queued (for a bounded time) and stops the workers.
func (w *writeBack) close() { w.q.close() }

// copy uploads d to the backend unless it is there already. A blob no longer on disk
// (deleted meanwhile) is dropped: there is nothing left to write.
func (w *writeBack) copy(ctx context.Context, be backend.Client, d core.Digest) error {
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
	return be.Upload(ctx, name, f, fi.Size())
}

// blobName is d's object name in the backend.
func blobName(d core.Digest) string {
	return "blobs/" + d.Algorithm() + "/" + d.Hex()[:2] + "/" + d.Hex()
}
