package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/docket-p2p/docket/core"
)

func TestUploads(t *testing.T) {
	ctx := context.Background()
	data := randomBytes(t, 5<<20+3)
	d := core.SHA256Digest(data)
	chunks := [][]byte{data[:1<<20], data[1<<20 : 4<<20], data[4<<20:]}

	appendAll := func(t *testing.T, s *Store, id string) {
		t.Helper()
		var off int64
		for _, c := range chunks {
			n, err := s.AppendUpload(id, off, bytes.NewReader(c))
			if err != nil {
				t.Fatal(err)
			}
			off += int64(len(c))
			if n != off {
				t.Fatalf("size %d, want %d", n, off)
			}
		}
	}

	t.Run("chunked commit", func(t *testing.T) {
		s := newStore(t, Options{})
		if err := s.CreateUpload("u1"); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUpload("u1"); !errors.Is(err, ErrUploadExists) {
			t.Fatalf("second create: %v", err)
		}
		appendAll(t, s, "u1")
		if _, err := s.AppendUpload("u1", 5, bytes.NewReader([]byte("x"))); !errors.Is(err, ErrOffsetMismatch) {
			t.Fatalf("append at wrong offset: %v", err)
		}
		if n, _ := s.UploadSize("u1"); n != int64(len(data)) {
			t.Fatalf("UploadSize %d", n)
		}
		if err := s.CommitUpload(ctx, "u1", d); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(readBlob(t, s, d), data) {
			t.Fatal("content differs")
		}
		if _, err := s.UploadSize("u1"); !errors.Is(err, ErrUploadNotFound) {
			t.Fatalf("upload survives commit: %v", err)
		}
		assertClean(t, s)
	})
	t.Run("wrong digest keeps nothing", func(t *testing.T) {
		s := newStore(t, Options{})
		if err := s.CreateUpload("u2"); err != nil {
			t.Fatal(err)
		}
		appendAll(t, s, "u2")
		wrong := core.SHA256Digest([]byte("nope"))
		if err := s.CommitUpload(ctx, "u2", wrong); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("commit: %v", err)
		}
		for _, x := range []core.Digest{wrong, d} {
			if _, err := s.Stat(x); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s published after a failed commit", x)
			}
		}
		assertClean(t, s)
	})
	t.Run("sha512 and restart", func(t *testing.T) {
		root := t.TempDir()
		s, err := New(root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUpload("u3"); err != nil {
			t.Fatal(err)
		}
		appendAll(t, s, "u3")
		// A new process has no hash state: the commit re-reads the file.
		s2, err := New(root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		g, _ := core.NewDigester(core.SHA512)
		g.Write(data)
		if err := s2.CommitUpload(ctx, "u3", g.Digest()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(readBlob(t, s2, g.Digest()), data) {
			t.Fatal("content differs")
		}
	})
	t.Run("bad ids", func(t *testing.T) {
		s := newStore(t, Options{})
		for _, id := range []string{"", "../x", "a/b", ".", string(make([]byte, 200))} {
			if err := s.CreateUpload(id); !errors.Is(err, ErrInvalidUploadID) {
				t.Fatalf("CreateUpload(%q): %v", id, err)
			}
		}
	})
	t.Run("truncated append is resumable", func(t *testing.T) {
		s := newStore(t, Options{})
		if err := s.CreateUpload("u4"); err != nil {
			t.Fatal(err)
		}
		n, err := s.AppendUpload("u4", 0, io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(io.ErrUnexpectedEOF)))
		if !errors.Is(err, io.ErrUnexpectedEOF) || n != 1000 {
			t.Fatalf("append: %d, %v", n, err)
		}
		if _, err := s.AppendUpload("u4", n, bytes.NewReader(data[1000:])); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitUpload(ctx, "u4", d); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPurgeUploads(t *testing.T) {
	now := time.Now()
	s := newStore(t, Options{Now: func() time.Time { return now }, UploadTTL: time.Hour})
	for _, id := range []string{"old", "fresh"} {
		if err := s.CreateUpload(id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.PurgeUploads(); err != nil || n != 0 {
		t.Fatalf("purge before the TTL: %d, %v", n, err)
	}
	old := now.Add(-2 * time.Hour)
	if err := os.Chtimes(s.uploadPath("old"), old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeUploads(); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if _, err := s.UploadSize("old"); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("old upload survived: %v", err)
	}
	if _, err := s.UploadSize("fresh"); err != nil {
		t.Fatalf("fresh upload purged: %v", err)
	}
}

// TestPurgeByInjectedClock expires uploads and orphaned temp files by the store's clock alone:
// nothing sleeps and no file time is forged.
func TestPurgeByInjectedClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newStore(t, Options{Now: clock, UploadTTL: time.Hour})
	for _, id := range []string{"idle", "busy"} {
		if err := s.CreateUpload(id); err != nil {
			t.Fatal(err)
		}
	}
	orphan := filepath.Join(s.Root(), "tmp", "put-orphan")
	if err := os.WriteFile(orphan, []byte("half a blob"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.touch(orphan)
	advance(50 * time.Minute)
	if _, err := s.AppendUpload("busy", 0, bytes.NewReader([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	advance(20 * time.Minute) // idle: 70 min untouched, busy: 20 min
	if n, err := s.PurgeUploads(); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v; want 1 upload removed", n, err)
	}
	if _, err := s.UploadSize("idle"); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("idle upload survived: %v", err)
	}
	if n, err := s.UploadSize("busy"); err != nil || n != 3 {
		t.Fatalf("active upload: %d, %v", n, err)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("orphaned temp file kept: %v", err)
	}
	// An upload whose lock is held (an append in flight) is never purged.
	advance(2 * time.Hour)
	u, err := s.lockUpload("busy")
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeUploads()
	u.mu.Unlock()
	if err != nil || n != 0 {
		t.Fatalf("purge with the upload busy: %d, %v", n, err)
	}
	if n, err := s.PurgeUploads(); err != nil || n != 1 {
		t.Fatalf("purge once idle: %d, %v", n, err)
	}
	assertClean(t, s)
}

// TestUploadOperationsRace runs appends, size queries, commits, cancels and purges of the
// same uploads at once: every call either succeeds or reports a sentinel, a committed blob
// is always intact, and nothing is left behind.
func TestUploadOperationsRace(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s := newStore(t, Options{Now: func() time.Time { return now }, UploadTTL: time.Hour})
	data := randomBytes(t, 256<<10)
	d := core.SHA256Digest(data)
	allowed := []error{ErrUploadNotFound, ErrOffsetMismatch, ErrDigestMismatch, ErrUploadExists}
	check := func(err error) error {
		if err == nil {
			return nil
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				return nil
			}
		}
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1024)
	for i := range 4 {
		id := []string{"u0", "u1", "u2", "u3"}[i]
		wg.Add(4)
		go func() {
			defer wg.Done()
			for range 20 {
				errs <- check(s.CreateUpload(id))
				_, err := s.AppendUpload(id, 0, bytes.NewReader(data))
				errs <- check(err)
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				_, err := s.UploadSize(id)
				errs <- check(err)
				errs <- check(s.CommitUpload(ctx, id, d))
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				errs <- check(s.CancelUpload(id))
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				_, err := s.PurgeUploads()
				errs <- check(err)
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
	if _, err := s.Stat(d); err == nil {
		if got := readBlob(t, s, d); !bytes.Equal(got, data) {
			t.Fatal("committed blob is corrupt")
		}
	}
	for _, id := range []string{"u0", "u1", "u2", "u3"} {
		if err := s.CancelUpload(id); err != nil && !errors.Is(err, ErrUploadNotFound) {
			t.Fatal(err)
		}
	}
	assertClean(t, s)
}
