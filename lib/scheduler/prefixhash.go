package scheduler

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/docket-p2p/docket/core"
)

// prefixHasher hashes a download's file from its start as far as its pieces have verified,
// while the download runs, and to its end once they all have (finish), so that the blob's
// digest is known when its last piece comes, instead of after reading the whole file back
// when every agent of a swarm is doing the same at the same moment. The bytes are read back
// from the file, after the pieces were written to it: the digest is of what is on disk.
type prefixHasher struct {
	t    *torrent
	f    *os.File
	g    *core.Digester
	kick chan struct{}
	quit chan struct{}
	once sync.Once
	done chan struct{}
	// hashed is how many bytes from the file's start g has been fed, written by the hashing
	// goroutine only; err is its error, read once done is closed.
	hashed atomic.Int64
	err    error
}

// startPrefixHash starts hashing t's pieces in order from f as they verify; poke says more
// may have, stop ends it.
func (t *torrent) startPrefixHash(f *os.File, g *core.Digester) *prefixHasher {
	h := &prefixHasher{t: t, f: f, g: g, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go h.run()
	return h
}

// poke tells the hasher that a piece verified; it never blocks.
func (h *prefixHasher) poke() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// finish waits until the hasher has fed the digester the whole file, once every piece has
// verified, and returns like stop.
func (h *prefixHasher) finish() (int64, error) {
	h.poke()
	<-h.done
	return h.hashed.Load(), h.err
}

// stop ends the hashing and returns how many bytes from the start of the file the digester
// has been fed; after an error it returns it, and the digester is not to be used. Calls after
// the first return the same.
func (h *prefixHasher) stop() (int64, error) {
	h.once.Do(func() { close(h.quit) })
	<-h.done
	return h.hashed.Load(), h.err
}

func (h *prefixHasher) run() {
	defer close(h.done)
	t := h.t
	buf := make([]byte, t.m.PieceLength)
	next := 0 // pieces [0, next) are hashed
	for {
		select {
		case <-h.kick:
		case <-h.quit:
			return
		}
		t.mu.Lock()
		front := t.picker.Front()
		t.mu.Unlock()
		for ; next < front; next++ {
			select {
			case <-h.quit:
				return
			default:
			}
			b := buf[:t.m.PieceSize(next)]
			if _, err := h.f.ReadAt(b, int64(next)*t.m.PieceLength); err != nil {
				h.err = fmt.Errorf("scheduler: hash piece %d: %w", next, err)
				return
			}
			h.g.Write(b)
			h.hashed.Add(int64(len(b)))
		}
		if next == t.m.NumPieces() {
			return
		}
	}
}
