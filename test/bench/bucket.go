package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/internal/gotool"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/s3"
)

// The swarm benchmark's bucket: versitygw (an S3 gateway storing plain files) with one bucket.
const (
	bucketName   = "docket-bench"
	bucketAccess = "docketbench"
	bucketSecret = "docketbenchsecret"
	// versitygwModule is what `go install` builds when versitygw is missing (.ci/run does).
	versitygwModule = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"
)

// swarmBucket is the S3 store of `bench swarm --backend s3`. It runs beside the origin (in the
// origin's namespace under tc), so the origin reads it over loopback: the shaped link stays the
// peers', and what the benchmark adds to a warm run is the cold origin's read-through.
type swarmBucket struct {
	bin  string
	root string // versitygw's posix folder; the bucket is a folder in it
}

func newSwarmBucket(bin, work string) (*swarmBucket, error) {
	if bin == "" {
		var err error
		if bin, err = gotool.Look("versitygw"); err != nil {
			return nil, fmt.Errorf("--backend s3 needs versitygw (go install %s): %w", versitygwModule, err)
		}
	}
	root := filepath.Join(work, "bucket")
	if err := os.MkdirAll(filepath.Join(root, bucketName), 0o755); err != nil {
		return nil, err
	}
	return &swarmBucket{bin: bin, root: root}, nil
}

// args is versitygw's command line, listening on listen with GET /health answering 200.
func (b *swarmBucket) args(listen string) []string {
	return []string{"--access", bucketAccess, "--secret", bucketSecret, "--port", listen,
		"--health", "/health", "posix", b.root}
}

// backendConfig is the origin's backend section for the bucket at endpoint (host:port).
func (b *swarmBucket) backendConfig(endpoint string) string {
	return fmt.Sprintf("backend:\n  type: s3\n  s3:\n    bucket: %q\n    endpoint: %q\n    path_style: true\n"+
		"    access_key_id: %q\n    secret_access_key: %q\n",
		bucketName, "http://"+endpoint, bucketAccess, bucketSecret)
}

// put uploads blob data under the origin's name for it, through a versitygw of its own on
// 127.0.0.1 (the one beside the origin may be out of reach, in a shaped namespace).
func (b *swarmBucket) put(ctx context.Context, work string, d core.Digest, data []byte) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	addr := hostPort(ports[0])
	p, err := startProcess(ctx, filepath.Join(work, "bucket-upload.log"), "http://"+addr+"/health", b.bin, b.args(addr)...)
	if err != nil {
		return err
	}
	defer p.stop()
	c, err := s3.New(ctx, s3.Config{Bucket: bucketName, Endpoint: "http://" + addr, PathStyle: true,
		AccessKeyID: bucketAccess, SecretAccessKey: bucketSecret})
	if err != nil {
		return err
	}
	return c.Upload(ctx, backend.BlobName(d), bytes.NewReader(data), int64(len(data)))
}
