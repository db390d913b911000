// Package writeback puts a durable local queue in front of a remote backend: Upload and
// Delete are made durable on the local disk and acknowledged at once, then applied to the
// remote asynchronously, retried until they succeed, and resumed after a crash or restart.
// Reads see the queued state first, so a caller never notices the delay. The build-index
// keeps its tags and manifest records in S3 or GCS through it.
//
// On disk (dir): objects/ holds the content of every queued upload (lib/backend/fs, atomic);
// journal/ holds one small file per queued name, {"name": ..., "op": "put"|"delete"},
// written to a temp file, fsynced and renamed before the call returns. Only the latest
// operation on a name is kept: the remote ends in the state the caller last asked for.
package writeback

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/fs"
	"github.com/docket-p2p/docket/lib/fsutil"
)

// Retry policy of a remote operation that failed.
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 30 * time.Second
)

const (
	opPut    = "put"
	opDelete = "delete"
)

type entry struct {
	Name string `json:"name"`
	Op   string `json:"op"`
}

// Backend is a backend.Client whose writes are queued durably in front of a remote one.
type Backend struct {
	remote  backend.Client
	local   *fs.Client
	journal string
	log     *slog.Logger
	depth   tally.Gauge

	mu      sync.Mutex
	pending map[string]string // name → op
	gen     map[string]uint64 // bumped by every write of a name
	wake    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

// New opens (or creates) the queue under dir in front of remote and starts writing back
// what it holds. Close stops it.
func New(dir string, remote backend.Client, log *slog.Logger, scope tally.Scope) (*Backend, error) {
	local, err := fs.New(filepath.Join(dir, "objects"))
	if err != nil {
		return nil, fmt.Errorf("writeback: %w", err)
	}
	jdir := filepath.Join(dir, "journal")
	if err := os.MkdirAll(jdir, 0o755); err != nil {
		return nil, fmt.Errorf("writeback: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Backend{
		remote: remote, local: local, journal: jdir, log: log, depth: scope.Gauge("queue_depth"),
		pending: make(map[string]string), gen: make(map[string]uint64),
		wake: make(chan struct{}, 1), stop: stop, done: make(chan struct{}),
	}
	files, err := os.ReadDir(jdir)
	if err != nil {
		stop()
		return nil, fmt.Errorf("writeback: %w", err)
	}
	for _, f := range files {
		p := filepath.Join(jdir, f.Name())
		var e entry
		raw, err := os.ReadFile(p)
		if err == nil {
			err = json.Unmarshal(raw, &e)
		}
		if err != nil || strings.HasPrefix(f.Name(), ".tmp") || (e.Op != opPut && e.Op != opDelete) {
			log.Warn("dropping a torn write-back journal file", "file", p, "err", err)
			_ = os.Remove(p)
			continue
		}
		b.pending[e.Name] = e.Op
	}
	b.depth.Update(float64(len(b.pending)))
	go b.run(ctx)
	b.kick()
	return b, nil
}

// Close stops writing back; what is queued stays in the journal for the next New.
func (b *Backend) Close() error {
	b.stop()
	<-b.done
	return nil
}

// Pending returns how many names are owed to the remote.
func (b *Backend) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

func (b *Backend) kick() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *Backend) journalPath(name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(b.journal, hex.EncodeToString(sum[:]))
}

// record makes op on name durable in the journal and queues it.
func (b *Backend) record(name, op string) error {
	raw, err := json.Marshal(entry{Name: name, Op: op})
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(b.journalPath(name), ".tmp*", raw); err != nil {
		return fmt.Errorf("writeback: journal %s: %w", name, err)
	}
	b.pending[name] = op
	b.gen[name]++
	b.depth.Update(float64(len(b.pending)))
	b.kick()
	return nil
}

// Upload stores the object locally and queues it for the remote.
func (b *Backend) Upload(ctx context.Context, name string, r io.Reader, size int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.local.Upload(ctx, name, r, size); err != nil {
		return fmt.Errorf("writeback: %w", err)
	}
	return b.record(name, opPut)
}

// Delete queues the object's removal from the remote; reads no longer see it.
func (b *Backend) Delete(ctx context.Context, name string) error {
	// A bad name or an ended context is refused before anything is journalled.
	if _, err := b.local.Stat(ctx, name); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.record(name, opDelete); err != nil {
		return err
	}
	return b.local.Delete(ctx, name)
}

// readAttempts bounds how often a read looks at the queue again after a queued put's local
// copy went away under it (written back, or deleted) in between.
const readAttempts = 3

// read answers a read of name from the queue, else the remote: local reads a queued put,
// remote the remote's object. A queued put may be written back and its local copy removed
// between the look at the queue and the local read; the read then looks again rather than
// report the object missing.
func (b *Backend) read(name string, local, remote func() error) error {
	var err error
	for range readAttempts {
		b.mu.Lock()
		op := b.pending[name]
		b.mu.Unlock()
		switch op {
		case opPut:
			// Nothing is written before the local file is open, so a retry starts clean.
			if err = local(); !errors.Is(err, backend.ErrNotFound) {
				return err
			}
		case opDelete:
			return fmt.Errorf("%w: %s", backend.ErrNotFound, name)
		default:
			return remote()
		}
	}
	return err
}

// Stat answers from the queue, else the remote.
func (b *Backend) Stat(ctx context.Context, name string) (backend.Info, error) {
	var info backend.Info
	err := b.read(name,
		func() (err error) { info, err = b.local.Stat(ctx, name); return err },
		func() (err error) { info, err = b.remote.Stat(ctx, name); return err })
	return info, err
}

// Download answers from the queue, else the remote.
func (b *Backend) Download(ctx context.Context, name string, w io.Writer) error {
	return b.read(name,
		func() error { return b.local.Download(ctx, name, w) },
		func() error { return b.remote.Download(ctx, name, w) })
}

// List lists the remote's names with the queued puts added and the queued deletes removed.
// A put written back while the remote is being listed is still seen: the queue is read both
// before and after.
func (b *Backend) List(ctx context.Context, prefix string, fn func(name string) error) error {
	before := b.snapshot(prefix)
	names := map[string]bool{}
	if err := b.remote.List(ctx, prefix, func(n string) error { names[n] = true; return nil }); err != nil {
		return err
	}
	for n, op := range before {
		if op == opPut {
			names[n] = true
		}
	}
	for n, op := range b.snapshot(prefix) {
		names[n] = op == opPut
	}
	var out []string
	for n, ok := range names {
		if ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	for _, n := range out {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// snapshot copies the queued operations on names under prefix.
func (b *Backend) snapshot(prefix string) map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]string)
	for n, op := range b.pending {
		if strings.HasPrefix(n, prefix) {
			out[n] = op
		}
	}
	return out
}

// run applies queued operations to the remote until ctx ends, backing off while it fails.
func (b *Backend) run(ctx context.Context) {
	defer close(b.done)
	wait := retryFirst
	for {
		failed := b.pass(ctx)
		var retry <-chan time.Time
		var t *time.Timer
		if failed {
			t = time.NewTimer(wait)
			retry = t.C
			wait = min(2*wait, retryMax)
		} else {
			wait = retryFirst
		}
		select {
		case <-ctx.Done():
		case <-b.wake:
		case <-retry:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// pass tries every queued operation once and reports whether any failed.
func (b *Backend) pass(ctx context.Context) bool {
	b.mu.Lock()
	names := make([]string, 0, len(b.pending))
	for n := range b.pending {
		names = append(names, n)
	}
	b.mu.Unlock()
	slices.Sort(names)
	failed := false
	for _, n := range names {
		if ctx.Err() != nil {
			return failed
		}
		if err := b.apply(ctx, n); err != nil {
			failed = true
			b.log.Warn("write-back to the backend failed; retrying", "name", n, "err", err)
		}
	}
	return failed
}

// apply performs name's queued operation on the remote and, unless the name was written
// again meanwhile, forgets it.
func (b *Backend) apply(ctx context.Context, name string) error {
	b.mu.Lock()
	op, gen := b.pending[name], b.gen[name]
	b.mu.Unlock()
	var err error
	switch op {
	case opPut:
		pr, pw := io.Pipe()
		info, serr := b.local.Stat(ctx, name)
		if serr != nil {
			return serr
		}
		go func() { pw.CloseWithError(b.local.Download(ctx, name, pw)) }()
		err = b.remote.Upload(ctx, name, pr, info.Size)
		pr.CloseWithError(errors.New("write-back finished"))
	case opDelete:
		err = b.remote.Delete(ctx, name)
	default:
		return nil // applied meanwhile
	}
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen[name] != gen || b.pending[name] != op {
		return nil // written again: the next pass applies the newer operation
	}
	if op == opPut {
		if err := b.local.Delete(ctx, name); err != nil {
			return err
		}
	}
	if err := os.Remove(b.journalPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	delete(b.pending, name)
	delete(b.gen, name)
	b.depth.Update(float64(len(b.pending)))
	return nil
}
