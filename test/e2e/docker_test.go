package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/docket-p2p/docket/test/imagegen"
)

// needDocker returns the docker CLI once the daemon answers. Under CI=true a missing CLI or
// daemon fails the test: these machines run a Docker daemon.
func needDocker(t *testing.T) string {
	t.Helper()
	docker := needTool(t, "docker")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, docker, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker daemon not reachable but CI=true: %v: %s", err, out)
		}
		t.Skipf("docker daemon not reachable: %v", err)
	}
	return docker
}

// TestDockerCLI is the user's path: docker push to the proxy, docker rmi, docker pull from the
// agent. The image is generated and loaded with `docker load`, since nothing can be pulled from
// outside this machine.
func TestDockerCLI(t *testing.T) {
	docker := needDocker(t)
	c := startCluster(t)
	img, err := imagegen.Image(seedFor(t), imagegen.Docker, 2<<20, 512<<10, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	pushRef := c.Proxy + "/e2e/docker-cli:v1"
	pullRef := c.Agent + "/e2e/docker-cli:v1"
	tag, err := name.NewTag(pushRef, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command(docker, "rmi", "-f", pushRef, pullRef).Run()
	})
	run(t, docker, "load", "-i", tarPath)
	imageID := run(t, docker, "image", "inspect", "--format", "{{.Id}}", pushRef)
	run(t, docker, "push", pushRef)
	pushedDigest := repoDigest(t, docker, pushRef)
	run(t, docker, "rmi", pushRef)

	run(t, docker, "pull", pullRef)
	if got := run(t, docker, "image", "inspect", "--format", "{{.Id}}", pullRef); got != imageID {
		t.Fatalf("pulled image id %s, pushed %s", got, imageID)
	}
	if got := repoDigest(t, docker, pullRef); got != pushedDigest {
		t.Fatalf("pulled manifest digest %s, pushed %s", got, pushedDigest)
	}
	// Pull by digest as well.
	run(t, docker, "rmi", pullRef)
	run(t, docker, "pull", c.Agent+"/e2e/docker-cli@"+pushedDigest)
}

// repoDigest returns the manifest digest docker recorded for ref's repository.
func repoDigest(t *testing.T, docker, ref string) string {
	t.Helper()
	repo := ref[:strings.LastIndex(ref, ":")]
	out := run(t, docker, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", ref)
	for _, line := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), repo+"@"); ok {
			return d
		}
	}
	t.Fatalf("no repo digest for %s in %q", repo, out)
	return ""
}
