package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/config"
	"github.com/docket-p2p/docket/origin/client"
)

// assertNoLeftovers fails if an origin's store holds temp files or uploads, once its
// background work (metainfo, write-back) is done.
func assertNoLeftovers(t *testing.T, o *testOrigin) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range []*retryQueue{o.srv.metaInfos, o.srv.writeBack.q} {
		if err := q.drain(ctx); err != nil {
			t.Fatalf("background queue %s not drained: %v", q.name, err)
		}
	}
	for _, dir := range []string{"tmp", "uploads"} {
		entries, err := os.ReadDir(filepath.Join(o.dir, dir))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Fatalf("%s/ of %s holds %d leftover files", dir, o.addr, len(entries))
		}
	}
}

// TestTruncatedPut sends a PUT whose body ends before its Content-Length: the origin
// publishes nothing and keeps nothing.
func TestTruncatedPut(t *testing.T) {
	o := startOrigins(t, 1, 1)[0]
	data, d := randomBlob(t, 64<<10)
	conn, err := net.Dial("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /blobs/%s?ns=lib%%2Fx HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", d, o.addr, len(data))
	if _, err := conn.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.ReadAll(conn) // the server gives up on the request and closes
	ctx := context.Background()
	if _, err := client.New(o.addr, nil).Stat(ctx, "lib/x", d); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("truncated PUT published: %v", err)
	}
	assertNoLeftovers(t, o)

	// A chunked upload that lost its tail fails at commit and leaves nothing either.
	c := client.New(o.addr, nil)
	if err := c.StartUpload(ctx, "lib/x", "short"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchUpload(ctx, "lib/x", "short", 0, bytes.NewReader(data[:1000])); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitUpload(ctx, "lib/x", "short", d); !errors.Is(err, client.ErrDigestMismatch) {
		t.Fatalf("commit of a truncated upload: %v", err)
	}
	if _, err := c.Stat(ctx, "lib/x", d); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("truncated upload published: %v", err)
	}
	assertNoLeftovers(t, o)
}

// TestConcurrentPuts uploads one blob from many clients at once, monolithic and chunked:
// every upload succeeds and the stored blob is intact.
func TestConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	o := startOrigins(t, 1, 1)[0]
	c := client.New(o.addr, nil)
	data, d := randomBlob(t, 2<<20+3)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- c.Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data))
		}()
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("up-%d", i)
			if err := c.StartUpload(ctx, "ns", id); err != nil {
				errs <- err
				return
			}
			if _, err := c.PatchUpload(ctx, "ns", id, 0, bytes.NewReader(data)); err != nil {
				errs <- err
				return
			}
			errs <- c.CommitUpload(ctx, "ns", id, d)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	body, err := c.Download(ctx, "ns", d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored blob differs (%v)", err)
	}
	// Open-ended range from an offset.
	body, err = c.Download(ctx, "ns", d, int64(len(data))-10, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(body)
	body.Close()
	if !bytes.Equal(got, data[len(data)-10:]) {
		t.Fatalf("tail range: got %d bytes", len(got))
	}
	if err := o.srv.writeBack.drain(ctx); err != nil {
		t.Fatal(err)
	}
	assertNoLeftovers(t, o)
}

