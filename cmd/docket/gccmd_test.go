package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/docket-p2p/docket/internal/devcluster"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/proxy"
)

// TestGCCommand runs `docket gc` against a dev cluster holding a tagged image and a loose
// blob, with a grace period of a nanosecond: the loose blob is collected, the image is not.
func TestGCCommand(t *testing.T) {
	ctx := context.Background()
	c, err := devcluster.Start(ctx, devcluster.Options{DataDir: t.TempDir(),
		Metrics: func(string) *metrics.Registry { return metrics.NewNop() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	img, err := random.Image(16<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(c.Proxy+"/gc/img:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	loose, err := random.Layer(4<<10, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(ref.Context(), loose); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "proxy.yaml")
	yaml := fmt.Sprintf("listen: \"127.0.0.1:0\"\norigins: [%q]\nreplicas: 1\nbuild_index: %q\ngc_grace: 1ns\n", c.Origin, c.BuildIndex)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runDocket(t, ctx, "gc", "--config", cfg)
	if code != 0 {
		t.Fatalf("docket gc: exit %d\n%s", code, stderr)
	}
	var res proxy.GCResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	if res.Marked != 4 || res.Swept != 1 {
		t.Fatalf("gc: %+v; want 4 marked (manifest, config, 2 layers) and the loose blob swept", res)
	}
	h, err := loose.Digest()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Head(fmt.Sprintf("http://%s/v2/gc/img/blobs/%s", c.Proxy, h))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD of the collected blob: %d, want 404", resp.StatusCode)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(pulled); err != nil {
		t.Fatalf("image after gc: %v", err)
	}
}
