package gcs

import (
	"context"
	"net"
	"testing"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
)

// fakeGCS starts fake-gcs-server (in memory, plain HTTP) with one bucket.
func fakeGCS(t *testing.T) Config {
	t.Helper()
	addr := backendtest.StartServer(t, "fake-gcs-server", "github.com/fsouza/fake-gcs-server@v1.56.1",
		func(addr string) []string {
			host, port, _ := net.SplitHostPort(addr)
			return []string{"-scheme", "http", "-backend", "memory", "-host", host, "-port", port,
				"-public-host", addr, "-log-level", "error"}
		}, "/storage/v1/b")
	cfg := Config{Bucket: "docket-test", Endpoint: "http://" + addr + "/storage/v1/", ChunkSize: 1 << 20}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.bucket.Create(context.Background(), "docket", nil); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return cfg
}

func TestConformance(t *testing.T) {
	base := fakeGCS(t)
	backendtest.RunPrefixed(t, func(t *testing.T, prefix string) backend.Client {
		cfg := base
		cfg.Prefix = prefix
		c, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{{}, {Bucket: "b", Prefix: "x"}, {Bucket: "b", ChunkSize: -1}} {
		c.ApplyDefaults()
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}
