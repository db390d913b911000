// Package store is Docket's content-addressed blob store on local disk, used by origins and
// agents alike.
//
// Layout under the root:
//
//	blobs/<alg>/<first 2 hex>/<hex>           the blob, published only once verified
//	blobs/<alg>/<first 2 hex>/<hex>.metainfo  its BitTorrent metainfo, computed once
//	uploads/<id>                              a resumable upload in progress
//	tmp/                                      Put's temp files
//
// Every write streams into a temp file while hashing, is verified against the digest (and the
// size, when known), fsynced, renamed into place and the directory fsynced: nothing
// half-written is ever visible under a digest, and a crash leaves at worst a temp file. Two
// writers of one digest both succeed (the content is the same); a reader holds its open file
// whatever a writer or Delete does meanwhile.
//
// With a byte budget (Options.Budget) the store evicts least-recently-used blobs past it
// (budget.go): only published blobs count, use is tracked in memory (seeded from mtimes at
// open, written back to mtimes at most once a minute per blob), and pinned blobs, blobs used
// within the evict grace and blobs Options.Keep names are never evicted.
//
// One Store per root: uploads keep their running hash in memory, so two Stores (or two
// processes) sharing a root must not serve the same uploads. Opening a second Store on a root
// is harmless to the first's blobs and in-flight temp files, which stay locked while written.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"
	"golang.org/x/sync/singleflight"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/fsutil"
	"github.com/docket-p2p/docket/lib/metainfo"
)

// DefaultUploadTTL is how long an upload may sit untouched before PurgeUploads removes it.
const DefaultUploadTTL = 24 * time.Hour

// uploadIDPattern is what an upload id may look like: it becomes a file name.
var uploadIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

const metainfoSuffix = ".metainfo"

// Options tunes a Store; the zero value is usable.
type Options struct {
	// Scope receives the store's metrics (default: none).
	Scope tally.Scope
	// Now is the clock used for upload expiry (default time.Now).
	Now func() time.Time
	// UploadTTL is how long an idle upload survives (default DefaultUploadTTL).
	UploadTTL time.Duration
	// PieceLengths chooses metainfo piece lengths by blob size (default metainfo.DefaultTable).
	PieceLengths metainfo.Table
	// Budget is how many bytes of blobs the store keeps (default 0: no bound). Past it, Evict
	// (run after every new blob and by RunEvictor) removes least-recently-used blobs.
	Budget int64
	// Keep, if set, names blobs that must never be evicted (the origin: not yet written back).
	// It is called with the store's LRU lock held and must not call the store.
	Keep func(core.Digest) bool
	// EvictGrace is how long after its last use a blob is safe from eviction (default
	// DefaultEvictGrace).
	EvictGrace time.Duration
}

// Store is a content-addressed store rooted at one directory.
type Store struct {
	root    string
	opts    Options
	metrics storeMetrics

	uploadsMu sync.Mutex
	uploads   map[string]*upload

	meta singleflight.Group

	lru lru
}

type storeMetrics struct {
	bytesWritten, bytesRead, puts, commits, verifyFailures, metainfos, uploadsExpired, evictions tally.Counter
	bytesUsed, budget                                                                            tally.Gauge
}

