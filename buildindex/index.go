package buildindex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
)

// lockStripes is how many mutexes serialize writers; writers of one repository always share
// one, writers of different repositories rarely do.
const lockStripes = 64

// backendWriteTimeout bounds one backend write or delete.
const backendWriteTimeout = 30 * time.Second

// maxMediaTypeLength bounds a manifest entry's media type (RFC 6838 allows 127 + "/" + 127).
const maxMediaTypeLength = 255

// Index is the build-index's state: per repository, its tags, its manifest records and the
// blobs it holds. Every change is written to the backend before it becomes visible in memory,
// and every read is answered from memory, so reads never wait for the backend and a re-pushed
// tag is visible to the next read.
//
// Every change is reported to the Index's Observer (see changes.go), the seam for replication
// to other clusters.
type Index struct {
	be       backend.Client
	observer Observer
	metrics  indexMetrics

	// writers serializes changes per repository (striped) so that the backend and memory
	// apply them in the same order.
	writers [lockStripes]sync.Mutex

	mu     sync.RWMutex
	repos  map[string]*repoState
	names  []string // sorted keys of repos
	counts counts
}

// counts are the index's totals, kept as changes happen (under Index.mu).
type counts struct {
	tags, manifests int
}

type indexMetrics struct {
	repositories, tags, manifests tally.Gauge
	backendErrors, loadSkipped    tally.Counter
	rollbackErrors                tally.Counter
	backendLatency                tally.Timer
	changeCounters                map[ChangeKind]tally.Counter
}

// changes returns the counter of changes of kind k.
func (m indexMetrics) changes(k ChangeKind) tally.Counter {
	if c, ok := m.changeCounters[k]; ok {
		return c
	}
	return tally.NoopScope.Counter("changes")
}

// repoState is one repository. A repository exists while it holds a tag, a manifest or a blob.
type repoState struct {
	counts    *counts
	tags      map[string]core.Digest
	tagNames  []string // sorted keys of tags
	manifests map[core.Digest]core.ManifestEntry
	referrers map[core.Digest]map[core.Digest]struct{} // subject → manifests naming it
	blobs     map[core.Digest]struct{}
}

func newRepoState(c *counts) *repoState {
	return &repoState{
		counts:    c,
		tags:      make(map[string]core.Digest),
		manifests: make(map[core.Digest]core.ManifestEntry),
		referrers: make(map[core.Digest]map[core.Digest]struct{}),
		blobs:     make(map[core.Digest]struct{}),
	}
}

func (r *repoState) empty() bool {
	return len(r.tags) == 0 && len(r.manifests) == 0 && len(r.blobs) == 0
}

func newIndex(be backend.Client, obs Observer, scope tally.Scope) *Index {
	changes := make(map[ChangeKind]tally.Counter, len(changeKindNames))
	for k, name := range changeKindNames {
		changes[k] = scope.Tagged(map[string]string{"kind": name}).Counter("changes")
	}
	return &Index{
		be:       be,
		observer: obs,
		metrics: indexMetrics{
			changeCounters: changes,
			rollbackErrors: scope.Counter("rollback_errors"),
			repositories:   scope.Gauge("repositories"),
			tags:           scope.Gauge("tags"),
			manifests:      scope.Gauge("manifests"),
			backendErrors:  scope.Counter("backend_errors"),
			loadSkipped:    scope.Counter("load_skipped"),
			backendLatency: scope.Timer("backend_write_latency"),
		},
		repos: make(map[string]*repoState),
	}
}

func (x *Index) lockRepo(repo string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(repo))
	m := &x.writers[h.Sum32()%lockStripes]
	m.Lock()
	return m.Unlock
}

// ---- reads: memory only ----

// GetTag returns the digest tag points at (ErrTagUnknown).
func (x *Index) GetTag(repo, tag string) (core.Digest, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if r, ok := x.repos[repo]; ok {
		if d, ok := r.tags[tag]; ok {
			return d, nil
		}
	}
	return core.Digest{}, fmt.Errorf("%w: %s:%s", ErrTagUnknown, repo, tag)
}

// ListTags returns up to n tags of repo after last, in lexical order (ErrNameUnknown).
func (x *Index) ListTags(repo, last string, n int) ([]string, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	r, ok := x.repos[repo]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNameUnknown, repo)
	}
	return page(r.tagNames, last, n), nil
}

// ListManifests returns up to n digests of repo's manifest records after last, in lexical
// order (ErrNameUnknown).
func (x *Index) ListManifests(repo, last string, n int) ([]string, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	r, ok := x.repos[repo]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNameUnknown, repo)
	}
	ds := make([]string, 0, len(r.manifests))
	for d := range r.manifests {
		ds = append(ds, d.String())
	}
	slices.Sort(ds)
	return page(ds, last, n), nil
}

