package buildindex

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
	"github.com/docket-p2p/docket/lib/backend/s3"
	"github.com/docket-p2p/docket/lib/metrics"
)

// versityIndexConfig starts versitygw with a bucket and returns a build-index configuration
// on it (with its own data_dir) and the server, which the test may stop and start again.
func versityIndexConfig(t *testing.T) (Config, *backendtest.Server) {
	t.Helper()
	root := t.TempDir()
	const bucket, access, secret = "docket-bi", "docketaccess", "docketsecret123"
	if err := os.Mkdir(filepath.Join(root, bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := backendtest.StartStoppableServer(t, "versitygw", "github.com/versity/versitygw/cmd/versitygw@v1.8.0",
		func(addr string) []string {
			return []string{"--access", access, "--secret", secret, "--port", addr, "posix", root}
		}, "/")
	return Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Backend: BackendConfig{
		Type: backends.TypeS3,
		S3: s3.Config{Bucket: bucket, Prefix: "index/", Endpoint: "http://" + srv.Addr, PathStyle: true,
			AccessKeyID: access, SecretAccessKey: secret},
	}}, srv
}

// The build-index on a real S3-compatible server (versitygw, started here): what it records
// survives a restart that has nothing but the bucket, and deletes reach the bucket too.
func TestS3BackendRestart(t *testing.T) {
	cfg, _ := versityIndexConfig(t)
	open := func() *Server {
		s, err := New(cfg, testLogger(t), metrics.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	ctx := context.Background()
	first := open()
	x := first.Index()
	m1, m2 := entry("one"), entry("two")
	sig := entry("signature")
	sig.Subject = m1.Digest
	if err := x.PutManifest(ctx, "library/app", m1, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := x.PutManifest(ctx, "library/app", m2, "latest"); err != nil {
		t.Fatal(err)
	}
	if err := x.PutManifest(ctx, "library/app", sig, ""); err != nil {
		t.Fatal(err)
	}
	if err := x.PutManifest(ctx, "team/tool", m2, "stable"); err != nil {
		t.Fatal(err)
	}
	if err := x.DeleteTag(ctx, "team/tool", "stable"); err != nil {
		t.Fatal(err)
	}
	if err := x.DeleteManifest(ctx, "team/tool", m2.Digest); err != nil {
		t.Fatal(err)
	}

	// A restart: the first server stops (its write-back queue, journalled, may still owe
	// some of these to the bucket) and a second one loads the index.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	y := open().Index()
	if got := y.Repositories("", 10); !slices.Equal(got, []string{"library/app"}) {
		t.Fatalf("repositories after restart = %v", got)
	}
	if tags, err := y.ListTags("library/app", "", 10); err != nil || !slices.Equal(tags, []string{"latest", "v1"}) {
		t.Fatalf("tags after restart = %v, %v", tags, err)
	}
	if d, err := y.GetTag("library/app", "v1"); err != nil || d != m1.Digest {
		t.Fatalf("v1 after restart = %v, %v", d, err)
	}
	refs := y.Referrers("library/app", m1.Digest)
	if len(refs) != 1 || refs[0].Digest != sig.Digest || refs[0].Subject != m1.Digest {
		t.Fatalf("referrers after restart = %+v", refs)
	}
	if _, err := y.GetManifest("team/tool", m2.Digest); !errors.Is(err, ErrManifestUnknown) {
		t.Fatalf("deleted manifest after restart: %v", err)
	}
}

// TestS3StoreDownAtStart: a build-index restarted while its object store is down starts with
// the tags it last saw (its local mirror), takes new tags (queued), and those reach the bucket
// once the store is back, though the build-index restarted again in between.
func TestS3StoreDownAtStart(t *testing.T) {
	ctx := context.Background()
	cfg, store := versityIndexConfig(t)
	open := func(cfg Config) (*Server, error) {
		s, err := New(cfg, testLogger(t), metrics.NewNop())
		if err == nil {
			t.Cleanup(func() { _ = s.Close() })
		}
		return s, err
	}
	// inBucket waits (bounded) until a build-index with nothing but the bucket sees tag.
	inBucket := func(tag string, want core.Digest) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			fresh := cfg
			fresh.DataDir = t.TempDir()
			s, err := open(fresh)
			if err == nil {
				d, err := s.Index().GetTag("library/app", tag)
				_ = s.Close()
				if err == nil && d == want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("tag %s never reached the bucket (last: %v)", tag, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first, err := open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := entry("one"), entry("two")
	if err := first.Index().PutManifest(ctx, "library/app", m1, "v1"); err != nil {
		t.Fatal(err)
	}
	inBucket("v1", m1.Digest)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	store.Stop()
	down, err := open(cfg)
	if err != nil {
		t.Fatalf("start while the store is down: %v", err)
	}
	if d, err := down.Index().GetTag("library/app", "v1"); err != nil || d != m1.Digest {
		t.Fatalf("v1 while the store is down = %v, %v", d, err)
	}
	if err := down.Index().PutManifest(ctx, "library/app", m2, "v2"); err != nil {
		t.Fatalf("tag put while the store is down: %v", err)
	}
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}

	store.Start()
	back, err := open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]core.Digest{"v1": m1.Digest, "v2": m2.Digest} {
		if d, err := back.Index().GetTag("library/app", tag); err != nil || d != want {
			t.Fatalf("%s after the store returned = %v, %v", tag, d, err)
		}
	}
	inBucket("v2", m2.Digest)
}
