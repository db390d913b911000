package backendtest

import (
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
)

// serverStartTimeout bounds how long a storage server may take to answer.
const serverStartTimeout = 30 * time.Second

// StartServer runs a storage server for a backend's tests (versitygw, fake-gcs-server) on a
// free port of 127.0.0.1 and stops it when the test ends. bin is looked up on PATH and in
// $(go env GOPATH)/bin; .ci/run installs it with `go install module` (install). A missing
// binary skips the test, or fails it under CI=true. args returns the command line for the
// server's host:port; StartServer waits until GET readyPath answers and returns host:port.
func StartServer(t *testing.T, bin, install string, args func(addr string) []string, readyPath string) string {
	t.Helper()
	path := LookBinary(t, bin, install)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(path, args(addr)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(serverStartTimeout)
	for {
		resp, err := http.Get("http://" + addr + readyPath)
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start on %s: %v", bin, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LookBinary returns the path of a test server's binary, looked up on PATH and in
// $(go env GOPATH)/bin. A missing binary skips the test, or fails it under CI=true: .ci/run
// installs it with `go install install`.
func LookBinary(t testing.TB, bin, install string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err == nil {
		return path
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	path = filepath.Join(strings.TrimSpace(string(gopath)), "bin", bin)
	if _, serr := os.Stat(path); serr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed but CI=true: .ci/run must install it (go install %s)", bin, install)
		}
		t.Skipf("%s not installed (go install %s)", bin, install)
	}
	return path
}

// RunPrefixed runs the suite against one shared store (a bucket of a test server), giving
// every test its own name prefix so each starts empty. newClient builds a client whose names
// live under prefix.
func RunPrefixed(t *testing.T, newClient func(t *testing.T, prefix string) backend.Client) {
	n := 0
	Run(t, func(t *testing.T) backend.Client {
		n++
		return newClient(t, fmt.Sprintf("run%d/", n))
	})
}
