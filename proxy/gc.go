package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
	originclient "github.com/docket-p2p/docket/origin/client"
)

// Garbage collection runs in the proxy, the one component that knows both halves: the
// build-index's repositories, tags and manifest records, and the origin ring where blobs
// (manifests included) live. It is a mark and sweep:
//
//   - mark: every manifest any repository still records (tagged or not; tags point at
//     recorded manifests) and everything it refers to: config and layers of an image, child
//     manifests of an index, its subject. A manifest that cannot be read aborts the pass:
//     nothing is swept on an incomplete mark.
//   - sweep: every blob on the origins' disks that is not marked and that no origin has
//     written or used (read, or stat by a registry HEAD) within the grace period, by its clock,
//     is deleted on the origins and in the backend (DELETE /blobs/<digest>, which an origin
//     passes on to its peers). An upload in progress is not a blob yet, a blob pushed within
//     the grace period is never taken, and a push that skips an existing blob after a HEAD has
//     made it young: a push is safe as long as it ends within the grace period.
//
// The backends (the default and every namespace row's) are listed too, through any origin, so
// a blob evicted from every disk is swept from them by its upload time.
//
// Limit: a HEAD that lands between an origin's listing and the delete does not save the blob
// (a window of one sweep).
//
// Agents learn of the sweep from the origins: every origin records the blobs it deletes
// (origin/tombstones.go), and agents poll those records (GET /deleted), drop the blobs from
// their caches and stop seeding them (agent/deletions.go).

// DefaultGCGrace is how old an unreferenced blob must be before the collector deletes it.
const DefaultGCGrace = 24 * time.Hour

// gcPage is how many names one listing request asks for.
const gcPage = client.MaxPage

// GCResult counts one collection.
type GCResult struct {
	Marked  int // blobs (manifests included) reachable from the index
	Swept   int // blobs deleted
	Young   int // unreferenced blobs spared because younger than the grace period
	Scanned int // blobs listed on origins (a blob on several origins counts once per origin)
}

// gcIndex is what the collector needs of the build-index.
type gcIndex interface {
	Repositories(ctx context.Context, last string, n int) ([]string, error)
	ListManifests(ctx context.Context, repo, last string, n int) ([]core.Digest, error)
	GetManifest(ctx context.Context, repo string, d core.Digest) (core.ManifestEntry, error)
}

// collector runs mark and sweep over one origin ring and one build-index.
type collector struct {
	index   gcIndex
	cluster *originclient.Cluster
	now     func() time.Time
	grace   time.Duration
}

// Collect runs one mark and sweep.
func (c *collector) Collect(ctx context.Context) (GCResult, error) {
	var res GCResult
	marked, err := c.mark(ctx)
	if err != nil {
		return res, fmt.Errorf("gc: mark: %w", err)
	}
	res.Marked = len(marked)
	cutoff := c.now().Add(-c.grace)
	// A blob is doomed only if every origin that lists it has not used it within the grace.
	old, young := map[core.Digest]bool{}, map[core.Digest]bool{}
	classify := func(b originclient.ListedBlob) error {
		res.Scanned++
		d, err := core.ParseDigest(b.Digest)
		if err != nil || marked[d] {
			return err
		}
		if b.Modified.Before(cutoff) {
			old[d] = true
		} else {
			young[d] = true
		}
		return nil
	}
	for _, addr := range c.cluster.Ring().Members() {
		l, ok := c.cluster.Client(addr).(originclient.Lister)
		if !ok {
			return res, fmt.Errorf("gc: origin %s cannot list its blobs", addr)
		}
		if err := listAll(ctx, l.List, classify); err != nil {
			return res, fmt.Errorf("gc: list origin %s: %w", addr, err)
		}
	}
	// Blobs only the backend holds (evicted from every disk) are swept from it too.
	if err := c.listBackend(ctx, classify); err != nil {
		return res, fmt.Errorf("gc: list backend: %w", err)
	}
	res.Young = len(young)
	var errs []error
	for d := range old {
		if young[d] {
			continue
		}
		// Any origin deletes everywhere: its own copy, the backend's and its peers'.
		var err error
		for _, o := range c.cluster.Holders(d) {
			if err = o.Delete(ctx, "", d); err == nil {
				break
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("gc: delete %s: %w", d, err))
			continue
		}
		res.Swept++
	}
	return res, errors.Join(errs...)
}

// listBackend pages through the backends' blobs, asking the first origin that answers.
func (c *collector) listBackend(ctx context.Context, fn func(originclient.ListedBlob) error) error {
	var errs []error
	for _, addr := range c.cluster.Ring().Members() {
		l, ok := c.cluster.Client(addr).(originclient.BackendLister)
		if !ok {
			continue
		}
		err := listAll(ctx, l.ListBackend, fn)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(append(errs, errors.New("no origin listed the backend"))...)
}

// listAll pages through an origin's blob list.
func listAll(ctx context.Context, list func(ctx context.Context, after string, n int) (originclient.ListPage, error), fn func(originclient.ListedBlob) error) error {
	after := ""
	for {
		page, err := list(ctx, after, originclient.ListPageMax)
		if err != nil {
			return err
		}
		for _, b := range page.Blobs {
			if err := fn(b); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// mark returns every blob reachable from the index's manifest records.
func (c *collector) mark(ctx context.Context) (map[core.Digest]bool, error) {
	marked := map[core.Digest]bool{}
	for last := ""; ; {
		repos, err := c.index.Repositories(ctx, last, gcPage)
		if err != nil {
			return nil, err
		}
		for _, repo := range repos {
			if err := c.markRepo(ctx, repo, marked); err != nil {
				return nil, err
			}
		}
		if len(repos) < gcPage {
			return marked, nil
		}
		last = repos[len(repos)-1]
	}
}

func (c *collector) markRepo(ctx context.Context, repo string, marked map[core.Digest]bool) error {
	ds, err := c.index.ListManifests(ctx, repo, "", -1)
	if err != nil {
		if client.IsNotFound(err) {
			return nil // the repository went away meanwhile
		}
		return err
	}
	for _, d := range ds {
		e, err := c.index.GetManifest(ctx, repo, d)
		if err != nil {
			if client.IsNotFound(err) {
				continue // deleted meanwhile: its blobs are not reached through it
			}
			return err
		}
		refs, err := c.references(ctx, repo, e)
		if err != nil {
			return fmt.Errorf("manifest %s of %s: %w", d, repo, err)
		}
		marked[d] = true
		for _, r := range refs {
			marked[r] = true
		}
	}
	return nil
}

// references reads manifest e from the origins and returns what it refers to.
func (c *collector) references(ctx context.Context, repo string, e core.ManifestEntry) ([]core.Digest, error) {
	body, err := c.cluster.Download(ctx, repo, e.Digest, 0, -1)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return registry.ManifestReferences(body, e.MediaType)
}
