package buildindex

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/config"
	"github.com/docket-p2p/docket/lib/metrics"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := config.Decode(nil, &c); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen:  ":15004",
		DataDir: filepath.Join("docket-data", "build-index"),
	}
	want.Backend.Type = backends.TypeFS
	want.Backend.Root = filepath.Join("docket-data", "build-index", "backend")
	if c.Listen != want.Listen || c.DataDir != want.DataDir || c.Backend.Type != want.Backend.Type ||
		c.Backend.Root != want.Backend.Root {
		t.Fatalf("defaults = %+v, want %+v", c, want)
	}

	var d Config
	if err := config.Decode([]byte("data_dir: /srv/bi\n"), &d); err != nil {
		t.Fatal(err)
	}
	if d.Backend.Root != filepath.Join("/srv/bi", "backend") {
		t.Fatalf("backend root = %q, want it under data_dir", d.Backend.Root)
	}
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"listen: nowhere\n", "listen"},
		{"colour: blue\n", "colour"},
		{"backend:\n  type: ftp\n", "ftp"},
		{"backend:\n  type: s3\n", "bucket"},
		{"backend:\n  type: gcs\n", "bucket"},
		{"backend:\n  root: 3\n  bogus: true\n", "bogus"},
		{"backend:\n  type: http\n  http: {download_url: \"http://h/{name}\"}\n", "read-only"},
		{"backend:\n  type: http\n  http: {download_url: \"http://h/{name}\", bogus: 1}\n", "bogus"},
	} {
		var c Config
		err := config.Decode([]byte(tc.yaml), &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%q) = %v, want an error naming %q", tc.yaml, err, tc.want)
		}
	}
}

// The build-index built from its configuration alone (fs backend under data_dir) serves on a
// real listener, keeps what it was told across a restart, and stops when its context ends.
func TestServeFromConfig(t *testing.T) {
	dir := t.TempDir()
	var cfg Config
	if err := config.Decode([]byte("listen: 127.0.0.1:0\ndata_dir: "+dir+"\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func() (*client.Client, func()) {
		s, err := New(cfg, log, metrics.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx, l) }()
		stop := func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return after its context ended")
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
		return client.New(l.Addr().String(), nil), stop
	}
	ctx := context.Background()
	c, stop := run()
	m := entry("served")
	err := c.PutManifest(ctx, "library/app", m, "v1")
	stop()
	if err != nil {
		t.Fatal(err)
	}
	c, stop = run()
	defer stop()
	if d, err := c.GetTag(ctx, "library/app", "v1"); err != nil || d != m.Digest {
		t.Fatalf("after restart GetTag = %v, %v; want %v", d, err, m.Digest)
	}
	if names, err := filepath.Glob(filepath.Join(dir, "backend", "*")); err != nil || len(names) == 0 {
		t.Fatalf("nothing under data_dir/backend: %v, %v", names, err)
	}
}
