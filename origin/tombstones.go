package origin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/fsutil"
	"github.com/docket-p2p/docket/origin/client"
)

// tombstoneDir is the folder of deletion records under the origin's data_dir.
const tombstoneDir = "deleted"

// tombstones records the blobs deleted on this origin (by the garbage collector or a DELETE),
// so agents can drop them from their caches: they page through GET /deleted. A record is a
// small file per digest holding the deletion time, read back at start-up, and kept in memory
// in time order; records older than the retention are pruned, and a blob stored again (pushed
// anew, replicated) loses its record.
type tombstones struct {
	dir       string
	retention time.Duration
	now       func() time.Time

	mu      sync.Mutex
	entries []client.Tombstone // by deletion time, then digest
	index   map[core.Digest]time.Time
}

func openTombstones(dir string, retention time.Duration, now func() time.Time) (*tombstones, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	t := &tombstones{dir: dir, retention: retention, now: now, index: make(map[core.Digest]time.Time)}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		if strings.HasPrefix(de.Name(), journalTempPrefix) {
			_ = os.Remove(p) // a record whose rename a crash cut short
			continue
		}
		d, err := core.ParseDigest(strings.Replace(de.Name(), "-", ":", 1))
		if err != nil {
			continue // not ours
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("tombstones: %w", err)
		}
		at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
		if err != nil {
			_ = os.Remove(p) // torn by a crash: the blob is gone either way
			continue
		}
		t.index[d] = at
		t.entries = append(t.entries, client.Tombstone{Digest: d.String(), Deleted: at})
	}
	slices.SortFunc(t.entries, compareTombstones)
	t.mu.Lock()
	t.pruneLocked()
	t.mu.Unlock()
	return t, nil
}

func compareTombstones(a, b client.Tombstone) int {
	if c := a.Deleted.Compare(b.Deleted); c != 0 {
		return c
	}
	return strings.Compare(a.Digest, b.Digest)
}

func (t *tombstones) path(d core.Digest) string {
	return filepath.Join(t.dir, d.Algorithm()+"-"+d.Hex())
}

// add records that d was deleted now.
func (t *tombstones) add(d core.Digest) error {
	t.mu.Lock() // held across the file too, so memory and disk agree
	defer t.mu.Unlock()
	at := t.now().UTC()
	if err := fsutil.WriteFileAtomic(t.path(d), journalTempPrefix+"*", []byte(at.Format(time.RFC3339Nano)+"\n")); err != nil {
		return fmt.Errorf("tombstones: %w", err)
	}
	t.dropLocked(d)
	t.index[d] = at
	e := client.Tombstone{Digest: d.String(), Deleted: at}
	i, _ := slices.BinarySearchFunc(t.entries, e, compareTombstones)
	t.entries = slices.Insert(t.entries, i, e)
	t.pruneLocked()
	return nil
}

// remove forgets d's record: the blob is stored again.
func (t *tombstones) remove(d core.Digest) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropLocked(d) {
		_ = os.Remove(t.path(d))
	}
}

func (t *tombstones) dropLocked(d core.Digest) bool {
	at, ok := t.index[d]
	if !ok {
		return false
	}
	delete(t.index, d)
	if i, found := slices.BinarySearchFunc(t.entries, client.Tombstone{Digest: d.String(), Deleted: at}, compareTombstones); found {
		t.entries = slices.Delete(t.entries, i, i+1)
	}
	return true
}

// pruneLocked drops the records older than the retention.
func (t *tombstones) pruneLocked() {
	cutoff := t.now().Add(-t.retention)
	n := 0
	for n < len(t.entries) && t.entries[n].Deleted.Before(cutoff) {
		d, _ := core.ParseDigest(t.entries[n].Digest)
		if err := os.Remove(t.path(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			break // kept, and retried on the next prune
		}
		delete(t.index, d)
		n++
	}
	t.entries = slices.Delete(t.entries, 0, n)
}

// since returns up to n records deleted at or after from, in time order, and whether more
// follow.
func (t *tombstones) since(from time.Time, n int) ([]client.Tombstone, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked()
	i, _ := slices.BinarySearchFunc(t.entries, client.Tombstone{Deleted: from}, compareTombstones)
	rest := t.entries[i:]
	if len(rest) > n {
		return slices.Clone(rest[:n]), true
	}
	return slices.Clone(rest), false
}

// listDeleted answers GET /deleted?since=T&n=N: up to N (client.TombstonePageMax) of the
// blobs deleted on this origin at or after T (RFC 3339; the start when empty), oldest first.
// A client pages on by asking again from the last record's time.
func (s *Server) listDeleted(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var from time.Time
	if v := q.Get("since"); v != "" {
		var err error
		if from, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return fmt.Errorf("%w: bad since=%q: want an RFC 3339 time", client.ErrBadRequest, v)
		}
	}
	n, err := pageSize(q, client.TombstonePageMax)
	if err != nil {
		return err
	}
	var page client.TombstonePage
	page.Deleted, page.More = s.tombstones.since(from, n)
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(page)
}
