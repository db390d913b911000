package fs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Client {
		c, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// pausedReader sends head, signals, waits for release, then sends tail.
type pausedReader struct {
	head, tail []byte
	paused     chan struct{}
	release    chan struct{}
	stage      int
}

func (r *pausedReader) Read(p []byte) (int, error) {
	switch r.stage {
	case 0:
		r.stage = 1
		return copy(p, r.head), nil
	case 1:
		close(r.paused)
		<-r.release
		r.stage = 2
		fallthrough
	default:
		if len(r.tail) == 0 {
			return 0, io.EOF
		}
		n := copy(p, r.tail)
		r.tail = r.tail[n:]
		return n, nil
	}
}

// A second client on the same directory (another origin sharing the backend) removes a dead
// uploader's temp file but not one a live upload is writing.
func TestNewKeepsLiveTempFiles(t *testing.T) {
	root := t.TempDir()
	c, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, tmpDir, "up-dead")
	if err := os.WriteFile(stale, []byte("left by a crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("docket"), 10000)
	r := &pausedReader{head: data[:100], tail: data[100:], paused: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- c.Upload(context.Background(), "blobs/x", r, int64(len(data))) }()
	select {
	case <-r.paused:
	case err := <-done:
		t.Fatalf("upload ended early: %v", err)
	}
	_, err = New(root)
	close(r.release)
	if uerr := <-done; uerr != nil {
		t.Fatalf("upload after a second New: %v", uerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Download(context.Background(), "blobs/x", &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("download: %v (equal: %v)", err, bytes.Equal(buf.Bytes(), data))
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file kept: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, tmpDir)); len(entries) != 0 {
		t.Fatalf("%d temp files left", len(entries))
	}
}
