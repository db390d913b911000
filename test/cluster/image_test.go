package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
	"github.com/docket-p2p/docket/lib/backend/gcs"
)

// writeBackWait bounds how long a pushed image takes to reach the bucket.
const writeBackWait = 60 * time.Second

// gcsStore is fake-gcs-server (in memory) with one bucket.
type gcsStore struct{ addr string }

func startGCS(t *testing.T) *gcsStore {
	t.Helper()
	addr := backendtest.StartServer(t, "fake-gcs-server", "github.com/fsouza/fake-gcs-server@v1.56.1",
		func(addr string) []string {
			host, port, _ := net.SplitHostPort(addr)
			return []string{"-scheme", "http", "-backend", "memory", "-host", host, "-port", port,
				"-public-host", addr, "-log-level", "error"}
		}, "/storage/v1/b")
	resp, err := http.Post("http://"+addr+"/storage/v1/b?project=docket", "application/json",
		strings.NewReader(fmt.Sprintf(`{"name": %q}`, bucket)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("creating the bucket: %s", resp.Status)
	}
	return &gcsStore{addr: addr}
}

func (s *gcsStore) endpoint() string { return "http://" + s.addr + "/storage/v1/" }

func (s *gcsStore) backendYAML() string {
	return fmt.Sprintf("backend:\n  type: gcs\n  gcs: {bucket: %q, endpoint: %q}\n", bucket, s.endpoint())
}

func (s *gcsStore) client(t *testing.T) backend.Client {
	t.Helper()
	c, err := gcs.New(context.Background(), gcs.Config{Bucket: bucket, Endpoint: s.endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestImageFromBucket is the scenario, for S3 and for GCS: push an image through the
// proxy, wait for write-back, wipe every origin's disk (stop, rm, start), pull through an
// agent: the bytes come back from the bucket and match their digests.
func TestImageFromBucket(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) bucketStore
	}{
		{"s3", func(t *testing.T) bucketStore { return startObjectStore(t) }},
		{"gcs", func(t *testing.T) bucketStore { return startGCS(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) { imageFromBucket(t, tc.start(t)) })
	}
}

func imageFromBucket(t *testing.T, store bucketStore) {
	ctx := context.Background()
	origins, _ := startRing(t, store)
	ring := fmt.Sprintf("origins: [%q, %q, %q]\nreplicas: %d\n", origins[0].addr, origins[1].addr, origins[2].addr, replicas)
	dir := t.TempDir()

	bi := freeAddr(t)
	startProc(t, "build-index", "http://"+bi+"/health", docketBin, "build-index", "--config",
		writeConfig(t, dir, "build-index", fmt.Sprintf("listen: %q\ndata_dir: %q\n", bi, filepath.Join(dir, "bi"))+store.backendYAML()))
	proxy := freeAddr(t)
	startProc(t, "proxy", "http://"+proxy+"/health", docketBin, "proxy", "--config",
		writeConfig(t, dir, "proxy", fmt.Sprintf("listen: %q\nbuild_index: %q\n", proxy, bi)+ring))

	img, err := random.Image(256<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	pushRef, err := name.ParseReference(proxy+"/library/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(pushRef, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push through the proxy: %v", err)
	}
	want := imageBlobs(t, img)

	be := store.client(t)
	waitFor(t, writeBackWait, "every blob of the image in the bucket", func() bool {
		for _, h := range want {
			if _, err := be.Stat(ctx, "blobs/sha256/"+h.Hex[:2]+"/"+h.Hex); err != nil {
				return false
			}
		}
		return true
	})
	for _, o := range origins {
		o.kill()
		if err := os.RemoveAll(o.dir); err != nil {
			t.Fatal(err)
		}
		o.start()
	}

	agent := freeAddr(t)
	startProc(t, "agent", "http://"+agent+"/health", docketBin, "agent", "--config",
		writeConfig(t, dir, "agent", fmt.Sprintf("listen: %q\npeer_listen: %q\ntracker: %q\ndata_dir: %q\nbuild_index: %q\n",
			agent, freeAddr(t), freeAddr(t), filepath.Join(dir, "agent"), bi)+ring))
	pullRef, err := name.ParseReference(agent+"/library/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(pullRef, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull through the agent after wiping every origin: %v", err)
	}
	if d, err := got.Digest(); err != nil || d != mustDigest(t, img) {
		t.Fatalf("pulled manifest %v (%v), pushed %v", d, err, mustDigest(t, img))
	}
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("layer %s: %v", d, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil || "sha256:"+hex.EncodeToString(h.Sum(nil)) != d.String() {
			t.Fatalf("layer %s: read %v, digest %x", d, err, h.Sum(nil))
		}
	}
	held := 0
	for _, o := range origins {
		for _, h := range want {
			if _, err := os.Stat(filepath.Join(o.dir, "blobs", "sha256", h.Hex[:2], h.Hex)); err == nil {
				held++
			}
		}
	}
	if held == 0 {
		t.Fatal("no origin read a blob back from the bucket: the pull did not go through the ring")
	}
}

// imageBlobs returns the digests of an image's layers and config.
func imageBlobs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return append(out, cfg)
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
