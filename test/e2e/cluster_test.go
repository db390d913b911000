// Package e2e runs Docket as users do: a whole cluster on 127.0.0.1 (free ports, temp dirs),
// driven by real registry clients — go-containerregistry, skopeo and the docker CLI.
package e2e

import (
	"context"
	"testing"

	"github.com/docket-p2p/docket/internal/devcluster"
	"github.com/docket-p2p/docket/lib/metrics"
)

// startCluster starts a one-process dev cluster on free ports under a temp dir and stops it
// when the test ends, pass or fail.
func startCluster(t *testing.T) *devcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := devcluster.Start(ctx, devcluster.Options{
		DataDir: t.TempDir(),
		Metrics: func(string) *metrics.Registry { return metrics.NewNop() },
	})
	if err != nil {
		cancel()
		t.Fatalf("start dev cluster: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := c.Close(); err != nil {
			t.Errorf("stop dev cluster: %v", err)
		}
	})
	return c
}
