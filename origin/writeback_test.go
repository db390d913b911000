package origin

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/fs"
	"github.com/docket-p2p/docket/lib/store"
)

// switchedBackend fails every upload while down is set, like an object store that is down.
type switchedBackend struct {
	backend.Client
	down atomic.Bool
}

func (b *switchedBackend) Upload(ctx context.Context, name string, r io.Reader, size int64) error {
	if b.down.Load() {
		return errBackendDown
	}
	return b.Client.Upload(ctx, name, r, size)
}

// TestWriteBackAgeGauge: the age of the oldest blob owed to the backend follows the injected
// clock while the backend is down, keeps the earliest time of a blob queued twice, and drops
// to 0 once everything is written back; the depth gauge follows the queue.
func TestWriteBackAgeGauge(t *testing.T) {
	dir := t.TempDir()
	st, err := store.New(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fsb, err := fs.New(filepath.Join(dir, "backend"))
	if err != nil {
		t.Fatal(err)
	}
	be := &switchedBackend{Client: fsb}
	be.down.Store(true)
	j, err := openJournal(filepath.Join(dir, journalDir))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	scope := tally.NewTestScope("", nil)
	w := newWriteBack(st, oneBackend{be}, j, clock, slog.New(slog.DiscardHandler), scope)
	defer w.close()
	gauge := func(name string) float64 {
		for _, g := range scope.Snapshot().Gauges() {
			if g.Name() == name {
				return g.Value()
			}
		}
		t.Fatalf("no gauge %s", name)
		return 0
	}

	put := func() {
		data, d := randomBlob(t, 10<<10)
		if err := st.Put(context.Background(), d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := w.enqueue("ns", d); err != nil {
			t.Fatal(err)
		}
		if err := w.enqueue("ns", d); err != nil { // queued twice: the first time counts
			t.Fatal(err)
		}
	}
	put()
	now.Store(t0.Add(time.Minute).UnixNano())
	put()
	if got := gauge("oldest_age_seconds"); got != 60 {
		t.Fatalf("oldest age %v s, want 60", got)
	}
	now.Store(t0.Add(5 * time.Minute).UnixNano())
	put()
	if got := gauge("oldest_age_seconds"); got != 300 {
		t.Fatalf("oldest age %v s, want 300", got)
	}
	if got := gauge("queue_depth"); got != 3 {
		t.Fatalf("queue depth %v, want 3", got)
	}
	be.down.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.drain(ctx); err != nil {
		t.Fatal(err)
	}
	if a, d := gauge("oldest_age_seconds"), gauge("queue_depth"); a != 0 || d != 0 {
		t.Fatalf("after write-back: oldest age %v, depth %v; want 0, 0", a, d)
	}
}