// Repositories returns up to n repository names after last, in lexical order.
func (x *Index) Repositories(last string, n int) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return page(x.names, last, n)
}

// page copies up to n names of sorted after last.
func page(sorted []string, last string, n int) []string {
	i := 0
	if last != "" {
		j, found := slices.BinarySearch(sorted, last)
		if found {
			j++
		}
		i = j
	}
	end := len(sorted)
	if n < end-i {
		end = i + max(n, 0)
	}
	return slices.Clone(sorted[i:end:end])
}

// GetManifest returns repo's record of manifest d (ErrManifestUnknown).
func (x *Index) GetManifest(repo string, d core.Digest) (core.ManifestEntry, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if r, ok := x.repos[repo]; ok {
		if e, ok := r.manifests[d]; ok {
			return e, nil
		}
	}
	return core.ManifestEntry{}, fmt.Errorf("%w: %s@%s", ErrManifestUnknown, repo, d)
}

// Referrers returns repo's manifests whose subject is d, ordered by digest.
func (x *Index) Referrers(repo string, d core.Digest) []core.ManifestEntry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := []core.ManifestEntry{}
	r, ok := x.repos[repo]
	if !ok {
		return out
	}
	for m := range r.referrers[d] {
		out = append(out, r.manifests[m])
	}
	slices.SortFunc(out, func(a, b core.ManifestEntry) int {
		return compareStrings(a.Digest.String(), b.Digest.String())
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// HasBlob reports whether repo holds blob d (ErrBlobUnknown).
func (x *Index) HasBlob(repo string, d core.Digest) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if r, ok := x.repos[repo]; ok {
		if _, ok := r.blobs[d]; ok {
			return nil
		}
	}
	return fmt.Errorf("%w: %s@%s", ErrBlobUnknown, repo, d)
}

// ---- writes: backend first, then memory ----

// CheckEntry validates a manifest entry.
func CheckEntry(e core.ManifestEntry) error {
	switch {
	case e.Digest.IsZero():
		return fmt.Errorf("%w: no digest", ErrEntryInvalid)
	case e.MediaType == "" || len(e.MediaType) > maxMediaTypeLength:
		return fmt.Errorf("%w: media type %q", ErrEntryInvalid, e.MediaType)
	case e.Size < 0:
		return fmt.Errorf("%w: size %d", ErrEntryInvalid, e.Size)
	case len(e.ArtifactType) > maxMediaTypeLength:
		return fmt.Errorf("%w: artifact type %q", ErrEntryInvalid, e.ArtifactType)
	}
	return nil
}

// PutManifest records e in repo and, if tag is not "", points tag at it. The record and the
// tag become visible together or not at all: if the tag cannot be written, the record written
// for it is taken back out of the backend (a record that fails to come out is harmless, an
// untagged manifest, and shows up only after a restart).
func (x *Index) PutManifest(ctx context.Context, repo string, e core.ManifestEntry, tag string) error {
	if err := CheckRepo(repo); err != nil {
		return err
	}
	if tag != "" {
		if err := CheckTag(tag); err != nil {
			return err
		}
	}
	if err := CheckEntry(e); err != nil {
		return err
	}
	unlock := x.lockRepo(repo)
	defer unlock()

	x.mu.RLock()
	old, had := x.repos[repo].manifest(e.Digest)
	cur, tagged := x.repos[repo].tag(tag)
	x.mu.RUnlock()
	writeManifest := !had || !sameEntry(old, e)
	writeTag := tag != "" && (!tagged || cur != e.Digest)
	if !writeManifest && !writeTag {
		return nil
	}
	if writeManifest {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrEntryInvalid, err)
		}
		if err := x.upload(ctx, manifestObject(repo, e.Digest), b); err != nil {
			return err
		}
	}
	if writeTag {
		if err := x.upload(ctx, tagObject(repo, tag), []byte(e.Digest.String())); err != nil {
			if writeManifest {
				x.rollbackManifest(ctx, repo, e.Digest, old, had)
			}
			return fmt.Errorf("manifest %s with tag %s: %w", e.Digest, tag, err)
		}
	}
	x.mu.Lock()
	r := x.repo(repo)
	if writeManifest {
		r.setManifest(e)
	}
	if writeTag {
		r.setTag(tag, e.Digest)
	}
	x.updateGauges()
	x.mu.Unlock()
	x.notify(ctx, Change{Kind: ChangeManifestPut, Repo: repo, Entry: e, Tag: tag})
	return nil
}

