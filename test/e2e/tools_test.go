package e2e

import (
	"bytes"
	"context"
	"hash/fnv"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// toolTimeout bounds every external client command a test runs.
const toolTimeout = 5 * time.Minute

// seedFor derives an image seed from the test's name, so every test pushes its own content.
func seedFor(t *testing.T) uint64 {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return h.Sum64()
}

// needTool returns the path of an external client. Under CI=true a missing tool fails the test
// (.ci/run installs them); elsewhere it skips.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed but CI=true: .ci/run must install it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// run executes a command and returns its trimmed stdout; a failure fails the test with stderr.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}
