package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metainfo"
)

func newStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// assertClean fails if anything but published blobs is left: no temp files, no uploads.
func assertClean(t *testing.T, s *Store) {
	t.Helper()
	for _, dir := range []string{"tmp", "uploads"} {
		entries, err := os.ReadDir(filepath.Join(s.Root(), dir))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Fatalf("%s/ holds %d leftover files", dir, len(entries))
		}
	}
}

func readBlob(t *testing.T, s *Store, d core.Digest) []byte {
	t.Helper()
	f, err := s.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPutVerifies(t *testing.T) {
	ctx := context.Background()
	data := randomBytes(t, 3<<20+17)
	d := core.SHA256Digest(data)
	for _, tc := range []struct {
		name string
		d    core.Digest
		size int64
		r    io.Reader
		want error
	}{
		{"wrong digest", core.SHA256Digest([]byte("x")), -1, bytes.NewReader(data), ErrDigestMismatch},
		{"short", d, int64(len(data)), bytes.NewReader(data[:len(data)-1]), ErrSizeMismatch},
		{"long", d, int64(len(data) - 1), bytes.NewReader(data), ErrSizeMismatch},
		{"reader fails midway", d, -1, iotest.TimeoutReader(bytes.NewReader(data)), iotest.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, Options{})
			if err := s.Put(ctx, tc.d, tc.size, tc.r); !errors.Is(err, tc.want) {
				t.Fatalf("Put: %v, want %v", err, tc.want)
			}
			if _, err := s.Stat(tc.d); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Stat after failed Put: %v, want ErrNotFound", err)
			}
			assertClean(t, s)
		})
	}
	t.Run("ok", func(t *testing.T) {
		s := newStore(t, Options{})
		if err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Stat(d); err != nil || n != int64(len(data)) {
			t.Fatalf("Stat: %d, %v", n, err)
		}
		if !bytes.Equal(readBlob(t, s, d), data) {
			t.Fatal("content differs")
		}
		// A second Put of stored content does not read its input.
		if err := s.Put(ctx, d, -1, iotest.ErrReader(errors.New("must not be read"))); err != nil {
			t.Fatal(err)
		}
		assertClean(t, s)
	})
	t.Run("cancelled", func(t *testing.T) {
		s := newStore(t, Options{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Put(cctx, d, -1, bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put: %v, want context.Canceled", err)
		}
		assertClean(t, s)
	})
}

// TestConcurrentWritersAndReaders races writers of one digest against readers; every reader
// sees either nothing or the whole blob.
func TestConcurrentWritersAndReaders(t *testing.T) {
	s := newStore(t, Options{})
	data := randomBytes(t, 1<<20)
	d := core.SHA256Digest(data)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- s.Put(context.Background(), d, int64(len(data)), bytes.NewReader(data))
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				f, err := s.Open(d)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(f)
				f.Close()
				if err != nil || !bytes.Equal(b, data) {
					errs <- errors.New("reader saw a partial or wrong blob")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	assertClean(t, s)
}

func TestMetaInfo(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	data := randomBytes(t, 2<<20+5)
	d := core.SHA256Digest(data)
	if err := s.Put(ctx, d, -1, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	infos := make([]*core.MetaInfo, 8)
	for i := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := s.MetaInfo(ctx, d)
			if err != nil {
				t.Error(err)
			}
			infos[i] = m
		}()
	}
	wg.Wait()
	for _, m := range infos {
		if m == nil || m.InfoHash != infos[0].InfoHash || m.Length != int64(len(data)) {
			t.Fatalf("metainfo differs: %+v", m)
		}
	}
	for i := range infos[0].NumPieces() {
		start := int64(i) * infos[0].PieceLength
		if err := metainfo.VerifyPiece(infos[0], i, data[start:start+infos[0].PieceSize(i)]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(s.blobPath(d) + metainfoSuffix); err != nil {
		t.Fatalf("metainfo not kept beside the blob: %v", err)
	}
	empty := core.SHA256Digest(nil)
	if err := s.Put(ctx, empty, 0, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MetaInfo(ctx, empty); !errors.Is(err, metainfo.ErrEmpty) {
		t.Fatalf("empty blob metainfo: %v", err)
	}
	var walked []core.Digest
	if err := s.Walk(ctx, func(x core.Digest, _ int64) error { walked = append(walked, x); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(walked) != 2 {
		t.Fatalf("Walk found %v", walked)
	}
}

func TestPutExistingChecksSize(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	data := randomBytes(t, 1000)
	d := core.SHA256Digest(data)
	if err := s.Put(ctx, d, 1000, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, d, 999, bytes.NewReader(data)); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("Put of a stored digest with another size: %v", err)
	}
	// Unknown size, or the right one: already there, nothing read.
	if err := s.Put(ctx, d, -1, iotest.ErrReader(errors.New("must not be read"))); err != nil {
		t.Fatal(err)
	}
	assertClean(t, s)
}

// TestMetaInfoSharedAcrossCancel: the caller that starts the shared computation going away
// does not fail the callers waiting on it.
func TestMetaInfoSharedAcrossCancel(t *testing.T) {
	s := newStore(t, Options{})
	data := randomBytes(t, 8<<20)
	d := core.SHA256Digest(data)
	if err := s.Put(context.Background(), d, -1, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.MetaInfo(cctx, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	m, err := s.MetaInfo(context.Background(), d)
	if err != nil || m.Length != int64(len(data)) {
		t.Fatalf("MetaInfo after a cancelled caller: %+v, %v", m, err)
	}
	if _, err := s.MetaInfo(context.Background(), core.SHA256Digest([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MetaInfo of a missing blob: %v", err)
	}
}

// gate is a reader that sends head, then blocks until release is closed, then sends tail.
type gate struct {
	head, tail []byte
	reached    chan struct{}
	release    chan struct{}
	stage      int
}

func (g *gate) Read(p []byte) (int, error) {
	switch g.stage {
	case 0:
		g.stage = 1
		return copy(p, g.head), nil
	case 1:
		close(g.reached)
		<-g.release
		g.stage = 2
		fallthrough
	default:
		if len(g.tail) == 0 {
			return 0, io.EOF
		}
		n := copy(p, g.tail)
		g.tail = g.tail[n:]
		return n, nil
	}
}

// A second Store opened on the same root removes a dead writer's temp file but not the one a
// live Put is still writing.
func TestNewKeepsLiveTempFiles(t *testing.T) {
	root := t.TempDir()
	s, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, "tmp", "put-dead")
	if err := os.WriteFile(stale, []byte("left by a crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 64<<10)
	d := core.SHA256Digest(data)
	g := &gate{head: data[:1000], tail: data[1000:], reached: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- s.Put(context.Background(), d, int64(len(data)), g) }()
	select {
	case <-g.reached:
	case err := <-done:
		t.Fatalf("put ended early: %v", err)
	}
	if _, err := New(root, Options{}); err != nil {
		close(g.release)
		<-done
		t.Fatal(err)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatalf("put after a second New: %v", err)
	}
	if !bytes.Equal(readBlob(t, s, d), data) {
		t.Fatal("content differs")
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file kept: %v", err)
	}
	assertClean(t, s)
}

// A metainfo file that outlived its blob (a crash inside Delete) is not served.
func TestMetaInfoWithoutBlob(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	data := randomBytes(t, 100<<10)
	d := core.SHA256Digest(data)
	if err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MetaInfo(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.blobPath(d)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MetaInfo(ctx, d); !errors.Is(err, ErrNotFound) {
		t.Fatalf("metainfo of a missing blob: %v", err)
	}
	// Publishing the blob again serves a metainfo that matches it.
	if err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	m, err := s.MetaInfo(ctx, d)
	if err != nil || m.Digest != d || m.Length != int64(len(data)) {
		t.Fatalf("metainfo after re-put: %+v, %v", m, err)
	}
}

// PutFile publishes a file written in the store's temp area by renaming it, after checking
// its digest and size; a file that does not match, or that is not the store's, is refused and
// nothing appears under the digest.
func TestPutFile(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	data := randomBytes(t, 300<<10)
	d := core.SHA256Digest(data)
	write := func(b []byte) *os.File { return writeTemp(t, s, b) }

	bad := write(append([]byte{data[0] ^ 1}, data[1:]...))
	if err := s.PutFile(ctx, bad, d, int64(len(data))); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("corrupt file: %v, want ErrDigestMismatch", err)
	}
	short := write(data[:len(data)-1])
	if err := s.PutFile(ctx, short, d, int64(len(data))); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("short file: %v, want ErrSizeMismatch", err)
	}
	foreign, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	if _, err := foreign.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFile(ctx, foreign, d, int64(len(data))); err == nil {
		t.Fatal("a file outside the store's temp area was published")
	}
	if _, err := s.Stat(d); err == nil {
		t.Fatal("a refused file is visible under its digest")
	}
	for _, f := range []*os.File{bad, short} {
		f.Close()
		os.Remove(f.Name())
	}

	good := write(data)
	if err := s.PutFile(ctx, good, d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(good.Name()); !os.IsNotExist(err) {
		t.Fatalf("the temp file is still there after publication: %v", err)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, data) {
		t.Fatal("published blob differs")
	}
	// The open file is the blob now: readers of it keep reading.
	b := make([]byte, 10)
	if _, err := good.ReadAt(b, 0); err != nil || !bytes.Equal(b, data[:10]) {
		t.Fatalf("reading the published file through the old handle: %v", err)
	}
	good.Close()
	// Stored already: another copy is not needed, and nothing is left behind once the caller
	// removes it.
	again := write(data)
	if err := s.PutFile(ctx, again, d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	again.Close()
	os.Remove(again.Name())
	assertClean(t, s)
}

// PutFileFrom takes a digester already fed the file's first bytes and reads only the rest;
// the digest still has to match the whole file, so a prefix hashed from other bytes is
// refused, and so is a prefix longer than the file.
func TestPutFileFrom(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	data := randomBytes(t, 300<<10)
	d := core.SHA256Digest(data)
	const hashed = 100 << 10
	write := func() *os.File { return writeTemp(t, s, data) }
	fed := func(b []byte) *core.Digester {
		g := d.NewDigester()
		g.Write(b)
		return g
	}

	f := write()
	wrong := append([]byte{data[0] ^ 1}, data[1:hashed]...)
	if err := s.PutFileFrom(ctx, f, d, int64(len(data)), fed(wrong), hashed); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("prefix hashed from other bytes: %v, want ErrDigestMismatch", err)
	}
	if err := s.PutFileFrom(ctx, f, d, int64(len(data)), fed(data), int64(len(data))+1); err == nil {
		t.Fatal("a prefix longer than the file was accepted")
	}
	if _, err := s.Stat(d); err == nil {
		t.Fatal("a refused file is visible under its digest")
	}
	f.Close()
	os.Remove(f.Name())

	if err := s.PutFileFrom(ctx, write(), d, int64(len(data)), fed(data[:hashed]), hashed); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, data) {
		t.Fatal("published blob differs")
	}
}

// writeTemp writes b into a new file of s's temp area, closed when the test ends.
func writeTemp(t *testing.T, s *Store, b []byte) *os.File {
	t.Helper()
	f, err := s.CreateTemp()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return f
}
