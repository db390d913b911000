package bench

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docket-p2p/docket/lib/backend/backendtest"
)

// TestSwarmColdBucket runs `docket bench swarm --shaper app --backend s3` at a small scale: a
// blob only in a versitygw bucket reaches every agent through a cold origin, a blob on the
// origin's disk is measured beside it, and the summary line ends the output.
func TestSwarmColdBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("builds docket and runs a swarm")
	}
	vgw := backendtest.LookBinary(t, "versitygw", versitygwModule)
	dir := t.TempDir()
	bin := filepath.Join(dir, "docket")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/docket")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building docket: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := RunSwarm(ctx, SwarmOptions{
		Agents: 3, Size: 3 << 20, Rate: 4 << 20, Shaper: "app", Backend: "s3",
		VersitygwBin: vgw, DocketBin: bin, WorkDir: filepath.Join(dir, "work"), Out: &out,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())
	if res.Warm == nil {
		t.Fatal("no warm figures with --backend s3")
	}
	for name, r := range map[string]SwarmResult{"cold": res, "warm": *res.Warm} {
		if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
			t.Errorf("%s: p50 %.2f p99 %.2f max %.2f out of order", name, r.P50, r.P99, r.Max)
		}
		// The origin sent at least one copy's worth of pieces and not one per agent.
		if r.OriginEgress < 0.9 || r.OriginEgress > 2.9 {
			t.Errorf("%s: origin egress %.2f x size, want at least one copy and fewer than 3", name, r.OriginEgress)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "swarm agents=3 size=3145728 rate=4194304 p50=") {
		t.Errorf("last line %q, want the summary", last)
	}
}
