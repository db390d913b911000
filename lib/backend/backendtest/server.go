package backendtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docket-p2p/docket/internal/gotool"
	"github.com/docket-p2p/docket/lib/backend"
)

// serverStartTimeout bounds how long a storage server may take to answer.
const serverStartTimeout = 30 * time.Second

// StartServer runs a storage server for a backend's tests (versitygw, fake-gcs-server) on a
// free port of 127.0.0.1 and stops it when the test ends. bin is looked up on PATH and in
// $(go env GOPATH)/bin (see LookBinary for install). args returns the command line for the
// server's host:port; StartServer waits until GET readyPath answers and returns host:port.
func StartServer(t *testing.T, bin, install string, args func(addr string) []string, readyPath string) string {
	t.Helper()
	return StartStoppableServer(t, bin, install, args, readyPath).Addr
}

// Server is a storage server started by StartStoppableServer: a test can stop it (the store
// goes down) and start it again on the same address, with the same data.
type Server struct {
	Addr string

	t         *testing.T
	bin, path string
	args      []string
	readyPath string
	cmd       *exec.Cmd
	exited    chan error
	out       *tailBuffer
}

// StartStoppableServer is StartServer returning a Server the test can stop and restart.
func StartStoppableServer(t *testing.T, bin, install string, args func(addr string) []string, readyPath string) *Server {
	t.Helper()
	path := LookBinary(t, bin, install)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{Addr: addr, t: t, bin: bin, path: path, args: args(addr), readyPath: readyPath, out: &tailBuffer{}}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("%s output (last %d bytes):\n%s", bin, serverLogTail, s.out.String())
		}
	})
	s.Start()
	return s
}

// Start runs the server (again) and waits until it answers.
func (s *Server) Start() {
	t := s.t
	t.Helper()
	cmd := exec.Command(s.path, s.args...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(serverStartTimeout)
	for {
		resp, err := http.Get("http://" + s.Addr + s.readyPath)
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case werr := <-exited:
			exited <- werr
			t.Fatalf("%s exited before answering on %s (%v):\n%s", s.bin, s.Addr, werr, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start on %s: %v", s.bin, s.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit; stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// LookBinary returns the path of a test server's binary, looked up on PATH and in
// $(go env GOPATH)/bin. A missing binary skips the test, or fails it under CI=true: .ci/run
// installs it with `go install install` (install is a module path@version) or as install
// says (e.g. "apt-get install docker-registry").
func LookBinary(t testing.TB, bin, install string) string {
	t.Helper()
	path, err := gotool.Look(bin)
	if err != nil {
		hint := install // a module ("path@version"), or how else to install bin
		if strings.Contains(install, "@") {
			hint = "go install " + install
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed but CI=true: .ci/run must install it (%s)", bin, hint)
		}
		t.Skipf("%s not installed (%s)", bin, hint)
	}
	return path
}

// serverLogTail is how much of a server's output is kept, to show when its test fails.
const serverLogTail = 16 << 10

// tailBuffer keeps the last serverLogTail bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > serverLogTail {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-serverLogTail:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
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

// StartRegistry runs Debian's docker-registry (distribution 2.8) on a free port of 127.0.0.1
// with a temporary storage folder and the given auth section of its configuration (YAML at
// indent 0, e.g. "auth:\n  htpasswd: ..."; empty for an anonymous registry), and returns
// host:port.
func StartRegistry(t *testing.T, auth string) string {
	t.Helper()
	dir := t.TempDir()
	return StartServer(t, "docker-registry", "apt-get install docker-registry", func(addr string) []string {
		cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog: {disabled: true}\n"+
			"storage:\n  filesystem:\n    rootdirectory: %s\n  delete: {enabled: true}\n"+
			"http:\n  addr: %s\n  secret: docket-test-secret\n%s", filepath.Join(dir, "storage"), addr, auth)
		path := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"serve", path}
	}, "/v2/")
}
