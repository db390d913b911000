package buildindex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docket-p2p/docket/lib/backend"
)

// memBackend is an in-memory backend.Client for tests, with a switch that makes every write
// fail.
type memBackend struct {
	mu        sync.Mutex
	objs      map[string][]byte
	failWrite error
	// failName, if set, fails every write or delete of a name it returns an error for.
	failName func(name string) error
}

var _ backend.Client = (*memBackend)(nil)

func newMemBackend() *memBackend { return &memBackend{objs: make(map[string][]byte)} }

func (m *memBackend) setFailName(f func(name string) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failName = f
}

// writeErr returns the error a write of name fails with, if any (m.mu held).
func (m *memBackend) writeErr(name string) error {
	if m.failWrite != nil {
		return m.failWrite
	}
	if m.failName != nil {
		return m.failName(name)
	}
	return nil
}

func (m *memBackend) setFailWrite(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failWrite = err
}

// check refuses what every backend refuses: a bad name or an ended context.
func check(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return backend.CheckName(name)
}

func (m *memBackend) Stat(ctx context.Context, name string) (backend.Info, error) {
	if err := check(ctx, name); err != nil {
		return backend.Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[name]
	if !ok {
		return backend.Info{}, fmt.Errorf("%w: %s", backend.ErrNotFound, name)
	}
	return backend.Info{Name: name, Size: int64(len(b)), ModTime: time.Unix(0, 0)}, nil
}

func (m *memBackend) Download(ctx context.Context, name string, w io.Writer) error {
	if err := check(ctx, name); err != nil {
		return err
	}
	m.mu.Lock()
	b, ok := m.objs[name]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, name)
	}
	_, err := w.Write(b)
	return err
}

func (m *memBackend) Upload(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := check(ctx, name); err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil { // cancelled while reading: store nothing
		return err
	}
	if int64(len(b)) != size {
		return errors.New("size mismatch")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.writeErr(name); err != nil {
		return err
	}
	m.objs[name] = bytes.Clone(b)
	return nil
}

func (m *memBackend) List(ctx context.Context, prefix string, fn func(string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	var names []string
	for n := range m.objs {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	m.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

func (m *memBackend) Delete(ctx context.Context, name string) error {
	if err := check(ctx, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.writeErr(name); err != nil {
		return err
	}
	delete(m.objs, name)
	return nil
}

func (m *memBackend) names() []string {
	var out []string
	_ = m.List(context.Background(), "", func(n string) error { out = append(out, n); return nil })
	return out
}