// rollbackManifest puts back the backend's record of manifest d as it was before a failed
// PutManifest: the old record if there was one, else none.
func (x *Index) rollbackManifest(ctx context.Context, repo string, d core.Digest, old core.ManifestEntry, had bool) {
	var err error
	if had {
		var b []byte
		if b, err = json.Marshal(old); err == nil {
			err = x.upload(ctx, manifestObject(repo, d), b)
		}
	} else {
		err = x.delete(ctx, manifestObject(repo, d))
	}
	if err != nil {
		x.metrics.rollbackErrors.Inc(1)
	}
}

// DeleteTag removes one tag (ErrTagUnknown).
func (x *Index) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := CheckRepo(repo); err != nil {
		return err
	}
	if err := CheckTag(tag); err != nil {
		return err
	}
	unlock := x.lockRepo(repo)
	defer unlock()
	if _, err := x.GetTag(repo, tag); err != nil {
		return err
	}
	if err := x.deleteTagLocked(ctx, repo, tag); err != nil {
		return err
	}
	x.notify(ctx, Change{Kind: ChangeTagDelete, Repo: repo, Tag: tag})
	return nil
}

func (x *Index) deleteTagLocked(ctx context.Context, repo, tag string) error {
	if err := x.delete(ctx, tagObject(repo, tag)); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.repos[repo]; ok {
		r.deleteTag(tag)
		x.dropIfEmpty(repo, r)
	}
	x.updateGauges()
	return nil
}

// DeleteManifest removes manifest d from repo and every tag pointing at it
// (ErrManifestUnknown). Tags go first: a failure part-way leaves the manifest and possibly
// some of its tags, never a tag without its manifest.
func (x *Index) DeleteManifest(ctx context.Context, repo string, d core.Digest) error {
	if err := CheckRepo(repo); err != nil {
		return err
	}
	unlock := x.lockRepo(repo)
	defer unlock()
	if _, err := x.GetManifest(repo, d); err != nil {
		return err
	}
	x.mu.RLock()
	var tags []string
	r := x.repos[repo]
	for _, t := range r.tagNames {
		if r.tags[t] == d {
			tags = append(tags, t)
		}
	}
	x.mu.RUnlock()
	for i, t := range tags {
		if err := x.deleteTagLocked(ctx, repo, t); err != nil {
			x.notifyTagsDeleted(ctx, repo, tags[:i])
			return err
		}
	}
	if err := x.delete(ctx, manifestObject(repo, d)); err != nil {
		x.notifyTagsDeleted(ctx, repo, tags)
		return err
	}
	x.mu.Lock()
	if r, ok := x.repos[repo]; ok {
		r.deleteManifest(d)
		x.dropIfEmpty(repo, r)
	}
	x.updateGauges()
	x.mu.Unlock()
	x.notify(ctx, Change{Kind: ChangeManifestDelete, Repo: repo, Digest: d, Tags: tags})
	return nil
}

// notifyTagsDeleted reports the tags a failed DeleteManifest did remove, one change each.
func (x *Index) notifyTagsDeleted(ctx context.Context, repo string, tags []string) {
	for _, t := range tags {
		x.notify(ctx, Change{Kind: ChangeTagDelete, Repo: repo, Tag: t})
	}
}

// LinkBlob records that repo holds blob d. Linking twice is not an error.
func (x *Index) LinkBlob(ctx context.Context, repo string, d core.Digest) error {
	if err := CheckRepo(repo); err != nil {
		return err
	}
	unlock := x.lockRepo(repo)
	defer unlock()
	if x.HasBlob(repo, d) == nil {
		return nil
	}
	if err := x.upload(ctx, blobObject(repo, d), nil); err != nil {
		return err
	}
	x.mu.Lock()
	x.repo(repo).blobs[d] = struct{}{}
	x.updateGauges()
	x.mu.Unlock()
	x.notify(ctx, Change{Kind: ChangeBlobLink, Repo: repo, Digest: d})
	return nil
}

// UnlinkBlob removes blob d from repo's view (ErrBlobUnknown).
func (x *Index) UnlinkBlob(ctx context.Context, repo string, d core.Digest) error {
	if err := CheckRepo(repo); err != nil {
		return err
	}
	unlock := x.lockRepo(repo)
	defer unlock()
	if err := x.HasBlob(repo, d); err != nil {
		return err
	}
	if err := x.delete(ctx, blobObject(repo, d)); err != nil {
		return err
	}
	x.mu.Lock()
	if r, ok := x.repos[repo]; ok {
		delete(r.blobs, d)
		x.dropIfEmpty(repo, r)
	}
	x.updateGauges()
	x.mu.Unlock()
	x.notify(ctx, Change{Kind: ChangeBlobUnlink, Repo: repo, Digest: d})
	return nil
}

