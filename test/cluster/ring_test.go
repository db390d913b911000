package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
	"github.com/docket-p2p/docket/lib/backend/s3"
	"github.com/docket-p2p/docket/origin/client"
)

const (
	ringSize = 3
	replicas = 2
	bucket   = "docket-cluster"
	access   = "docketaccess"
	secret   = "docketsecret123"
	ns       = "library/app"
)

// objectStore is versitygw serving one bucket from a folder that outlives its process.
type objectStore struct {
	*proc
	addr string
}

func startObjectStore(t *testing.T) *objectStore {
	t.Helper()
	bin := backendtest.LookBinary(t, "versitygw", "github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := startProc(t, "versitygw", "http://"+addr+"/", bin,
		"--access", access, "--secret", secret, "--port", addr, "posix", root)
	return &objectStore{proc: p, addr: addr}
}

// client returns the S3 backend the origins use, to check what reached the bucket.
func (s *objectStore) client(t *testing.T) backend.Client {
	t.Helper()
	c, err := s3.New(context.Background(), s3.Config{Bucket: bucket, Endpoint: "http://" + s.addr,
		PathStyle: true, Region: "us-east-1", AccessKeyID: access, SecretAccessKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// backendYAML is the backend block of a component's configuration for this store.
func (s *objectStore) backendYAML() string {
	return fmt.Sprintf(`backend:
  type: s3
  s3: {bucket: %q, endpoint: %q, path_style: true, region: us-east-1, access_key_id: %q, secret_access_key: %q}
`, bucket, "http://"+s.addr, access, secret)
}

// bucketStore is an object store the components write to (versitygw, fake-gcs-server).
type bucketStore interface {
	backendYAML() string
	client(t *testing.T) backend.Client
}

// writeConfig writes a component's YAML configuration under dir and returns its path.
func writeConfig(t *testing.T, dir, name, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// origin is one `docket origin` process of the ring.
type origin struct {
	*proc
	addr, dir string
}

// startRing starts ringSize origin processes, replicas 2, writing back to the object store.
func startRing(t *testing.T, store bucketStore) ([]*origin, *client.Cluster) {
	t.Helper()
	addrs := make([]string, ringSize)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	var origins []*origin
	for i, addr := range addrs {
		dir := t.TempDir()
		path := writeConfig(t, dir, "origin", fmt.Sprintf(`listen: %q
peer_listen: %q
tracker: none
data_dir: %q
self: %q
cluster: [%q, %q, %q]
replicas: %d
`, addr, freeAddr(t), filepath.Join(dir, "data"), addr, addrs[0], addrs[1], addrs[2], replicas)+store.backendYAML())
		p := startProc(t, fmt.Sprintf("origin %d", i), "http://"+addr+"/health", docketBin, "origin", "--config", path)
		origins = append(origins, &origin{proc: p, addr: addr, dir: filepath.Join(dir, "data")})
	}
	cluster, err := client.NewCluster(addrs, replicas, nil)
	if err != nil {
		t.Fatal(err)
	}
	return origins, cluster
}

// holdsOnDisk reports whether o's store holds d (its content-addressed path).
func (o *origin) holdsOnDisk(d core.Digest) bool {
	_, err := os.Stat(filepath.Join(o.dir, "blobs", d.Algorithm(), d.Hex()[:2], d.Hex()))
	return err == nil
}

// blob is pushed content and its digest.
type blob struct {
	data []byte
	d    core.Digest
}

func newBlob(t *testing.T, size int) blob {
	t.Helper()
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return blob{b, core.SHA256Digest(b)}
}

// push uploads b through the cluster client; a nil error is the acknowledgement.
func push(ctx context.Context, c *client.Cluster, b blob) error {
	return c.Upload(ctx, ns, b.d, int64(len(b.data)), bytes.NewReader(b.data))
}

// pull reads b through the cluster client and checks its bytes against its digest.
func pull(ctx context.Context, c *client.Cluster, b blob) error {
	rc, err := c.Download(ctx, ns, b.d, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if core.SHA256Digest(got) != b.d {
		return fmt.Errorf("%s: read %d bytes of another digest", b.d, len(got))
	}
	return nil
}

// waitFor polls cond every 50ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inBucket reports whether every blob is in the bucket with its size.
func inBucket(ctx context.Context, be backend.Client, blobs []blob) bool {
	for _, b := range blobs {
		info, err := be.Stat(ctx, "blobs/sha256/"+b.d.Hex()[:2]+"/"+b.d.Hex())
		if err != nil || info.Size != int64(len(b.data)) {
			return false
		}
	}
	return true
}
