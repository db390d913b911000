// Package cluster runs origins as separate `docket origin` processes on 127.0.0.1 (free ports,
// temp dirs) over a real object store, kills them with SIGKILL and checks that nothing
// acknowledged is lost.
package cluster

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// docketBin is bin/docket built once by TestMain.
var docketBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "docket-cluster-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	docketBin = filepath.Join(dir, "docket")
	build := exec.Command("go", "build", "-o", docketBin, "../../cmd/docket")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building docket:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startTimeout bounds how long a process may take to answer on its port.
const startTimeout = 30 * time.Second

// proc is a server process the test can kill -9 and start again with the same command line.
type proc struct {
	t     *testing.T
	name  string
	args  []string
	ready string // URL that answers once the process serves
	cmd   *exec.Cmd
}

// startProc starts path args and waits until ready answers; the process is killed when the
// test ends.
func startProc(t *testing.T, name, ready string, path string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: append([]string{path}, args...), ready: ready}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *proc) start() {
	p.t.Helper()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	if testing.Verbose() { // the logs of every process, interleaved
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", p.name, err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := http.Get(p.ready)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not answer on %s within %v: %v", p.name, p.ready, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL (no shutdown of any kind) and reaps the process; a no-op if it is not
// running.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

// freeAddr returns a free host:port on 127.0.0.1.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