// TestReadThroughFromPeers: with the backend emptied before write-back could help, an owner
// whose disk was wiped gets the blob back from the other owner; a stat never fetches; a blob
// nobody holds is reported missing by every origin (origins do not ask each other in a loop).
func TestReadThroughFromPeers(t *testing.T) {
	ctx := context.Background()
	origins := startOrigins(t, 3, 2)
	byAddr := map[string]*testOrigin{}
	var addrs []string
	for _, o := range origins {
		byAddr[o.addr] = o
		addrs = append(addrs, o.addr)
	}
	cluster, err := client.NewCluster(addrs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, d := randomBlob(t, 1<<20+5)
	if err := cluster.Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	owners := cluster.Owners(d)
	first, second := byAddr[owners[0].Addr()], byAddr[owners[1].Addr()]
	for _, o := range origins {
		if err := o.srv.writeBack.drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	backendRoot := origins[0].srv.cfg.Backend.Root
	if err := os.RemoveAll(filepath.Join(backendRoot, "blobs")); err != nil {
		t.Fatal(err)
	}
	if err := first.srv.Store().Delete(d); err != nil {
		t.Fatal(err)
	}
	// Stat answers from the peer without fetching.
	c := client.New(first.addr, nil)
	if n, err := c.Stat(ctx, "ns", d); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat on the wiped owner: %d, %v", n, err)
	}
	if _, err := first.srv.Store().Stat(d); err == nil {
		t.Fatal("a stat fetched the blob")
	}
	body, err := c.Download(ctx, "ns", d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("blob read through from the peer differs")
	}
	if _, err := first.srv.Store().Stat(d); err != nil {
		t.Fatalf("read-through did not keep the blob: %v", err)
	}
	if _, err := second.srv.Store().Stat(d); err != nil {
		t.Fatalf("second owner lost the blob: %v", err)
	}
	// Absent everywhere: every origin says so, for stat, download and metainfo.
	_, missing := randomBlob(t, 10)
	for _, o := range origins {
		oc := client.New(o.addr, nil)
		if _, err := oc.Stat(ctx, "ns", missing); !errors.Is(err, client.ErrBlobNotFound) {
			t.Fatalf("Stat of a missing blob on %s: %v", o.addr, err)
		}
		if _, err := oc.Download(ctx, "ns", missing, 0, -1); !errors.Is(err, client.ErrBlobNotFound) {
			t.Fatalf("Download of a missing blob on %s: %v", o.addr, err)
		}
		if _, err := oc.MetaInfo(ctx, "ns", missing); !errors.Is(err, client.ErrBlobNotFound) {
			t.Fatalf("MetaInfo of a missing blob on %s: %v", o.addr, err)
		}
	}
}

// TestReadThroughFromBackend: a blob only the backend holds is stat'ed without being
// fetched, then fetched once, verified and kept; a corrupt backend object is refused and
// nothing is published.
func TestReadThroughFromBackend(t *testing.T) {
	ctx := context.Background()
	o := startOrigins(t, 1, 1)[0]
	data, d := randomBlob(t, 3<<20)
	if err := o.srv.backendFor("ns").Upload(ctx, blobName(d), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	c := client.New(o.addr, nil)
	if n, err := c.Stat(ctx, "ns", d); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat: %d, %v", n, err)
	}
	if _, err := o.srv.Store().Stat(d); err == nil {
		t.Fatal("a stat fetched the blob")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := c.Download(ctx, "ns", d, 0, -1)
			if err != nil {
				t.Error(err)
				return
			}
			got, _ := io.ReadAll(body)
			body.Close()
			if !bytes.Equal(got, data) {
				t.Error("read-through content differs")
			}
		}()
	}
	wg.Wait()

	bad, badDigest := randomBlob(t, 4096)
	bad[0] ^= 0xff
	if err := o.srv.backendFor("ns").Upload(ctx, blobName(badDigest), bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatal(err)
	}
	// The first request streams while reading through: it may get headers, but never a
	// complete body for content that failed verification.
	if body, err := c.Download(ctx, "ns", badDigest, 0, -1); err == nil {
		got, rerr := io.ReadAll(body)
		body.Close()
		if rerr == nil {
			t.Fatalf("corrupt backend object served in full (%d bytes)", len(got))
		}
	}
	if _, err := o.srv.Store().Stat(badDigest); err == nil {
		t.Fatal("corrupt backend object published")
	}
	assertNoLeftovers(t, o)
}

