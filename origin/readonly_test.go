package origin

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/backend/httpbackend"
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
