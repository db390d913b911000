// Package bttest runs stock BitTorrent programs from Debian (aria2c, opentracker, mktorrent;
// .ci/run installs them) for interoperability tests: on 127.0.0.1, on free ports, stopped
// when the test ends.
package bttest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// startTimeout bounds how long a started tracker may take to listen.
const startTimeout = 10 * time.Second

// RequireTool returns a stock tool's path; without it the test is skipped, except under
// CI=true, where .ci/run installs it and its absence is a failure.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed under CI=true (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartProcess starts a program that runs until the test ends; it is killed in t.Cleanup and
// its output logged if the test failed.
func StartProcess(t testing.TB, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartOpentracker runs Debian's opentracker on free ports in a temp dir serving only the
// whitelisted info-hashes, and returns its host:port. It chroots into the dir and drops to
// nobody, so the dir and its whitelist must be world-readable (-w is relative to -d).
func StartOpentracker(t testing.TB, whitelist ...core.InfoHash) string {
	t.Helper()
	bin := RequireTool(t, "opentracker")
	dir := t.TempDir()
	var wl bytes.Buffer
	for _, h := range whitelist {
		fmt.Fprintln(&wl, h.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "whitelist"), wl.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udpPort := udp.LocalAddr().(*net.UDPAddr).Port
	udp.Close()
	port := FreePort(t)
	StartProcess(t, bin, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-P", strconv.Itoa(udpPort), "-d", dir, "-w", "whitelist")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// opentracker listens before its whitelist thread has read the file, and until then
	// refuses every info-hash. A "stopped" announce is answered without looking at the
	// whitelist, so probe with a real one for the first whitelisted hash, then take that
	// peer out again.
	tc := trackerclient.New(addr, &http.Client{Timeout: time.Second})
	deadline := time.Now().Add(startTimeout)
	for {
		var err error
		if len(whitelist) > 0 {
			probe := trackerclient.AnnounceRequest{InfoHash: whitelist[0], PeerID: core.NewPeerID(), Port: 1, Left: 1}
			if _, err = tc.Announce(context.Background(), probe); err == nil {
				probe.Event = "stopped"
				_, err = tc.Announce(context.Background(), probe)
			}
		} else {
			var c net.Conn
			if c, err = net.Dial("tcp", addr); err == nil {
				c.Close()
			}
		}
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("opentracker on %s not ready (whitelist %v): %v", addr, whitelist, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
