package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/store"
	originclient "github.com/docket-p2p/docket/origin/client"
)

// deletionOverlap is how far before the newest deletion it has seen an agent asks again: the
// origins' clocks differ a little, and the next origin asked may have recorded a deletion a
// moment earlier by its clock. Records seen twice are harmless.
const deletionOverlap = 5 * time.Minute

// deletionFollower drops the blobs the origins deleted (garbage collection, DELETE) from the
// agent's cache: it pages through an origin's deletion records (GET /deleted) from the newest
// it has seen, asking the next origin when one does not answer.
type deletionFollower struct {
	cluster *originclient.Cluster
	store   *store.Store
	forget  func(core.Digest) // stops seeding a blob
	log     *slog.Logger
	dropped tally.Counter

	newest time.Time // the newest deletion seen, by the recording origin's clock
}

// poll reads the deletions recorded since the last poll from the first origin that answers and
// drops those blobs; it returns how many it dropped.
func (f *deletionFollower) poll(ctx context.Context) (int, error) {
	members := f.cluster.Ring().Members()
	var errs []error
	for _, i := range rand.Perm(len(members)) {
		l, ok := f.cluster.Client(members[i]).(originclient.DeletionLister)
		if !ok {
			continue
		}
		n, err := f.follow(ctx, l)
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("origin %s: %w", members[i], err))
	}
	return 0, fmt.Errorf("agent: reading deletions: %w", errors.Join(append(errs, errors.New("no origin answered"))...))
}

// follow pages through one origin's deletions since the newest seen (less the overlap).
func (f *deletionFollower) follow(ctx context.Context, l originclient.DeletionLister) (int, error) {
	var since time.Time
	if !f.newest.IsZero() {
		since = f.newest.Add(-deletionOverlap)
	}
	dropped := 0
	for {
		page, err := l.Deleted(ctx, since, originclient.TombstonePageMax)
		if err != nil {
			return dropped, err
		}
		for _, t := range page.Deleted {
			d, err := core.ParseDigest(t.Digest)
			if err != nil {
				return dropped, err
			}
			if f.drop(ctx, d) {
				dropped++
			}
			if t.Deleted.After(f.newest) {
				f.newest = t.Deleted
			}
		}
		if !page.More || len(page.Deleted) == 0 {
			return dropped, nil
		}
		// The next page starts at the last record's time; a page full of one instant (which
		// the origin's clock makes all but impossible) moves past it.
		next := page.Deleted[len(page.Deleted)-1].Deleted
		if !next.After(since) {
			next = since.Add(time.Nanosecond)
		}
		since = next
	}
}

// drop removes d from the cache and stops seeding it; it reports whether it did. A blob the
// origins hold again (pushed anew after the delete; only some origins drop their record then)
// stays. Readers already serving it keep their open file.
func (f *deletionFollower) drop(ctx context.Context, d core.Digest) bool {
	if _, err := f.store.Stat(d); err != nil {
		return false
	}
	if _, err := f.cluster.Stat(ctx, "", d); err == nil {
		return false
	}
	f.forget(d)
	if err := f.store.Delete(d); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			f.log.Warn("dropping a deleted blob", "digest", d, "err", err)
		}
		return false
	}
	f.dropped.Inc(1)
	f.log.Info("dropped a blob the registry deleted", "digest", d)
	return true
}

// run polls every interval until ctx ends, and once at the start.
func (f *deletionFollower) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := f.poll(ctx); err != nil && ctx.Err() == nil {
			f.log.Debug("deletions not read", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
