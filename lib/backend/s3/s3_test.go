package s3

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
)

// versityGW starts versitygw (an S3 gateway that checks signatures and stores plain files)
// with one bucket.
func versityGW(t *testing.T) Config {
	t.Helper()
	root := t.TempDir()
	const bucket, access, secret = "docket-test", "docketaccess", "docketsecret123"
	if err := os.Mkdir(filepath.Join(root, bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := backendtest.StartServer(t, "versitygw", "github.com/versity/versitygw/cmd/versitygw@v1.8.0",
		func(addr string) []string {
			return []string{"--access", access, "--secret", secret, "--port", addr, "posix", root}
		}, "/")
	return Config{Bucket: bucket, Endpoint: "http://" + addr, PathStyle: true,
		AccessKeyID: access, SecretAccessKey: secret, PartSize: minPartSize}
}

func TestConformance(t *testing.T) {
	base := versityGW(t)
	backendtest.RunPrefixed(t, func(t *testing.T, prefix string) backend.Client {
		cfg := base
		cfg.Prefix = prefix
		c, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

func TestWrongCredentials(t *testing.T) {
	cfg := versityGW(t)
	cfg.SecretAccessKey = "not-the-secret"
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(context.Background(), "x"); err == nil {
		t.Fatal("a request signed with the wrong secret succeeded")
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{},
		{Bucket: "b", AccessKeyID: "only-one"},
		{Bucket: "b", PartSize: 1 << 20},
		{Bucket: "b", Prefix: "no-slash"},
	} {
		c.ApplyDefaults()
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}
