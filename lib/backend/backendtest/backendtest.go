// Package backendtest is the conformance suite every storage backend passes: the filesystem
// one here, S3 and GCS against real S3- and GCS-compatible servers.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

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
	names := []string{"a/b/2", "a/b/1", "a/bc/1", "a/c", "b/a", "ab/x"}
	for _, n := range names {
		put(t, c, n, []byte(n))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a/b/1", "a/b/2", "a/bc/1", "a/c", "ab/x", "b/a"}},
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
}

func testLarge(t *testing.T, c backend.Client) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	put(t, c, "large", data)
	if got := get(t, c, "large"); !bytes.Equal(got, data) {
		t.Fatal("large object differs")
	}
}
