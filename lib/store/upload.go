package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/fsutil"
)

// upload is the in-memory state of one resumable upload. Its running sha256 lets a commit
// skip re-reading the data; after a restart (no state) or for another algorithm, the commit
// hashes the file instead.
type upload struct {
	mu     sync.Mutex
	size   int64
	hasher *core.Digester // nil once it may disagree with the file
	gone   bool
}

func (s *Store) uploadPath(id string) string { return filepath.Join(s.root, "uploads", id) }

func checkID(id string) error {
	if !uploadIDPattern.MatchString(id) {
		return fmt.Errorf("%w: %q", ErrInvalidUploadID, id)
	}
	return nil
}

// CreateUpload starts an empty upload named id (ErrUploadExists if it exists).
func (s *Store) CreateUpload(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	// uploadsMu covers the file's creation too: the map and uploads/ change together, so no
	// one sees an upload's state without its file or the file without its state.
	s.uploadsMu.Lock()
	defer s.uploadsMu.Unlock()
	if _, ok := s.uploads[id]; ok {
		return fmt.Errorf("%w: %s", ErrUploadExists, id)
	}
	f, err := os.OpenFile(s.uploadPath(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrUploadExists, id)
		}
		return fmt.Errorf("store: %w", err)
	}
	f.Close()
	s.touch(s.uploadPath(id))
	h, _ := core.NewDigester(core.SHA256)
	s.uploads[id] = &upload{hasher: h}
	return nil
}

