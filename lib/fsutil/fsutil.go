// Package fsutil holds the file-system steps Docket's on-disk stores share (the blob store and
// the filesystem backend): durable directory entries, temp files that survive a second
// process on the same directory, and copies that stop when their context ends.
package fsutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SyncDir fsyncs dir, so a rename into it survives a crash.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// CtxReader stops a copy when its context ends.
type CtxReader struct {
	Ctx context.Context
	R   io.Reader
}

// Read implements io.Reader.
func (c *CtxReader) Read(p []byte) (int, error) {
	if err := c.Ctx.Err(); err != nil {
		return 0, err
	}
	return c.R.Read(p)
}

// WriteFileAtomic writes b to dst durably and all at once: a temp file in dst's folder named
// from pattern (os.CreateTemp), fsynced, renamed over dst, and the folder fsynced. Readers see
// the old content or the new, never part of it; the temp file is removed on failure.
func WriteFileAtomic(dst, pattern string, b []byte) error {
	dir := filepath.Dir(dst)
	f, err := os.CreateTemp(dir, pattern)
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
		_ = os.Remove(f.Name())
		return err
	}
	return SyncDir(dir)
}
