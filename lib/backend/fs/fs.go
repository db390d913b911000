// Package fs is the local-filesystem backend, Docket's embedded default: objects are files
// under a root directory, replaced atomically (temp file, fsync, rename).
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/fsutil"
)

// tmpDir holds uploads in progress; its name cannot collide with a valid object name's first
// component because List skips it.
const tmpDir = ".tmp"

// Client stores objects under a root directory.
type Client struct {
	root string
}

var _ backend.Client = (*Client)(nil)

// New returns a client rooted at root, creating it if needed.
func New(root string) (*Client, error) {
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("backend fs: %w", err)
	}
	// Temp files of an uploader that died are garbage; those a live uploader holds (several
	// origins may share one backend directory) are kept.
	if entries, err := os.ReadDir(filepath.Join(root, tmpDir)); err == nil {
		for _, e := range entries {
			fsutil.RemoveStaleTemp(filepath.Join(root, tmpDir, e.Name()))
		}
	}
	return &Client{root: root}, nil
}

func (c *Client) path(name string) (string, error) {
	if err := backend.CheckName(name); err != nil {
		return "", err
	}
	if strings.HasPrefix(name, tmpDir+"/") || name == tmpDir {
		return "", fmt.Errorf("%w: %q is reserved", backend.ErrInvalidName, name)
	}
	return filepath.Join(c.root, filepath.FromSlash(name)), nil
}

func notFound(name string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, name)
	}
	return fmt.Errorf("backend fs: %w", err)
}

// Stat implements backend.Client.
func (c *Client) Stat(ctx context.Context, name string) (backend.Info, error) {
	p, err := c.path(name)
	if err != nil {
		return backend.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return backend.Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return backend.Info{}, notFound(name, err)
	}
	if fi.IsDir() {
		return backend.Info{}, fmt.Errorf("%w: %s", backend.ErrNotFound, name)
	}
	return backend.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Download implements backend.Client.
func (c *Client) Download(ctx context.Context, name string, w io.Writer) error {
	p, err := c.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return notFound(name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, name)
	}
	_, err = io.Copy(w, &fsutil.CtxReader{Ctx: ctx, R: f})
	return err
}

// Upload implements backend.Client.
func (c *Client) Upload(ctx context.Context, name string, r io.Reader, size int64) error {
	p, err := c.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(c.root, tmpDir), "up-")
	if err != nil {
		return fmt.Errorf("backend fs: %w", err)
	}
	fsutil.LockTemp(tmp)
	n, err := io.Copy(tmp, &fsutil.CtxReader{Ctx: ctx, R: r})
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("backend fs: %s: got %d bytes, want %d", name, n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(p), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := fsutil.SyncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("backend fs: %w", err)
	}
	return nil
}

// List implements backend.Client.
func (c *Client) List(ctx context.Context, prefix string, fn func(name string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var names []string
	err := filepath.WalkDir(c.root, func(p string, e iofs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(c.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			if rel == tmpDir {
				return filepath.SkipDir
			}
			// Skip directories that cannot hold a name with the prefix.
			if rel != "." && !strings.HasPrefix(rel+"/", prefix) && !strings.HasPrefix(prefix, rel+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(rel, prefix) {
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("backend fs: list %q: %w", prefix, err)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements backend.Client.
func (c *Client) Delete(ctx context.Context, name string) error {
	p, err := c.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("backend fs: %w", err)
	}
	return nil
}
