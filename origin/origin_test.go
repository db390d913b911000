package origin

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin/client"
)

type testOrigin struct {
	srv    *Server
	addr   string
	dir    string
	cancel context.CancelFunc
	done   chan error
}

func (o *testOrigin) stop(t *testing.T) {
	t.Helper()
	if o.cancel == nil {
		return
	}
	o.cancel()
	if err := <-o.done; err != nil {
		t.Errorf("serve: %v", err)
	}
	o.srv.Close()
	o.cancel = nil
}

// startOrigins starts n origins on 127.0.0.1 forming one ring, sharing one fs backend root.
func startOrigins(t *testing.T, n, replicas int) []*testOrigin {
	t.Helper()
	backendRoot := t.TempDir()
	ls := make([]net.Listener, n)
	addrs := make([]string, n)
	for i := range ls {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls[i], addrs[i] = l, l.Addr().String()
	}
	out := make([]*testOrigin, n)
	for i := range out {
		out[i] = serveOrigin(t, ls[i], t.TempDir(), addrs, replicas, backendRoot)
	}
	return out
}

// serveOrigin starts one origin of the ring addrs on listener l with its store in dir; it is
// stopped when the test ends.
func serveOrigin(t *testing.T, l net.Listener, dir string, addrs []string, replicas int, backendRoot string) *testOrigin {
	t.Helper()
	addr := l.Addr().String()
	srv, err := New(Config{
		Listen: addr, DataDir: dir, Self: addr, Cluster: addrs, Replicas: replicas,
		PeerListen: "127.0.0.1:0", Tracker: TrackerNone,
		Backend: BackendConfig{Type: "fs", Root: backendRoot},
	}, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &testOrigin{srv: srv, addr: addr, dir: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { o.done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { o.stop(t) })
	return o
}

func randomBlob(t *testing.T, n int) ([]byte, core.Digest) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b, core.SHA256Digest(b)
}

func TestUploadCommitDownload(t *testing.T) {
	ctx := context.Background()
	o := startOrigins(t, 1, 1)[0]
	c := client.New(o.addr, nil)
	data, d := randomBlob(t, 3<<20+11)
	if err := c.StartUpload(ctx, "lib/x", "u1"); err != nil {
		t.Fatal(err)
	}
	var off int64
	for _, chunk := range [][]byte{data[:1<<20], data[1<<20:]} {
		n, err := c.PatchUpload(ctx, "lib/x", "u1", off, bytes.NewReader(chunk))
		if err != nil {
			t.Fatal(err)
		}
		off = n
	}
	if _, err := c.PatchUpload(ctx, "lib/x", "u1", 7, bytes.NewReader([]byte("x"))); !errors.Is(err, client.ErrOffsetMismatch) {
		t.Fatalf("patch at a wrong offset: %v", err)
	}
	if n, err := c.UploadSize(ctx, "lib/x", "u1"); err != nil || n != int64(len(data)) {
		t.Fatalf("UploadSize: %d, %v", n, err)
	}
	if err := c.CommitUpload(ctx, "lib/x", "u1", d); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Stat(ctx, "lib/x", d); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat: %d, %v", n, err)
	}
	body, err := c.Download(ctx, "lib/x", d, 1000, 5000)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if !bytes.Equal(got, data[1000:6000]) {
		t.Fatal("range download differs")
	}
	m, err := c.MetaInfo(ctx, "lib/x", d)
	if err != nil || m.Length != int64(len(data)) {
		t.Fatalf("MetaInfo: %+v, %v", m, err)
	}
	// Wrong digests publish nothing.
	wrong := core.SHA256Digest([]byte("wrong"))
	if err := c.StartUpload(ctx, "lib/x", "u2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchUpload(ctx, "lib/x", "u2", 0, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitUpload(ctx, "lib/x", "u2", wrong); !errors.Is(err, client.ErrDigestMismatch) {
		t.Fatalf("commit with a wrong digest: %v", err)
	}
	if err := c.Upload(ctx, "lib/x", wrong, int64(len(data)), bytes.NewReader(data)); !errors.Is(err, client.ErrDigestMismatch) {
		t.Fatalf("put with a wrong digest: %v", err)
	}
	if _, err := c.Stat(ctx, "lib/x", wrong); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("wrong digest published: %v", err)
	}
	if _, err := c.UploadSize(ctx, "lib/x", "u2"); !errors.Is(err, client.ErrUploadNotFound) {
		t.Fatalf("failed upload kept: %v", err)
	}
}

// TestReplicationAndReadThrough commits on a non-owner of a three-origin ring (replicas 2):
// both owners hold the blob once the commit returns; after every origin's disk is wiped, the
// blob comes back from the backend.
func TestReplicationAndReadThrough(t *testing.T) {
	ctx := context.Background()
	origins := startOrigins(t, 3, 2)
	addrs := []string{origins[0].addr, origins[1].addr, origins[2].addr}
	cluster, err := client.NewCluster(addrs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, d := randomBlob(t, 1<<20)
	owners := cluster.Owners(d)
	var nonOwner *testOrigin
	for _, o := range origins {
		if o.addr != owners[0].Addr() && o.addr != owners[1].Addr() {
			nonOwner = o
		}
	}
	c := client.New(nonOwner.addr, nil)
	if err := c.StartUpload(ctx, "ns", "up"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchUpload(ctx, "ns", "up", 0, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitUpload(ctx, "ns", "up", d); err != nil {
		t.Fatal(err)
	}
	for _, o := range origins {
		if o.addr == nonOwner.addr {
			continue
		}
		if _, err := o.srv.Store().Stat(d); err != nil {
			t.Fatalf("owner %s lacks the blob after commit: %v", o.addr, err)
		}
	}
	// Wait for write-back, then wipe every store and read through.
	for _, o := range origins {
		if err := o.srv.writeBack.drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := origins[0].srv.backendFor("ns").Stat(ctx, blobName(d)); err != nil {
		t.Fatalf("blob not written back: %v", err)
	}
	for _, o := range origins {
		if err := os.RemoveAll(filepath.Join(o.dir, "blobs")); err != nil {
			t.Fatal(err)
		}
	}
	body, err := cluster.Download(ctx, "ns", d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("read-through content differs")
	}
	// Failover: stop the first owner; reads go to the second.
	for _, o := range origins {
		if o.addr == owners[0].Addr() {
			o.stop(t)
		}
	}
	if n, err := cluster.Stat(ctx, "ns", d); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat with the first owner down: %d, %v", n, err)
	}
}
