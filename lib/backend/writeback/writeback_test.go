package writeback

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
	"github.com/docket-p2p/docket/lib/backend/fs"
)

// switched is a remote that fails every call while down is set, like an object store that
// is down.
type switched struct {
	backend.Client
	down atomic.Bool
}

var errDown = errors.New("remote down")

func (s *switched) Upload(ctx context.Context, name string, r io.Reader, size int64) error {
	if s.down.Load() {
		return errDown
	}
	return s.Client.Upload(ctx, name, r, size)
}

func (s *switched) Delete(ctx context.Context, name string) error {
	if s.down.Load() {
		return errDown
	}
	return s.Client.Delete(ctx, name)
}

func open(t *testing.T, dir string, remote backend.Client) *Backend {
	t.Helper()
	b, err := New(dir, remote, slog.New(slog.DiscardHandler), tally.NoopScope)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newRemote(t *testing.T) *switched {
	t.Helper()
	c, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &switched{Client: c}
}

func drain(t *testing.T, b *Backend) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d names still owed after 10s", b.Pending())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConformance: the queue in front of a backend behaves as a backend.
func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Client { return open(t, t.TempDir(), newRemote(t)) })
}

// TestRemoteDownAndRestart: writes made while the remote is down are acknowledged and visible
// at once; they survive a restart of the queue and reach the remote once it is back, the
// latest operation on each name winning.
func TestRemoteDownAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	remote := newRemote(t)
	if err := remote.Upload(ctx, "tags/app/old", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	remote.down.Store(true)
	b := open(t, dir, remote)
	put := func(name, content string) {
		if err := b.Upload(ctx, name, bytes.NewReader([]byte(content)), int64(len(content))); err != nil {
			t.Fatal(err)
		}
	}
	put("tags/app/v1", "one")
	put("tags/app/v2", "first")
	put("tags/app/v2", "second")
	put("tags/app/gone", "soon deleted")
	if err := b.Delete(ctx, "tags/app/gone"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "tags/app/old"); err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := b.List(ctx, "tags/", func(n string) error { listed = append(listed, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"tags/app/v1", "tags/app/v2"}; !equal(listed, want) {
		t.Fatalf("listed %v while the remote is down, want %v", listed, want)
	}
	if b.Pending() != 4 {
		t.Fatalf("%d names owed, want 4", b.Pending())
	}
	b.Close() // as after a crash: nothing was written back

	back := open(t, dir, remote)
	if back.Pending() != 4 {
		t.Fatalf("%d names owed after a restart, want 4", back.Pending())
	}
	remote.down.Store(false)
	drain(t, back)
	for name, want := range map[string]string{"tags/app/v1": "one", "tags/app/v2": "second"} {
		var buf bytes.Buffer
		if err := remote.Download(ctx, name, &buf); err != nil || buf.String() != want {
			t.Errorf("remote %s = %q, %v; want %q", name, buf.String(), err, want)
		}
	}
	for _, name := range []string{"tags/app/gone", "tags/app/old"} {
		if _, err := remote.Stat(ctx, name); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("remote still has %s: %v", name, err)
		}
	}
	if _, err := fsStat(filepath.Join(dir, "objects"), "tags/app/v1"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("local copy kept after write-back: %v", err)
	}
}

func fsStat(root, name string) (backend.Info, error) {
	c, err := fs.New(root)
	if err != nil {
		return backend.Info{}, err
	}
	return c.Stat(context.Background(), name)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
