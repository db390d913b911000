package origin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
	"github.com/docket-p2p/docket/lib/backend/httpbackend"
	"github.com/docket-p2p/docket/lib/backend/registrybackend"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin/client"
)

// startConfigured serves an origin built from cfg (Listen is set to a free port of
// 127.0.0.1) until the test ends.
func startConfigured(t *testing.T, cfg Config) (*Server, client.Client) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = l.Addr().String()
	cfg.PeerListen, cfg.Tracker = "127.0.0.1:0", TrackerNone
	srv, err := New(cfg, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return srv, client.New(cfg.Listen, nil)
}

// TestReadOnlyBackend: a namespace whose backend is a read-only web server reads through from
// it; its uploads owe the backend nothing (no journal entry, no retries), an old journal
// entry for it is dropped rather than retried forever, and a delete does not fail on it.
func TestReadOnlyBackend(t *testing.T) {
	ctx := context.Background()
	webRoot := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := &http.Server{Handler: http.FileServer(http.Dir(webRoot))}
	go web.Serve(l)
	t.Cleanup(func() { web.Close() })

	dir := t.TempDir()
	srv, c := startConfigured(t, Config{
		DataDir: dir, Replicas: 1,
		Backend: BackendConfig{Type: backends.TypeFS, Root: t.TempDir()},
		Namespaces: []backends.NamespaceConfig{{Namespace: "^mirror/", Backend: backends.Config{
			Type: backends.TypeHTTP, HTTP: httpbackend.Config{DownloadURL: "http://" + l.Addr().String() + "/{hex}"},
		}}},
	})

	// Read-through of a blob only the web server holds.
	webData, webDigest := randomBlob(t, 90<<10)
	if err := os.WriteFile(filepath.Join(webRoot, webDigest.Hex()), webData, 0o644); err != nil {
		t.Fatal(err)
	}
	body, err := c.Download(ctx, "mirror/app", webDigest, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAllClose(body); err != nil || !bytes.Equal(got, webData) {
		t.Fatalf("read-through from the web server: %d bytes, %v", len(got), err)
	}

	// An upload to the read-only namespace is acknowledged and owes nothing.
	data, d := randomBlob(t, 50<<10)
	if err := c.Upload(ctx, "mirror/app", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	assertJournalEmpty(t, srv)

	// A journal entry from before the namespace became read-only is dropped, not retried.
	if err := srv.writeBack.journal.add(journalEntry{NS: "mirror/app", Digest: d, Queued: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv.writeBack.schedule("mirror/app", d, time.Now())
	assertJournalEmpty(t, srv)

	// Deleting removes the origin's copy; the web server's is not the origin's to delete.
	if err := c.Delete(ctx, "mirror/app", d); err != nil {
		t.Fatalf("delete in a read-only namespace: %v", err)
	}
	if _, err := os.Stat(filepath.Join(webRoot, webDigest.Hex())); err != nil {
		t.Fatal(err)
	}
}

// assertJournalEmpty waits (bounded) for the write-back queue to drain and checks that
// nothing is owed to any backend.
func assertJournalEmpty(t *testing.T, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.writeBack.drain(ctx); err != nil {
		t.Fatalf("write-back did not drain (retrying a read-only backend?): %v", err)
	}
	es, _, err := srv.writeBack.journal.entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 0 {
		t.Fatalf("the journal still owes %d blobs: %+v", len(es), es)
	}
}

// TestRegistryReadThrough: an origin whose namespace is backed by another registry (a real
// docker-registry) serves, by read-through, a layer and a manifest only that registry holds;
// a digest it does not hold is "not found".
func TestRegistryReadThrough(t *testing.T) {
	ctx := context.Background()
	upstream := backendtest.StartRegistry(t, "")
	img, err := random.Image(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(upstream+"/mirror/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	layer, err := readAllClose(rc)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}

	_, c := startConfigured(t, Config{
		DataDir: t.TempDir(), Replicas: 1,
		Backend: BackendConfig{Type: backends.TypeFS, Root: t.TempDir()},
		Namespaces: []backends.NamespaceConfig{{Namespace: "^mirror/", Backend: backends.Config{
			Type: backends.TypeRegistry, Registry: registrybackend.Config{Address: "http://" + upstream},
		}}},
	})
	// Another namespace uses the default backend, which never had the layer (asked before
	// the read-through puts a copy on this origin's disk, which answers every namespace).
	if _, err := c.Stat(ctx, "other/app", core.SHA256Digest(layer)); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("another namespace: %v, want ErrBlobNotFound", err)
	}
	for what, want := range map[string][]byte{"layer": layer, "manifest": manifest} {
		d := core.SHA256Digest(want)
		body, err := c.Download(ctx, "mirror/app", d, 0, -1)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got, err := readAllClose(body); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s read through from the registry: %d bytes, %v", what, len(got), err)
		}
	}
	if _, err := c.Stat(ctx, "mirror/app", core.SHA256Digest([]byte("not upstream"))); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("a digest the registry lacks: %v, want ErrBlobNotFound", err)
	}
}
