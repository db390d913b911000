// Package docker holds the container packaging (Dockerfile, docker-compose.yml, their configs)
// and its test: build the FROM-scratch image, start the multi-container cluster with
// docker-compose, push through the proxy container and pull through both agent containers.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// Timeouts of the compose test.
const (
	buildTimeout   = 5 * time.Minute
	readyTimeout   = 90 * time.Second
	commandTimeout = 3 * time.Minute
)

// repoRoot is the repository's top folder, seen from this package.
const repoRoot = ".."

// needTool returns a tool's path; under CI=true a missing tool fails the test, else skips it.
func needTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found but CI=true", tool)
		}
		t.Skipf("%s not found", tool)
	}
	return p
}

// needDocker returns the docker CLI once the daemon answers; under CI=true a missing daemon
// fails the test (these machines run one).
func needDocker(t *testing.T) string {
	t.Helper()
	docker := needTool(t, "docker")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker daemon not reachable but CI=true: %v: %s", err, out)
		}
		t.Skipf("docker daemon not reachable: %v", err)
	}
	return docker
}

// run runs a command with a timeout and returns its trimmed combined output; it fails the
// test on error.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// freeAddr returns 127.0.0.1:<a port that was free a moment ago>.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// buildImage builds the static binary and the image the way `make docker` does, tagged tag.
func buildImage(t *testing.T, docker, tag string) {
	t.Helper()
	ctxDir := t.TempDir()
	for _, d := range []string{"rootfs/var/lib/docket/tmp", "rootfs/var/lib/docket-backend", "rootfs/tmp", "rootfs/etc/docket"} {
		if err := os.MkdirAll(filepath.Join(ctxDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(ctxDir, "rootfs/tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("CA certificates for the image: %v", err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "ca-certificates.crt"), certs, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "docket"), "./cmd/docket")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run(t, nil, docker, "build", "-q", "-f", filepath.Join(repoRoot, "docker", "Dockerfile"), "-t", tag, ctxDir)
	t.Cleanup(func() { _ = exec.Command(docker, "rmi", "-f", tag).Run() })
}

// waitReady polls url until it answers 200.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s (last error %v)", url, readyTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCompose starts the compose cluster from the image, pushes a random multi-layer image
// through the proxy container and pulls it back through both agent containers, comparing
// digests and every layer's bytes; then stops the first origin and pulls again.
func TestCompose(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and starts eight containers")
	}
	docker := needDocker(t)
	compose := needTool(t, "docker-compose")
	suffix := randomSuffix(t)
	tag := "docket-compose-test:" + suffix
	buildImage(t, docker, tag)

	proxy, agent1, agent2 := freeAddr(t), freeAddr(t), freeAddr(t)
	env := []string{
		"DOCKET_IMAGE=" + tag,
		"DOCKET_PROXY_PORT=" + proxy,
		"DOCKET_AGENT1_PORT=" + agent1,
		"DOCKET_AGENT2_PORT=" + agent2,
	}
	project := "docket-test-" + suffix
	composeArgs := func(args ...string) []string {
		return append([]string{"-f", filepath.Join(repoRoot, "docker", "docker-compose.yml"), "-p", project}, args...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(compose, composeArgs("logs", "--no-color", "--tail", "50")...).CombinedOutput()
			t.Logf("compose logs:\n%s", out)
		}
		cmd := exec.Command(compose, composeArgs("down", "-v", "--remove-orphans", "-t", "5")...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})
	run(t, env, compose, composeArgs("up", "-d")...)
	for _, addr := range []string{proxy, agent1, agent2} {
		waitReady(t, "http://"+addr+"/v2/")
		waitReady(t, "http://"+addr+"/health")
	}

	img, err := random.Image(256<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	push, err := name.ParseReference(proxy+"/compose/random:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(push, img); err != nil {
		t.Fatalf("push to the proxy container: %v", err)
	}

	pull := func(t *testing.T, addr string) {
		t.Helper()
		ref, err := name.ParseReference(addr+"/compose/random:v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("pull from %s: %v", addr, err)
		}
		d, err := got.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d != want {
			t.Fatalf("pulled %s from %s, pushed %s", d, addr, want)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("pulled image from %s does not verify: %v", addr, err)
		}
	}
	pull(t, agent1)
	pull(t, agent2)

	// Every blob has two copies on the three-origin ring: with one origin stopped, a cold
	// agent still gets every blob.
	run(t, env, compose, composeArgs("stop", "-t", "5", "origin1")...)
	run(t, env, compose, composeArgs("rm", "-f", "-s", "-v", "agent2")...)
	run(t, env, docker, "volume", "rm", project+"_agent2")
	run(t, env, compose, composeArgs("up", "-d", "--no-deps", "agent2")...)
	waitReady(t, "http://"+agent2+"/v2/")
	t.Run("one origin down", func(t *testing.T) {
		pull(t, agent2)
	})
}
