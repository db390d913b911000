package scheduler

import (
	"fmt"
	"io"
	"os"

	"github.com/docket-p2p/docket/core"
)

// Partial is a read-only view of a download in progress: the part of its file from the start
// up to the first piece not yet verified, which only grows. Every byte in that prefix was
// checked against the blob's SHA-256 chain before it was written, so when the prefix reaches
// the end the whole blob has matched its sha256 digest (see lib/metainfo), sooner than the
// store publishes it (fsync, rename). For a blob with another digest the last piece is left
// out until the store has checked it. The view has its own handle on the file: it stays
// readable when the download publishes the file (a rename) or fails (the file is removed), and
// the prefix read from it is the blob's either way.
type Partial struct {
	t *torrent
	f *os.File
}

// Partial returns a view of the running download of blob d, or nil when none runs here (not
// started, finished, or failed). The caller closes it.
func (s *Scheduler) Partial(d core.Digest) *Partial {
	s.mu.Lock()
	var t *torrent
	for _, c := range s.torrents {
		if c.m.Digest == d {
			t = c
			break
		}
	}
	s.mu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	path, ended := t.path, t.ended
	t.mu.Unlock()
	if path == "" || ended {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		// Published or removed between the two looks: nothing in progress any more.
		return nil
	}
	return &Partial{t: t, f: f}
}

// Size is the blob's length.
func (p *Partial) Size() int64 { return p.t.m.Length }

// Verified returns how many bytes from the blob's start are verified and in the file, and,
// unless the download has ended (ended: published or failed, and the prefix grows no more),
// a channel closed when that changes.
func (p *Partial) Verified() (n int64, changed <-chan struct{}, ended bool) {
	t := p.t
	t.mu.Lock()
	defer t.mu.Unlock()
	n = min(int64(t.picker.Front())*t.m.PieceLength, t.m.Length)
	if !t.m.ChainIsDigest() {
		// Verified pieces do not add up to a verified blob: the last waits for the store.
		n = min(n, int64(t.m.NumPieces()-1)*t.m.PieceLength)
	}
	if t.ended {
		return n, nil, true
	}
	if t.advanced == nil {
		t.advanced = make(chan struct{})
	}
	return n, t.advanced, false
}

// ReadAt reads the download's file. Only bytes below what Verified returned are the blob's.
func (p *Partial) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.f.ReadAt(b, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("scheduler: read download of %s: %w", p.t.m.Digest, err)
	}
	return n, err
}

// Section returns the n bytes from off as a reader of the file itself, so that copying it to a
// socket goes by sendfile. It moves the view's file offset: one reader at a time.
func (p *Partial) Section(off, n int64) (io.Reader, error) {
	if _, err := p.f.Seek(off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("scheduler: seek download of %s: %w", p.t.m.Digest, err)
	}
	return &io.LimitedReader{R: p.f, N: n}, nil
}

// Close releases the view's handle on the file.
func (p *Partial) Close() error { return p.f.Close() }

// advance wakes the Partial views waiting for t's verified prefix to change. Called with t.mu
// held.
func (t *torrent) advance() {
	if t.advanced != nil {
		close(t.advanced)
		t.advanced = nil
	}
}

// end marks t's download as over (published or failed) for its Partial views.
func (t *torrent) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
	t.advance()
}
