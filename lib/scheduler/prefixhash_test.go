package scheduler

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"
)

// The prefix hasher follows the verified pieces from the start of the file, in order
// whatever order they verify in, and its digester plus the rest of the file gives the
// blob's digest.
func TestPrefixHasher(t *testing.T) {
	data, m := blob(t, 5*testPieceLength+123)
	s, err := New(Config{}, slog.New(slog.DiscardHandler), tally.NoopScope)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "download"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := s.addTorrent(m, f, false)
	if err != nil {
		t.Fatal(err)
	}
	h := tr.startPrefixHash(f, m.Digest.NewDigester())
	defer h.stop()
	// Pieces 1, 0 and 3 verify (written, then marked held): the prefix is pieces 0 and 1.
	for _, i := range []int{1, 0, 3} {
		off := int64(i) * m.PieceLength
		if _, err := f.WriteAt(data[off:off+m.PieceSize(i)], off); err != nil {
			t.Fatal(err)
		}
		tr.mu.Lock()
		_, _ = tr.picker.Done(i)
		tr.mu.Unlock()
		h.poke()
	}
	want := 2 * m.PieceLength
	for deadline := time.Now().Add(10 * time.Second); h.hashed.Load() < want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a hasher going past the prefix would do so by now
	hashed, err := h.stop()
	if err != nil {
		t.Fatal(err)
	}
	if hashed != want {
		t.Fatalf("hashed %d bytes, want the prefix of pieces 0 and 1, %d", hashed, want)
	}
	if _, err := h.g.Write(data[hashed:]); err != nil {
		t.Fatal(err)
	}
	if got := h.g.Digest(); got != m.Digest {
		t.Fatalf("prefix hash plus the rest gives %s, want %s", got, m.Digest)
	}
	if again, err := h.stop(); again != hashed || err != nil {
		t.Fatalf("second stop: %d, %v; want %d, nil", again, err, hashed)
	}
}
