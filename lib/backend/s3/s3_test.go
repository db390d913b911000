package s3

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
)

// versityGW starts versitygw (an S3 gateway that checks signatures and stores plain files)
// on a free port of 127.0.0.1 with one bucket, and stops it when the test ends. .ci/run
// installs it; elsewhere a missing binary skips, under CI=true it fails.
func versityGW(t *testing.T) Config {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "versitygw")
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("versitygw is not installed but CI=true: .ci/run must install it")
			}
			t.Skip("versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	root := t.TempDir()
	const bucket, access, secret = "docket-test", "docketaccess", "docketsecret123"
	if err := os.Mkdir(filepath.Join(root, bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "posix", root)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not start on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return Config{Bucket: bucket, Endpoint: "http://" + addr, PathStyle: true,
		AccessKeyID: access, SecretAccessKey: secret, PartSize: minPartSize}
}

func TestConformance(t *testing.T) {
	base := versityGW(t)
	n := 0
	backendtest.Run(t, func(t *testing.T) backend.Client {
		n++
		cfg := base
		cfg.Prefix = fmt.Sprintf("run%d/", n) // every test starts empty
		c, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

func TestWrongCredentials(t *testing.T) {
	cfg := versityGW(t)
	cfg.SecretAccessKey = "not-the-secret"
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(context.Background(), "x"); err == nil {
		t.Fatal("a request signed with the wrong secret succeeded")
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{},
		{Bucket: "b", AccessKeyID: "only-one"},
		{Bucket: "b", PartSize: 1 << 20},
		{Bucket: "b", Prefix: "no-slash"},
	} {
		c.ApplyDefaults()
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}
