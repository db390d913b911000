package httpbackend

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
)

// serve runs h on a free port of 127.0.0.1 until the test ends and returns its base URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// writeFiles stores objects as files under root/sub.
func writeFiles(t *testing.T, root string, objects map[string][]byte, path func(name string) string) {
	t.Helper()
	for name, data := range objects {
		p := filepath.Join(root, path(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConformanceFileServer(t *testing.T) {
	backendtest.RunReadOnly(t, func(t *testing.T, objects map[string][]byte) backend.Client {
		root := t.TempDir()
		writeFiles(t, root, objects, func(name string) string { return name })
		base := serve(t, http.FileServer(http.Dir(root)))
		c, err := New(Config{DownloadURL: base + "/{name}"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// TestConformanceAuthNamespace serves files at /<namespace>/<hex> only to requests with the
// configured basic auth and header, through a {namespace}/{hex} template.
func TestConformanceAuthNamespace(t *testing.T) {
	var refused atomic.Int32
	backendtest.RunReadOnly(t, func(t *testing.T, objects map[string][]byte) backend.Client {
		root := t.TempDir()
		writeFiles(t, root, objects, func(name string) string {
			d, err := backend.ParseBlobName(name)
			if err != nil {
				t.Fatal(err)
			}
			return filepath.Join("team", "app", d.Hex())
		})
		fs := http.FileServer(http.Dir(root))
		base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != "reader" || p != "s3cret" || r.Header.Get("X-Api-Key") != "key" {
				refused.Add(1)
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			fs.ServeHTTP(w, r)
		}))
		c, err := New(Config{DownloadURL: base + "/{namespace}/{hex}", Username: "reader", Password: "s3cret",
			Headers: map[string]string{"X-Api-Key": "key"}})
		if err != nil {
			t.Fatal(err)
		}
		// Without a namespace the template cannot be expanded.
		if _, err := c.Stat(context.Background(), backend.BlobName(core.SHA256Digest(nil))); err == nil {
			t.Fatal("{namespace} expanded without a namespace")
		}
		// A client without the credentials is refused, and that is not "not found".
		anon, err := New(Config{DownloadURL: base + "/{namespace}/{hex}"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = anon.ForNamespace("team/app").Stat(context.Background(), backend.BlobName(core.SHA256Digest(nil)))
		if err == nil || errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), "401") {
			t.Fatalf("Stat without credentials: %v, want a 401 error", err)
		}
		return c.ForNamespace("team/app")
	})
	if refused.Load() != 1 {
		t.Fatalf("the server refused %d requests, want only the anonymous one", refused.Load())
	}
}

// TestShortBody: a server that sends fewer bytes than its Content-Length announced fails the
// download.
func TestShortBody(t *testing.T) {
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("only a few"))
	}))
	c, err := New(Config{DownloadURL: base + "/{name}"})
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := c.Download(context.Background(), "x", &buf); err == nil {
		t.Fatalf("a truncated body was accepted: %q", buf.String())
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{},
		{DownloadURL: "ftp://host/{name}"},
		{DownloadURL: "http:///{name}"},
		{DownloadURL: "http://host/fixed"},
		{DownloadURL: "http://host/{namespace}"},
		{DownloadURL: "http://host/{nmae}"},
		{DownloadURL: "http://host/{name}", Password: "p"},
		{DownloadURL: "http://host/{name}", Timeout: -1},
	} {
		c.ApplyDefaults()
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
	ok := Config{DownloadURL: "https://cdn.example.com/x/{namespace}/{digest}"}
	ok.ApplyDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}