// writeContext detaches a backend write from its caller: a client that hangs up must not
// abort a write half-way, leaving the backend changed while memory is not. The write is still
// bounded by backendWriteTimeout.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), backendWriteTimeout)
}

func (x *Index) upload(ctx context.Context, name string, b []byte) error {
	ctx, cancel := writeContext(ctx)
	defer cancel()
	sw := x.metrics.backendLatency.Start()
	defer sw.Stop()
	if err := x.be.Upload(ctx, name, bytes.NewReader(b), int64(len(b))); err != nil {
		x.metrics.backendErrors.Inc(1)
		return fmt.Errorf("%w: write %s: %w", ErrBackend, name, err)
	}
	return nil
}

func (x *Index) delete(ctx context.Context, name string) error {
	ctx, cancel := writeContext(ctx)
	defer cancel()
	sw := x.metrics.backendLatency.Start()
	defer sw.Stop()
	if err := x.be.Delete(ctx, name); err != nil && !errors.Is(err, backend.ErrNotFound) {
		x.metrics.backendErrors.Inc(1)
		return fmt.Errorf("%w: delete %s: %w", ErrBackend, name, err)
	}
	return nil
}

// ---- memory helpers; callers hold x.mu as noted ----

// repo returns repo's state, creating it (x.mu held for writing).
func (x *Index) repo(repo string) *repoState {
	r, ok := x.repos[repo]
	if !ok {
		r = newRepoState(&x.counts)
		x.repos[repo] = r
		x.names = insertSorted(x.names, repo)
	}
	return r
}

// dropIfEmpty forgets a repository that holds nothing any more (x.mu held for writing).
func (x *Index) dropIfEmpty(repo string, r *repoState) {
	if r.empty() {
		delete(x.repos, repo)
		x.names = removeSorted(x.names, repo)
	}
}

// updateGauges reports the index's size (x.mu held).
func (x *Index) updateGauges() {
	x.metrics.repositories.Update(float64(len(x.repos)))
	x.metrics.tags.Update(float64(x.counts.tags))
	x.metrics.manifests.Update(float64(x.counts.manifests))
}

func (r *repoState) manifest(d core.Digest) (core.ManifestEntry, bool) {
	if r == nil {
		return core.ManifestEntry{}, false
	}
	e, ok := r.manifests[d]
	return e, ok
}

func (r *repoState) tag(t string) (core.Digest, bool) {
	if r == nil {
		return core.Digest{}, false
	}
	d, ok := r.tags[t]
	return d, ok
}

func (r *repoState) setManifest(e core.ManifestEntry) {
	if old, ok := r.manifests[e.Digest]; ok && !old.Subject.IsZero() {
		r.unrefer(old.Subject, e.Digest)
	}
	if _, ok := r.manifests[e.Digest]; !ok {
		r.counts.manifests++
	}
	r.manifests[e.Digest] = e
	if !e.Subject.IsZero() {
		set, ok := r.referrers[e.Subject]
		if !ok {
			set = make(map[core.Digest]struct{})
			r.referrers[e.Subject] = set
		}
		set[e.Digest] = struct{}{}
	}
}

func (r *repoState) deleteManifest(d core.Digest) {
	e, ok := r.manifests[d]
	if !ok {
		return
	}
	if !e.Subject.IsZero() {
		r.unrefer(e.Subject, d)
	}
	delete(r.manifests, d)
	r.counts.manifests--
}

func (r *repoState) unrefer(subject, d core.Digest) {
	if set, ok := r.referrers[subject]; ok {
		delete(set, d)
		if len(set) == 0 {
			delete(r.referrers, subject)
		}
	}
}

func (r *repoState) setTag(t string, d core.Digest) {
	if _, ok := r.tags[t]; !ok {
		r.tagNames = insertSorted(r.tagNames, t)
		r.counts.tags++
	}
	r.tags[t] = d
}

func (r *repoState) deleteTag(t string) {
	if _, ok := r.tags[t]; ok {
		delete(r.tags, t)
		r.tagNames = removeSorted(r.tagNames, t)
		r.counts.tags--
	}
}

func insertSorted(s []string, v string) []string {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func removeSorted(s []string, v string) []string {
	i, found := slices.BinarySearch(s, v)
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}

// sameEntry reports whether two entries would be stored identically.
func sameEntry(a, b core.ManifestEntry) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