// TestClusterFailover: with the first owner down, reads and uploads go to the next one.
func TestClusterFailover(t *testing.T) {
	ctx := context.Background()
	origins := startOrigins(t, 3, 2)
	addrs := []string{origins[0].addr, origins[1].addr, origins[2].addr}
	cluster, err := client.NewCluster(addrs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, d := randomBlob(t, 100<<10)
	first := cluster.Owners(d)[0].Addr()
	for _, o := range origins {
		if o.addr == first {
			o.stop(t)
		}
	}
	if err := cluster.Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("upload with the first owner down: %v", err)
	}
	body, err := cluster.Download(ctx, "ns", d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("failover download differs")
	}
	m, err := cluster.MetaInfo(ctx, "ns", d)
	if err != nil || m.Digest != d {
		t.Fatalf("failover metainfo: %+v, %v", m, err)
	}
	_, missing := randomBlob(t, 10)
	// The live owner asked the backend: "not found" stands although one owner is down.
	if _, err := cluster.Stat(ctx, "ns", missing); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("Stat of a missing blob with an owner down: %v", err)
	}
	// Every origin down: unavailable, not "not found".
	for _, o := range origins {
		o.stop(t)
	}
	if _, err := cluster.Stat(ctx, "ns", d); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("Stat with every origin down: %v", err)
	}
}

