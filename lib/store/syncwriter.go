package store

import (
	"os"

	"github.com/docket-p2p/docket/lib/fsutil"
)

// writebackChunk is how many freshly written bytes accumulate before the store asks the
// kernel to start writing them out (see fsutil.StartWriteback).
const writebackChunk = 8 << 20

// syncingWriter writes to f from offset off on (f is opened for appending or written
// sequentially) and starts write-out every writebackChunk bytes.
type syncingWriter struct {
	f       *os.File
	off     int64 // file offset of the next byte written
	started int64 // bytes before this offset have had write-out started
}

func (w *syncingWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.started >= writebackChunk {
		fsutil.StartWriteback(w.f, w.started, w.off-w.started)
		w.started = w.off
	}
	return n, err
}
