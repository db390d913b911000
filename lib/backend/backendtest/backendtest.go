// Package backendtest is the conformance suite every storage backend passes: the filesystem
// one here, S3 and GCS against real S3- and GCS-compatible servers.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/docket-p2p/docket/lib/backend"
)

// Run runs every conformance test against clients made by newClient; each test gets a fresh,
// empty client.
func Run(t *testing.T, newClient func(t *testing.T) backend.Client) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c backend.Client)
	}{
		{"UploadStatDownload", testUploadStatDownload},
		{"Replace", testReplace},
		{"NotFound", testNotFound},
		{"List", testList},
		{"Delete", testDelete},
		{"InvalidNames", testInvalidNames},
		{"ShortUpload", testShortUpload},
		{"CancelledContext", testCancelled},
		{"Large", testLarge},
		{"ConcurrentReplace", testConcurrentReplace},
		{"CancelMidStream", testCancelMidStream},
		{"FailingReader", testFailingReader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newClient(t)) })
	}
}

func put(t *testing.T, c backend.Client, name string, data []byte) {
	t.Helper()
	if err := c.Upload(context.Background(), name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Upload(%q): %v", name, err)
	}
}

func get(t *testing.T, c backend.Client, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Download(context.Background(), name, &buf); err != nil {
		t.Fatalf("Download(%q): %v", name, err)
	}
	return buf.Bytes()
}

func testUploadStatDownload(t *testing.T, c backend.Client) {
	data := []byte("hello, backend")
	put(t, c, "blobs/sha256/ab/abcdef", data)
	info, err := c.Stat(context.Background(), "blobs/sha256/ab/abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.Name != "blobs/sha256/ab/abcdef" {
		t.Fatalf("Stat: %+v", info)
	}
	if got := get(t, c, "blobs/sha256/ab/abcdef"); !bytes.Equal(got, data) {
		t.Fatalf("Download: %q", got)
	}
	put(t, c, "empty", nil)
	if info, err := c.Stat(context.Background(), "empty"); err != nil || info.Size != 0 {
		t.Fatalf("empty object: %+v, %v", info, err)
	}
}

func testReplace(t *testing.T, c backend.Client) {
	put(t, c, "tags/repo/latest", []byte("sha256:old"))
	put(t, c, "tags/repo/latest", []byte("sha256:new-and-longer"))
	if got := get(t, c, "tags/repo/latest"); string(got) != "sha256:new-and-longer" {
		t.Fatalf("after replace: %q", got)
	}
}

func testNotFound(t *testing.T, c backend.Client) {
	ctx := context.Background()
	if _, err := c.Stat(ctx, "missing/object"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Stat: %v", err)
	}
	if err := c.Download(ctx, "missing/object", &bytes.Buffer{}); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Download: %v", err)
	}
	put(t, c, "dir/child", []byte("x"))
	if _, err := c.Stat(ctx, "dir"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Stat of a prefix: %v", err)
	}
}

func testList(t *testing.T, c backend.Client) {
	// "a-x" and "a.x" sort before "a/..." ('-' < '.' < '/'): the order is of whole names
	// as bytes, not a directory walk's.
	names := []string{"a/b/2", "a/b/1", "a/bc/1", "a/c", "b/a", "ab/x", "a.x", "a-x"}
	for _, n := range names {
		put(t, c, n, []byte(n))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-x", "a.x", "a/b/1", "a/b/2", "a/bc/1", "a/c", "ab/x", "b/a"}},
		{"a", []string{"a-x", "a.x", "a/b/1", "a/b/2", "a/bc/1", "a/c", "ab/x"}},
		{"a/", []string{"a/b/1", "a/b/2", "a/bc/1", "a/c"}},
		{"a/b", []string{"a/b/1", "a/b/2", "a/bc/1"}},
		{"a/b/", []string{"a/b/1", "a/b/2"}},
		{"zzz", nil},
	} {
		var got []string
		if err := c.List(context.Background(), tc.prefix, func(n string) error { got = append(got, n); return nil }); err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("List(%q) = %v, want %v", tc.prefix, got, tc.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := c.List(context.Background(), "", func(string) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("List did not stop at fn's error: %v after %d calls", err, n)
	}
}

func testDelete(t *testing.T, c backend.Client) {
	ctx := context.Background()
	put(t, c, "x/y", []byte("1"))
	if err := c.Delete(ctx, "x/y"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "x/y"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Stat after Delete: %v", err)
	}
	if err := c.Delete(ctx, "x/y"); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
}

func testInvalidNames(t *testing.T, c backend.Client) {
	ctx := context.Background()
	for _, name := range []string{"", "/abs", "a/../b", "..", "a/./b", "a//b", "a/", "."} {
		if err := c.Upload(ctx, name, strings.NewReader("x"), 1); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Upload(%q): %v, want ErrInvalidName", name, err)
		}
		if _, err := c.Stat(ctx, name); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Stat(%q): %v, want ErrInvalidName", name, err)
		}
	}
}

