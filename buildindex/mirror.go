package buildindex

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/fs"
)

// mirrorDir is the local copy of the object store's index objects under data_dir.
const mirrorDir = "mirror"

// mirror keeps a copy on local disk of every index object the object store holds, so the
// build-index starts, with the tags it last saw, while the store is down; its write-back queue
// (under it) takes the changes meanwhile and applies them once the store returns.
//
// Every object written to or read from the store is copied to the mirror, and a listing of the
// store removes the mirror's objects the store no longer has. A read or listing that the store
// fails (anything but "not found" and a cancelled caller) is answered from the mirror, and the
// reads after a failed listing go straight to the mirror until a store call succeeds again:
// a start-up against a dead store costs one failed listing, not one failure per object.
//
// The mirror is as current as the store as long as this build-index is the only writer of its
// objects (the prefix in the store): a build-index of another cluster replicates through this
// one's API, not into its bucket.
type mirror struct {
	remote  backend.Client
	local   *fs.Client
	log     *slog.Logger
	offline atomic.Bool // the last store call failed: read the mirror

	// writes counts, per name, the starts and ends of Uploads and Deletes, so a read that
	// raced one does not put back in the mirror what it read before (keepIf). Guarded by mu,
	// which is also held for every change of the mirror.
	mu     sync.Mutex
	writes map[string]uint64
}

// version returns name's write count, to hand to keepIf after a read of the store.
func (m *mirror) version(name string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes[name]
}

// change runs fn, a change of name in the mirror, counted as a write.
func (m *mirror) change(name string, fn func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.writes == nil {
		m.writes = make(map[string]uint64)
	}
	m.writes[name]++
	if fn != nil {
		fn()
	}
}

var _ backend.Client = (*mirror)(nil)

// storeDown reports whether err is the store failing, not an answer of its.
func storeDown(ctx context.Context, err error) bool {
	return err != nil && !errors.Is(err, backend.ErrNotFound) && ctx.Err() == nil
}

// answered records the outcome of a store call and reports whether the store failed.
func (m *mirror) answered(ctx context.Context, op, name string, err error) bool {
	if !storeDown(ctx, err) {
		m.offline.Store(false)
		return false
	}
	if !m.offline.Swap(true) {
		m.log.Warn("build-index: the object store failed; serving the local mirror", "op", op, "name", name, "err", err)
	}
	return true
}

func (m *mirror) Stat(ctx context.Context, name string) (backend.Info, error) {
	if m.offline.Load() {
		return m.local.Stat(ctx, name)
	}
	info, err := m.remote.Stat(ctx, name)
	if m.answered(ctx, "stat", name, err) {
		return m.local.Stat(ctx, name)
	}
	return info, err
}

// Download reads the whole object (index objects are small) before writing any of it to w,
// so a store failing mid-read can still be answered from the mirror.
func (m *mirror) Download(ctx context.Context, name string, w io.Writer) error {
	if m.offline.Load() {
		return m.local.Download(ctx, name, w)
	}
	v := m.version(name)
	buf := &cappedBuffer{limit: maxObjectBytes}
	err := m.remote.Download(ctx, name, buf)
	switch {
	case m.answered(ctx, "download", name, err):
		return m.local.Download(ctx, name, w)
	case errors.Is(err, backend.ErrNotFound):
		m.keepIf(ctx, name, nil, v)
		return err
	case err != nil:
		return err
	}
	m.keepIf(ctx, name, buf.buf.Bytes(), v)
	_, err = w.Write(buf.buf.Bytes())
	return err
}

// keepIf makes the mirror hold b as name (nil: no such object), unless an Upload or Delete of
// name started since version v: what was read may be older than what it wrote.
func (m *mirror) keepIf(ctx context.Context, name string, b []byte, v uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.writes[name] != v {
		return
	}
	m.keep(ctx, name, b)
}

// keep makes the mirror hold b as name (nil: removes it); a failure only makes the mirror
// older, and is logged. Called with mu held.
func (m *mirror) keep(ctx context.Context, name string, b []byte) {
	var err error
	if b == nil {
		err = m.local.Delete(ctx, name)
	} else {
		err = m.local.Upload(ctx, name, bytes.NewReader(b), int64(len(b)))
	}
	if err != nil {
		m.log.Warn("build-index: mirroring an object", "name", name, "err", err)
	}
}

func (m *mirror) Upload(ctx context.Context, name string, r io.Reader, size int64) error {
	b, err := io.ReadAll(io.LimitReader(r, size+1))
	if err != nil {
		return err
	}
	m.change(name, nil)
	if err := m.remote.Upload(ctx, name, bytes.NewReader(b), size); err != nil {
		m.answered(ctx, "upload", name, err)
		return err
	}
	m.offline.Store(false)
	m.change(name, func() { m.keep(ctx, name, b) })
	return nil
}

// List lists the store (whole, before calling fn once) and drops from the mirror what the
// store no longer holds; if the store fails, it lists the mirror.
func (m *mirror) List(ctx context.Context, prefix string, fn func(name string) error) error {
	var names []string
	started := time.Now() // mirror files written since are newer than the listing: kept
	err := m.remote.List(ctx, prefix, func(name string) error {
		names = append(names, name)
		return nil
	})
	if m.answered(ctx, "list", prefix, err) {
		return m.local.List(ctx, prefix, fn)
	}
	if err != nil {
		return err
	}
	held := make(map[string]bool, len(names))
	for _, n := range names {
		held[n] = true
	}
	var stale []string
	_ = m.local.List(ctx, prefix, func(name string) error {
		if !held[name] && !strings.HasSuffix(name, "/") {
			stale = append(stale, name)
		}
		return nil
	})
	for _, n := range stale {
		m.mu.Lock()
		if info, err := m.local.Stat(ctx, n); err == nil && info.ModTime.Before(started) {
			_ = m.local.Delete(ctx, n)
		}
		m.mu.Unlock()
	}
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

func (m *mirror) Delete(ctx context.Context, name string) error {
	m.change(name, nil)
	if err := m.remote.Delete(ctx, name); err != nil {
		m.answered(ctx, "delete", name, err)
		return err
	}
	m.offline.Store(false)
	m.change(name, func() { m.keep(ctx, name, nil) })
	return nil
}