// New opens (creating if needed) a store rooted at root.
func New(root string, opts Options) (*Store, error) {
	if opts.Scope == nil {
		opts.Scope = tally.NoopScope
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UploadTTL <= 0 {
		opts.UploadTTL = DefaultUploadTTL
	}
	if opts.PieceLengths == nil {
		opts.PieceLengths = metainfo.DefaultTable
	}
	if opts.EvictGrace <= 0 {
		opts.EvictGrace = DefaultEvictGrace
	}
	for _, dir := range []string{"blobs", "uploads", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	// Temp files of a writer that died are garbage: nobody can resume them. Files a live
	// writer holds (another Store on this root, in this process or another) are kept.
	if entries, err := os.ReadDir(filepath.Join(root, "tmp")); err == nil {
		for _, e := range entries {
			fsutil.RemoveStaleTemp(filepath.Join(root, "tmp", e.Name()))
		}
	}
	s := opts.Scope
	st := &Store{
		root: root,
		opts: opts,
		metrics: storeMetrics{
			bytesWritten:   s.Counter("bytes_written"),
			bytesRead:      s.Counter("bytes_read"),
			puts:           s.Counter("puts"),
			commits:        s.Counter("upload_commits"),
			verifyFailures: s.Counter("verify_failures"),
			metainfos:      s.Counter("metainfo_computed"),
			uploadsExpired: s.Counter("uploads_expired"),
			evictions:      s.Counter("evictions"),
			bytesUsed:      s.Gauge("bytes_used"),
			budget:         s.Gauge("budget_bytes"),
		},
		uploads: make(map[string]*upload),
	}
	if err := st.seedLRU(); err != nil {
		return nil, err
	}
	return st, nil
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) blobPath(d core.Digest) string {
	hex := d.Hex()
	return filepath.Join(s.root, "blobs", d.Algorithm(), hex[:2], hex)
}

// Stat returns the size of blob d, or ErrNotFound.
func (s *Store) Stat(d core.Digest) (int64, error) {
	fi, err := os.Stat(s.blobPath(d))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("%w: %s", ErrNotFound, d)
		}
		return 0, fmt.Errorf("store: %w", err)
	}
	return fi.Size(), nil
}

// Open opens blob d for reading, or returns ErrNotFound. It counts as a use of d (see Evict);
// a caller that reads for long holds a Pin as well.
func (s *Store) Open(d core.Digest) (*os.File, error) {
	f, err := os.Open(s.blobPath(d))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, d)
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	if fi, err := f.Stat(); err == nil {
		s.used(d, fi.Size())
	}
	return f, nil
}

