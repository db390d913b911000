package origin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/fsutil"
)

// journalDir is the write-back journal's folder under the origin's data_dir.
const journalDir = "writeback"

// maxJournalEntry bounds one journal file read back at start-up; an entry is a namespace
// (at most a few hundred bytes), a digest and a time.
const maxJournalEntry = 4 << 10

// journalTempPrefix starts the temp files an entry is written to before its rename.
const journalTempPrefix = ".tmp-"

// journal records on disk which blobs are owed to the backend: one small file per
// (namespace, digest), written durably before a commit is acknowledged and removed once the
// blob is in the backend. At start-up every entry is queued again, so write-back survives a
// crash or restart of the origin.
//
// It also keeps in memory which digests are owed (to any namespace's backend), so the
// store's disk budget can ask cheaply which blobs must stay (owes).
type journal struct {
	dir string

	mu   sync.Mutex
	owed map[core.Digest]map[string]bool // digest → namespaces it is owed to
}

// journalEntry is one blob owed to the backend of its namespace.
type journalEntry struct {
	NS     string      `json:"ns"`
	Digest core.Digest `json:"digest"`
	Queued time.Time   `json:"queued"`
}

func openJournal(dir string) (*journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write-back journal: %w", err)
	}
	return &journal{dir: dir, owed: make(map[core.Digest]map[string]bool)}, nil
}

// path names an entry by a hash of its namespace and digest: fixed length whatever the
// namespace, and never a path of the caller's choosing.
func (j *journal) path(ns string, d core.Digest) string {
	h := sha256.Sum256([]byte(ns + "\x00" + d.String()))
	return filepath.Join(j.dir, hex.EncodeToString(h[:]))
}

// add records e durably: temp file, fsync, rename, directory fsync.
func (j *journal) add(e journalEntry) error {
	// Owed from now on, even if the entry cannot be written: the blob is queued anyway.
	j.mark(e.NS, e.Digest, true)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("write-back journal: %w", err)
	}
	if err := fsutil.WriteFileAtomic(j.path(e.NS, e.Digest), journalTempPrefix+"*", b); err != nil {
		return fmt.Errorf("write-back journal: %w", err)
	}
	return nil
}

// remove forgets an entry. It is not made durable: an entry that comes back after a crash is
// written back again, which finds the blob in the backend and uploads nothing.
func (j *journal) remove(ns string, d core.Digest) error {
	j.mark(ns, d, false)
	if err := os.Remove(j.path(ns, d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write-back journal: %w", err)
	}
	return nil
}

// mark records that d is (owed) or is no longer owed to namespace ns's backend.
func (j *journal) mark(ns string, d core.Digest, owed bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if owed {
		if j.owed[d] == nil {
			j.owed[d] = make(map[string]bool)
		}
		j.owed[d][ns] = true
		return
	}
	delete(j.owed[d], ns)
	if len(j.owed[d]) == 0 {
		delete(j.owed, d)
	}
}

// owes reports whether d is not yet written back to some namespace's backend.
func (j *journal) owes(d core.Digest) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.owed[d]) > 0
}

// entries returns every recorded entry. Temp files left by a crash are removed; an entry
// that does not parse (a torn disk) is removed and reported in bad.
func (j *journal) entries() (es []journalEntry, bad []error, err error) {
	des, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("write-back journal: %w", err)
	}
	for _, de := range des {
		p := filepath.Join(j.dir, de.Name())
		if strings.HasPrefix(de.Name(), journalTempPrefix) {
			_ = os.Remove(p)
			continue
		}
		e, err := readJournalEntry(p)
		if err == nil && p != j.path(e.NS, e.Digest) {
			err = errors.New("entry stored under another name")
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("write-back journal entry %s: %w", de.Name(), err))
			_ = os.Remove(p)
			continue
		}
		es = append(es, e)
		j.mark(e.NS, e.Digest, true)
	}
	return es, bad, nil
}

func readJournalEntry(p string) (journalEntry, error) {
	var e journalEntry
	f, err := os.Open(p)
	if err != nil {
		return e, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJournalEntry+1))
	if err != nil {
		return e, err
	}
	if len(b) > maxJournalEntry {
		return e, fmt.Errorf("over %d bytes", maxJournalEntry)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, err
	}
	if e.Digest.IsZero() {
		return e, errors.New("no digest")
	}
	return e, nil
}