// lookup returns id's state, rebuilding it from the file after a restart; ErrUploadNotFound
// if there is neither.
func (s *Store) lookup(id string) (*upload, error) {
	s.uploadsMu.Lock()
	defer s.uploadsMu.Unlock()
	if u, ok := s.uploads[id]; ok {
		return u, nil
	}
	fi, err := os.Stat(s.uploadPath(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrUploadNotFound, id)
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	u := &upload{size: fi.Size()}
	s.uploads[id] = u
	return u, nil
}

// lockUpload returns id's state, locked; state is rebuilt from the file after a restart.
func (s *Store) lockUpload(id string) (*upload, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	for {
		u, err := s.lookup(id)
		if err != nil {
			return nil, err
		}
		u.mu.Lock()
		if !u.gone {
			return u, nil
		}
		u.mu.Unlock() // committed or cancelled meanwhile; look again
	}
}

// forget drops id's state and file; u must be locked.
func (s *Store) forget(id string, u *upload) {
	u.gone = true
	s.uploadsMu.Lock()
	defer s.uploadsMu.Unlock()
	_ = os.Remove(s.uploadPath(id))
	if s.uploads[id] == u {
		delete(s.uploads, id)
	}
}

// AppendUpload writes r at offset, which must equal the upload's size (ErrOffsetMismatch),
// and returns the new size. Bytes that arrived before r failed stay in the upload, so the
// client can resume from the size it is told.
func (s *Store) AppendUpload(id string, offset int64, r io.Reader) (int64, error) {
	u, err := s.lockUpload(id)
	if err != nil {
		return 0, err
	}
	defer u.mu.Unlock()
	if offset != u.size {
		return u.size, fmt.Errorf("%w: upload %s holds %d bytes, got offset %d", ErrOffsetMismatch, id, u.size, offset)
	}
	f, err := os.OpenFile(s.uploadPath(id), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return u.size, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	defer s.touch(s.uploadPath(id))
	w := &hashingWriter{w: &syncingWriter{f: f, off: u.size, started: u.size}, h: u.hasher}
	n, err := copyBuffer(w, r)
	u.size += n
	s.metrics.bytesWritten.Inc(n)
	if w.broken {
		u.hasher = nil
	}
	if err != nil {
		// Re-read the real size: a short write may have left bytes the count missed.
		if fi, serr := f.Stat(); serr == nil && fi.Size() != u.size {
			u.size, u.hasher = fi.Size(), nil
		}
		return u.size, fmt.Errorf("store: upload %s: %w", id, err)
	}
	return u.size, nil
}

// hashingWriter feeds the hash only what reached the file.
type hashingWriter struct {
	w      io.Writer
	h      *core.Digester
	broken bool
}

func (w *hashingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if w.h != nil {
		w.h.Write(p[:n])
	}
	if err != nil {
		w.broken = true
	}
	return n, err
}

// UploadSize returns how many bytes upload id holds.
func (s *Store) UploadSize(id string) (int64, error) {
	u, err := s.lockUpload(id)
	if err != nil {
		return 0, err
	}
	defer u.mu.Unlock()
	return u.size, nil
}

// CommitUpload verifies upload id against d and publishes it under d. Whether it matches or
// not, the upload is gone afterwards: a mismatch publishes nothing and keeps nothing.
func (s *Store) CommitUpload(ctx context.Context, id string, d core.Digest) error {
	u, err := s.lockUpload(id)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	path := s.uploadPath(id)
	var got core.Digest
	if u.hasher != nil && d.Algorithm() == core.SHA256 {
		got = u.hasher.Digest()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		g := d.NewDigester()
		_, err = copyBuffer(g, &fsutil.CtxReader{Ctx: ctx, R: f})
		f.Close()
		if err != nil {
			return fmt.Errorf("store: commit %s: %w", id, err)
		}
		got = g.Digest()
	}
	if got != d {
		s.metrics.verifyFailures.Inc(1)
		s.forget(id, u)
		return fmt.Errorf("%w: upload %s is %s, want %s", ErrDigestMismatch, id, got, d)
	}
	if _, err := s.Stat(d); err == nil {
		s.forget(id, u) // already stored: same content
		s.used(d, u.size)
		s.metrics.commits.Inc(1)
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := s.publish(f, d, u.size); err != nil {
		return err
	}
	u.gone = true
	s.uploadsMu.Lock()
	if s.uploads[id] == u {
		delete(s.uploads, id)
	}
	s.uploadsMu.Unlock()
	s.metrics.commits.Inc(1)
	return nil
}

// CancelUpload discards upload id.
func (s *Store) CancelUpload(id string) error {
	u, err := s.lockUpload(id)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	s.forget(id, u)
	return nil
}

// PurgeUploads removes uploads untouched for longer than the upload TTL (by the store's
// clock) and temp files as old, left by writers that died; it returns how many uploads it
// removed. An upload busy in another call is not abandoned and is skipped.
func (s *Store) PurgeUploads() (int, error) {
	dir := filepath.Join(s.root, "uploads")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	cutoff := s.opts.Now().Add(-s.opts.UploadTTL)
	n := 0
	for _, e := range entries {
		id := e.Name()
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) || checkID(id) != nil {
			continue
		}
		u, err := s.lookup(id)
		if err != nil {
			continue // gone meanwhile
		}
		if !u.mu.TryLock() {
			continue
		}
		// Look again under the lock: an append may have just touched it.
		if fi, err := os.Stat(s.uploadPath(id)); err == nil && !u.gone && fi.ModTime().Before(cutoff) {
			s.forget(id, u)
			s.metrics.uploadsExpired.Inc(1)
			n++
		}
		u.mu.Unlock()
	}
	tmpDir := filepath.Join(s.root, "tmp")
	tmps, err := os.ReadDir(tmpDir)
	if err != nil {
		return n, fmt.Errorf("store: %w", err)
	}
	for _, e := range tmps {
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			fsutil.RemoveStaleTemp(filepath.Join(tmpDir, e.Name()))
		}
	}
	return n, nil
}

// RunJanitor calls PurgeUploads every interval until ctx ends, reporting errors to onError
// (which may be nil).
func (s *Store) RunJanitor(ctx context.Context, interval time.Duration, onError func(error)) {
	every(ctx, interval, func() error { _, err := s.PurgeUploads(); return err }, onError)
}

// every calls fn every interval until ctx ends, reporting its errors to onError (if not nil).
func every(ctx context.Context, interval time.Duration, fn func() error, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(); err != nil && onError != nil {
				onError(err)
			}
		}
	}
}

// copyBufferSize is the chunk size of the store's copies: large enough that a 1 GiB blob is
// a few thousand system calls.
const copyBufferSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

func copyBuffer(dst io.Writer, src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(onlyWriter{dst}, src, *bp)
}

// onlyWriter hides ReadFrom so io.CopyBuffer uses the pooled buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