// Put stores the content of r under d, verifying digest and (if size >= 0) size while it
// streams. Nothing is published unless both match, and a failure (mismatch, read error, end
// of ctx) leaves nothing behind. If d is already stored, Put returns nil without reading r
// (ErrSizeMismatch if size disagrees with the stored blob).
func (s *Store) Put(ctx context.Context, d core.Digest, size int64, r io.Reader) error {
	if stored, err := s.alreadyStored(d, size); stored || err != nil {
		return err
	}
	tmp, err := s.createTemp("put-")
	if err != nil {
		return err
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	g := d.NewDigester()
	src := &fsutil.CtxReader{Ctx: ctx, R: r}
	dst := io.MultiWriter(&syncingWriter{f: tmp}, g)
	var n int64
	if size >= 0 {
		n, err = copyBuffer(dst, io.LimitReader(src, size+1))
	} else {
		n, err = copyBuffer(dst, src)
	}
	s.metrics.bytesWritten.Inc(n)
	if err != nil {
		return fmt.Errorf("store: put %s: %w", d, err)
	}
	if size >= 0 && n != size {
		s.metrics.verifyFailures.Inc(1)
		return fmt.Errorf("%w: %s: got %d bytes (or more), want %d", ErrSizeMismatch, d, n, size)
	}
	if err := s.checkDigest(g, d); err != nil {
		return err
	}
	if err := s.publish(tmp, d, n); err != nil {
		return err
	}
	tmp = nil
	s.metrics.puts.Inc(1)
	return nil
}

// alreadyStored reports whether d is stored, counting it as used if so; a stored blob whose
// size differs from size (when size >= 0) is ErrSizeMismatch.
func (s *Store) alreadyStored(d core.Digest, size int64) (bool, error) {
	have, err := s.Stat(d)
	if err != nil {
		return false, nil
	}
	if size >= 0 && have != size {
		s.metrics.verifyFailures.Inc(1)
		return true, fmt.Errorf("%w: %s is stored with %d bytes, not %d", ErrSizeMismatch, d, have, size)
	}
	s.used(d, have)
	return true, nil
}

// checkDigest compares what g hashed with d.
func (s *Store) checkDigest(g *core.Digester, d core.Digest) error {
	if got := g.Digest(); got != d {
		s.metrics.verifyFailures.Inc(1)
		return fmt.Errorf("%w: got %s, want %s", ErrDigestMismatch, got, d)
	}
	return nil
}

// CreateTemp creates a file in the store's temp area for a blob written piece by piece (a
// peer-to-peer download); PutFile publishes it without a copy. The caller closes it and, unless
// PutFile succeeded, removes it.
func (s *Store) CreateTemp() (*os.File, error) { return s.createTemp("download-") }

// PutFile publishes f, a file from CreateTemp holding size bytes, under d: it reads f back to
// check the digest, fsyncs it and renames it into place. f stays open (readers of it keep
// reading what is now the blob); on failure the caller removes it.
// If d is already stored, PutFile checks the size and returns nil.
func (s *Store) PutFile(ctx context.Context, f *os.File, d core.Digest, size int64) error {
	return s.PutFileFrom(ctx, f, d, size, d.NewDigester(), 0)
}

// PutFileFrom is PutFile for a caller that has already fed g, a digester of d's algorithm,
// the first hashed bytes of f, read back from f (a download hashing its file while it is
// written): only the rest is read to check the digest.
func (s *Store) PutFileFrom(ctx context.Context, f *os.File, d core.Digest, size int64, g *core.Digester, hashed int64) error {
	if hashed < 0 || hashed > size {
		return fmt.Errorf("store: put %s: %d bytes hashed of %d", d, hashed, size)
	}
	if stored, err := s.alreadyStored(d, size); stored || err != nil {
		return err
	}
	if filepath.Dir(f.Name()) != filepath.Join(s.root, "tmp") {
		return fmt.Errorf("store: put %s: %s is not one of the store's temp files", d, f.Name())
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: put %s: %w", d, err)
	}
	if fi.Size() != size {
		s.metrics.verifyFailures.Inc(1)
		return fmt.Errorf("%w: %s: file holds %d bytes, want %d", ErrSizeMismatch, d, fi.Size(), size)
	}
	if _, err := copyBuffer(g, &fsutil.CtxReader{Ctx: ctx, R: io.NewSectionReader(f, hashed, size-hashed)}); err != nil {
		return fmt.Errorf("store: put %s: %w", d, err)
	}
	if err := s.checkDigest(g, d); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: publish %s: %w", d, err)
	}
	if err := s.place(f.Name(), d, size); err != nil {
		return err
	}
	s.metrics.bytesWritten.Inc(size)
	s.metrics.puts.Inc(1)
	return nil
}

// publish fsyncs and closes f (size bytes), renames it to d's path and fsyncs the directory,
// then counts d as used and evicts what no longer fits the budget. It always closes f and
// removes it on failure.
func (s *Store) publish(f *os.File, d core.Digest, size int64) error {
	name := f.Name()
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("store: publish %s: %w", d, err)
	}
	return s.place(name, d, size)
}

// place renames the synced file name to d's path and fsyncs the directory, then counts d as
// used and evicts what no longer fits the budget. It removes name on failure.
func (s *Store) place(name string, d core.Digest, size int64) error {
	dst := s.blobPath(d)
	err := os.MkdirAll(filepath.Dir(dst), 0o755)
	if err == nil {
		err = os.Rename(name, dst)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("store: publish %s: %w", d, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.used(d, size)
	s.evictAfterPut()
	return nil
}

// Delete removes blob d and its metainfo. Readers that opened it keep reading.
func (s *Store) Delete(d core.Digest) error {
	p := s.blobPath(d)
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, d)
		}
		return fmt.Errorf("store: %w", err)
	}
	s.forgetBlob(d)
	_ = os.Remove(p + metainfoSuffix)
	if err := fsutil.SyncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Walk calls fn for every stored blob, in lexical order within each algorithm; fn's first