func testShortUpload(t *testing.T, c backend.Client) {
	ctx := context.Background()
	put(t, c, "obj", []byte("original"))
	if err := c.Upload(ctx, "obj", strings.NewReader("short"), 100); err == nil {
		t.Fatal("Upload of fewer bytes than announced succeeded")
	}
	if got := get(t, c, "obj"); string(got) != "original" {
		t.Fatalf("a failed upload replaced the object: %q", got)
	}
}

func testCancelled(t *testing.T, c backend.Client) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Upload(ctx, "cancelled", strings.NewReader("x"), 1); err == nil {
		t.Fatal("Upload with a cancelled context succeeded")
	}
	if _, err := c.Stat(context.Background(), "cancelled"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("cancelled upload left an object: %v", err)
	}
	// Every other call refuses to start once its context has ended, and says why.
	put(t, c, "present", []byte("x"))
	if _, err := c.Stat(ctx, "present"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context: %v, want context.Canceled", err)
	}
	if err := c.Download(ctx, "present", io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("Download with a cancelled context: %v, want context.Canceled", err)
	}
	called := false
	if err := c.List(ctx, "", func(string) error { called = true; return nil }); !errors.Is(err, context.Canceled) || called {
		t.Errorf("List with a cancelled context: %v (fn called: %v), want context.Canceled", err, called)
	}
	if err := c.Delete(ctx, "present"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled context: %v, want context.Canceled", err)
	}
	if got := get(t, c, "present"); string(got) != "x" {
		t.Fatalf("object after cancelled calls: %q", got)
	}
}

func testLarge(t *testing.T, c backend.Client) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	put(t, c, "large", data)
	if got := get(t, c, "large"); !bytes.Equal(got, data) {
		t.Fatal("large object differs")
	}
}

// testConcurrentReplace: readers racing writers that replace one object see one whole
// version or another, never a mix or a partial object.
func testConcurrentReplace(t *testing.T, c backend.Client) {
	ctx := context.Background()
	const size = 256 << 10
	versions := make([][]byte, 4)
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('a' + i)}, size)
	}
	put(t, c, "racy", versions[0])
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for i := 1; i < len(versions); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := c.Upload(ctx, "racy", bytes.NewReader(versions[i]), size); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				var buf bytes.Buffer
				if err := c.Download(ctx, "racy", &buf); err != nil {
					errc <- err
					return
				}
				b := buf.Bytes()
				if len(b) != size || !bytes.Equal(b, bytes.Repeat(b[:1], size)) {
					errc <- errors.New("a reader saw a partial or mixed object")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// gatedReader yields its first bytes, signals started, blocks until release closes, and then
// yields zeros: only the backend honouring its context can stop the upload.
type gatedReader struct {
	first   []byte
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if len(g.first) > 0 {
		n := copy(p, g.first)
		g.first = g.first[n:]
		return n, nil
	}
	g.once.Do(func() { close(g.started) })
	<-g.release
	clear(p)
	return len(p), nil
}

// testCancelMidStream: cancelling the context while an upload is streaming fails the upload
// (at the latest at the source's next read) and leaves no object.
func testCancelMidStream(t *testing.T, c backend.Client) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &gatedReader{first: []byte("some bytes"), started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- c.Upload(ctx, "mid", io.LimitReader(r, 1<<20), 1<<20) }()
	select {
	case <-r.started:
	case <-time.After(30 * time.Second):
		t.Fatal("upload never read its source")
	}
	cancel()
	close(r.release)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("upload cancelled mid-stream succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("upload did not stop after its context was cancelled")
	}
	if _, err := c.Stat(context.Background(), "mid"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("cancelled upload left an object: %v", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	put(t, c, "present", []byte("x"))
	if err := c.Download(cctx, "present", &bytes.Buffer{}); err == nil {
		t.Fatal("Download with a cancelled context succeeded")
	}
}

// testFailingReader: an upload whose source fails leaves the previous object in place.
func testFailingReader(t *testing.T, c backend.Client) {
	put(t, c, "keep", []byte("original"))
	err := c.Upload(context.Background(), "keep", iotest.TimeoutReader(strings.NewReader("replacement")), 11)
	if err == nil {
		t.Fatal("upload from a failing reader succeeded")
	}
	if got := get(t, c, "keep"); string(got) != "original" {
		t.Fatalf("a failed upload replaced the object: %q", got)
	}
}
