package backendtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
)

// readOnlyLarge is the size of the suite's large object.
const readOnlyLarge = 4 << 20

// RunReadOnly runs the read side of the suite against a read-only backend (HTTP, another
// registry). newClient stores objects (blob names made by backend.BlobName, content matching
// the digest) in the backend's source and returns a client that reads them.
func RunReadOnly(t *testing.T, newClient func(t *testing.T, objects map[string][]byte) backend.Client) {
	large := make([]byte, readOnlyLarge)
	if _, err := rand.Read(large); err != nil {
		t.Fatal(err)
	}
	blobs := [][]byte{[]byte("hello, read-only backend"), {}, large}
	objects := map[string][]byte{}
	for _, b := range blobs {
		objects[backend.BlobName(core.SHA256Digest(b))] = b
	}
	c := newClient(t, objects)
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"StatDownload", func(t *testing.T) { testReadStatDownload(t, c, objects) }},
		{"NotFound", func(t *testing.T) { testReadNotFound(t, c) }},
		{"InvalidNames", func(t *testing.T) { testReadInvalidNames(t, c) }},
		{"ReadOnly", func(t *testing.T) { testReadOnly(t, c, blobs[0]) }},
		{"CancelledContext", func(t *testing.T) { testReadCancelled(t, c, blobs[0]) }},
		{"CancelMidStream", func(t *testing.T) { testReadCancelMidStream(t, c, large) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

func testReadStatDownload(t *testing.T, c backend.Client, objects map[string][]byte) {
	for name, data := range objects {
		info, err := c.Stat(context.Background(), name)
		if err != nil {
			t.Fatalf("Stat(%q): %v", name, err)
		}
		if info.Size != int64(len(data)) || info.Name != name {
			t.Fatalf("Stat(%q) = %+v, want size %d", name, info, len(data))
		}
		if got := get(t, c, name); !bytes.Equal(got, data) {
			t.Fatalf("Download(%q): %d bytes differ from the %d stored", name, len(got), len(data))
		}
	}
}

func testReadNotFound(t *testing.T, c backend.Client) {
	ctx := context.Background()
	for _, name := range []string{backend.BlobName(core.SHA256Digest([]byte("never stored"))), "tags/repo/latest"} {
		if _, err := c.Stat(ctx, name); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("Stat(%q): %v, want ErrNotFound", name, err)
		}
		var buf bytes.Buffer
		if err := c.Download(ctx, name, &buf); !errors.Is(err, backend.ErrNotFound) || buf.Len() != 0 {
			t.Errorf("Download(%q): %v after %d bytes, want ErrNotFound and nothing written", name, err, buf.Len())
		}
	}
}

func testReadInvalidNames(t *testing.T, c backend.Client) {
	ctx := context.Background()
	for _, name := range []string{"", "/abs", "a/../b", "..", "a/./b", "a//b", "a/", "."} {
		if _, err := c.Stat(ctx, name); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Stat(%q): %v, want ErrInvalidName", name, err)
		}
		if err := c.Download(ctx, name, io.Discard); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Download(%q): %v, want ErrInvalidName", name, err)
		}
	}
}

// testReadOnly: every write says ErrReadOnly and changes nothing.
func testReadOnly(t *testing.T, c backend.Client, data []byte) {
	ctx := context.Background()
	if !backend.IsReadOnly(c) {
		t.Error("IsReadOnly is false")
	}
	name := backend.BlobName(core.SHA256Digest(data))
	if err := c.Upload(ctx, name, strings.NewReader("other"), 5); !errors.Is(err, backend.ErrReadOnly) {
		t.Errorf("Upload: %v, want ErrReadOnly", err)
	}
	fresh := backend.BlobName(core.SHA256Digest([]byte("fresh")))
	if err := c.Upload(ctx, fresh, strings.NewReader("fresh"), 5); !errors.Is(err, backend.ErrReadOnly) {
		t.Errorf("Upload of a new object: %v, want ErrReadOnly", err)
	}
	if err := c.Delete(ctx, name); !errors.Is(err, backend.ErrReadOnly) {
		t.Errorf("Delete: %v, want ErrReadOnly", err)
	}
	called := false
	if err := c.List(ctx, "", func(string) error { called = true; return nil }); !errors.Is(err, backend.ErrReadOnly) || called {
		t.Errorf("List: %v (fn called: %v), want ErrReadOnly", err, called)
	}
	if got := get(t, c, name); !bytes.Equal(got, data) {
		t.Fatalf("object after refused writes: %q", got)
	}
	if _, err := c.Stat(ctx, fresh); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("a refused upload left an object: %v", err)
	}
}

func testReadCancelled(t *testing.T, c backend.Client, data []byte) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	name := backend.BlobName(core.SHA256Digest(data))
	if _, err := c.Stat(ctx, name); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context: %v, want context.Canceled", err)
	}
	if err := c.Download(ctx, name, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("Download with a cancelled context: %v, want context.Canceled", err)
	}
}

// cancellingWriter cancels its context at the first write and accepts everything.
type cancellingWriter struct {
	cancel context.CancelFunc
	n      int
}

func (w *cancellingWriter) Write(p []byte) (int, error) {
	w.cancel()
	w.n += len(p)
	return len(p), nil
}

// testReadCancelMidStream: a download whose context ends after its first bytes fails before
// delivering the whole object.
func testReadCancelMidStream(t *testing.T, c backend.Client, large []byte) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancellingWriter{cancel: cancel}
	err := c.Download(ctx, backend.BlobName(core.SHA256Digest(large)), w)
	if err == nil {
		t.Fatalf("Download cancelled mid-stream succeeded (%d of %d bytes)", w.n, len(large))
	}
	if w.n >= len(large) {
		t.Fatalf("Download cancelled mid-stream delivered all %d bytes (err %v)", w.n, err)
	}
}