// error, or the end of ctx, stops the walk and is returned. Blobs published or deleted during
// the walk may or may not be reported; files that are not blobs are skipped.
func (s *Store) Walk(ctx context.Context, fn func(d core.Digest, size int64) error) error {
	return s.WalkInfo(ctx, func(d core.Digest, fi fs.FileInfo) error { return fn(d, fi.Size()) })
}

// WalkInfo is Walk with each blob's file information; its modification time is the blob's
// last write or use by the store's clock (written at most once a minute, see budget.go).
func (s *Store) WalkInfo(ctx context.Context, fn func(d core.Digest, fi fs.FileInfo) error) error {
	base := filepath.Join(s.root, "blobs")
	return filepath.WalkDir(base, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != base {
				return nil // removed while walking
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.HasSuffix(path, metainfoSuffix) {
			return nil
		}
		rel, err := filepath.Rel(base, path)
		if err != nil {
			return err
		}
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 3 {
			return nil
		}
		d, err := core.ParseDigest(parts[0] + ":" + parts[2])
		if err != nil {
			return nil // not ours
		}
		info, err := e.Info()
		if err != nil {
			return nil // deleted meanwhile
		}
		return fn(d, info)
	})
}

// MetaInfo returns d's metainfo, computing it once (concurrent callers share the work) and
// keeping it beside the blob. A zero-length blob has none: the error wraps metainfo.ErrEmpty.
func (s *Store) MetaInfo(ctx context.Context, d core.Digest) (*core.MetaInfo, error) {
	// The blob must be here: a metainfo file can outlive its blob (a crash inside Delete).
	if _, err := s.Stat(d); err != nil {
		return nil, err
	}
	p := s.blobPath(d) + metainfoSuffix
	if b, err := os.ReadFile(p); err == nil {
		if m, err := metainfo.Unmarshal(b); err == nil && m.Digest == d {
			return m, nil
		}
	}
	// The computation is shared and must not fail because the caller that happened to start
	// it went away: it runs detached, and each caller waits for it under its own ctx.
	ch := s.meta.DoChan(d.String(), func() (any, error) {
		return s.computeMetaInfo(d, p)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*core.MetaInfo), nil
	}
}

// computeMetaInfo hashes blob d's pieces and keeps the encoded metainfo at p.
func (s *Store) computeMetaInfo(d core.Digest, p string) (*core.MetaInfo, error) {
	f, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	m, err := metainfo.Generate(f, d, fi.Size(), metainfo.PieceLength(fi.Size(), s.opts.PieceLengths))
	if err != nil {
		return nil, fmt.Errorf("store: metainfo %s: %w", d, err)
	}
	s.metrics.bytesRead.Inc(fi.Size())
	b, err := metainfo.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("store: metainfo %s: %w", d, err)
	}
	if err := s.writeFileAtomic(p, b); err != nil {
		return nil, err
	}
	s.metrics.metainfos.Inc(1)
	// A Delete that ran meanwhile removed the blob, maybe before this file existed; do not
	// leave the metainfo of a blob that is gone.
	if _, err := os.Stat(s.blobPath(d)); errors.Is(err, fs.ErrNotExist) {
		_ = os.Remove(p)
	}
	return m, nil
}

// createTemp creates a temp file under tmp/, locked as in use (see fsutil.LockTemp) and
// dated by the store's clock.
func (s *Store) createTemp(prefix string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), prefix)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	fsutil.LockTemp(f)
	s.touch(f.Name())
	return f, nil
}

func (s *Store) writeFileAtomic(dst string, b []byte) error {
	f, err := s.createTemp("meta-")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("store: write %s: %w", dst, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// touch sets p's modification time from the store's clock, which decides expiry.
func (s *Store) touch(p string) {
	now := s.opts.Now()
	_ = os.Chtimes(p, now, now)
}