func TestConfig(t *testing.T) {
	var c Config
	if err := config.Decode([]byte("listen: 127.0.0.1:15002\ncluster: [\"127.0.0.1:15002\", \"127.0.0.1:15012\"]\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Self != "127.0.0.1:15002" || c.Replicas != 2 || c.Backend.Type != backends.TypeFS ||
		c.Backend.Root != filepath.Join(DefaultDataDir, "backend") || c.UploadTTL != DefaultUploadTTL {
		t.Fatalf("defaults: %+v", c)
	}
	var one Config
	if err := config.Decode([]byte("replicas: 3\n"), &one); err != nil || one.Replicas != 1 {
		t.Fatalf("replicas not clamped to the cluster: %d, %v", one.Replicas, err)
	}
	for _, bad := range []string{
		"listen: [1]\n",
		"unknown_key: 1\n",
		"self: 10.0.0.1:15002\ncluster: [\"10.0.0.2:15002\"]\n",
		"backend: {type: s4}\n",
		"upload_ttl: -1h\n",
		"cluster: [\"no-port\"]\n",
	} {
		var c Config
		if err := config.Decode([]byte(bad), &c); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

// TestReplicaRepair: an owner that is down when a blob is committed gets its replica pushed
// once it is back, while the commit itself succeeds at once.
func TestReplicaRepair(t *testing.T) {
	ctx := context.Background()
	origins := startOrigins(t, 3, 2)
	var addrs []string
	for _, o := range origins {
		addrs = append(addrs, o.addr)
	}
	cluster, err := client.NewCluster(addrs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, d := randomBlob(t, 256<<10)
	owners := cluster.Owners(d)
	var first, second *testOrigin
	for _, o := range origins {
		switch o.addr {
		case owners[0].Addr():
			first = o
		case owners[1].Addr():
			second = o
		}
	}
	second.stop(t)
	if err := owners[0].Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("upload with the second owner down: %v", err)
	}
	if first.srv.repairs.pendingCount() != 1 {
		t.Fatalf("%d repairs pending, want 1", first.srv.repairs.pendingCount())
	}
	back := restartOrigin(t, second, addrs)
	// The repair retries with backoff (first retry after retryFirst); wait for it to land.
	dctx, cancel := context.WithTimeout(ctx, 10*retryFirst)
	defer cancel()
	if err := first.srv.repairs.drain(dctx); err != nil {
		t.Fatalf("repair did not finish: %v", err)
	}
	if n, err := back.srv.Store().Stat(d); err != nil || n != int64(len(data)) {
		t.Fatalf("restarted owner lacks the replica: %d, %v", n, err)
	}
}

// TestDeleteEverywhere: a delete on any origin removes the blob from every origin and the
// backend, so no read-through brings it back.
func TestDeleteEverywhere(t *testing.T) {
	ctx := context.Background()
	origins := startOrigins(t, 3, 2)
	var addrs []string
	for _, o := range origins {
		addrs = append(addrs, o.addr)
	}
	cluster, err := client.NewCluster(addrs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, d := randomBlob(t, 64<<10)
	if err := cluster.Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	for _, o := range origins {
		if err := o.srv.writeBack.drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.New(origins[0].addr, nil).Delete(ctx, "ns", d); err != nil {
		t.Fatal(err)
	}
	for _, o := range origins {
		if _, err := o.srv.Store().Stat(d); err == nil {
			t.Fatalf("%s still holds the deleted blob", o.addr)
		}
		if _, err := client.New(o.addr, nil).Stat(ctx, "ns", d); !errors.Is(err, client.ErrBlobNotFound) {
			t.Fatalf("%s still serves the deleted blob: %v", o.addr, err)
		}
	}
	// Deleting again is not an error.
	if err := client.New(origins[1].addr, nil).Delete(ctx, "ns", d); err != nil {
		t.Fatal(err)
	}

	// A backend that fails the delete does not keep the other origins' copies: the delete
	// goes on to them and reports the failure, to be tried again.
	data, d = randomBlob(t, 64<<10)
	if err := cluster.Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	origins[0].srv.backends = oneBackend{failingDelete{origins[0].srv.backendFor("ns")}}
	if err := client.New(origins[0].addr, nil).Delete(ctx, "ns", d); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("delete with a failing backend: %v, want unavailable", err)
	}
	for _, o := range origins[1:] {
		if _, err := o.srv.Store().Stat(d); err == nil {
			t.Errorf("%s kept its copy because another origin's backend failed", o.addr)
		}
	}
}

// failingDelete is a backend whose Delete fails.
type failingDelete struct{ backend.Client }

func (failingDelete) Delete(context.Context, string) error { return errBackendDown }

// gatedBackend is a hand-written backend wrapper whose Download sends the first half of the
// object, then waits for release.
type gatedBackend struct {
	backend.Client
	release chan struct{}
}

func (g *gatedBackend) Download(ctx context.Context, name string, w io.Writer) error {
	var buf bytes.Buffer
	if err := g.Client.Download(ctx, name, &buf); err != nil {
		return err
	}
	b := buf.Bytes()
	if _, err := w.Write(b[:len(b)/2]); err != nil {
		return err
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	_, err := w.Write(b[len(b)/2:])
	return err
}

// TestReadThroughStreams: the first caller of a cold blob receives bytes while the backend is
// still sending; a second caller meanwhile shares the same backend read.
func TestReadThroughStreams(t *testing.T) {
	// Bounded, so a regression fails rather than hangs.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := startOrigins(t, 1, 1)[0]
	data, d := randomBlob(t, 2<<20)
	if err := o.srv.backendFor("ns").Upload(ctx, blobName(d), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	gate := &gatedBackend{Client: o.srv.backendFor(""), release: make(chan struct{})}
	o.srv.backends = oneBackend{gate}
	released := false
	defer func() {
		if !released {
			close(gate.release)
		}
	}()
	c := client.New(o.addr, nil)
	body, err := c.Download(ctx, "ns", d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	// Half a megabyte of the first half (the sink withholds the latest byte until the
	// next chunk, so not all of it).
	first := make([]byte, 1<<19)
	if _, err := io.ReadFull(body, first); err != nil {
		t.Fatalf("reading before the backend finished: %v", err)
	}
	if !bytes.Equal(first, data[:1<<19]) {
		t.Fatal("first bytes differ")
	}
	second := make(chan []byte, 1)
	go func() {
		b2, err := c.Download(ctx, "ns", d, 0, -1)
		if err != nil {
			second <- nil
			return
		}
		defer b2.Close()
		got, _ := io.ReadAll(b2)
		second <- got
	}()
	close(gate.release)
	released = true
	rest, err := io.ReadAll(body)
	if err != nil || !bytes.Equal(append(first, rest...), data) {
		t.Fatalf("streamed blob differs (%v)", err)
	}
	if got := <-second; !bytes.Equal(got, data) {
		t.Fatal("concurrent caller got different content")
	}
	if _, err := o.srv.Store().Stat(d); err != nil {
		t.Fatalf("streamed read-through not kept: %v", err)
	}
	assertNoLeftovers(t, o)
}
