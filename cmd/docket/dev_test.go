package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// devStartTimeout bounds how long `docket dev` may take to print its ready line.
const devStartTimeout = 30 * time.Second

// syncBuffer is an io.Writer safe for the command's goroutines and the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDevSmoke runs `docket dev` in-process on free ports with two agents, reads its table,
// checks /v2/ on the proxy and the agents and /health and /metrics on every component, then
// stops it with its context (as SIGINT does) and checks it exits 0 and frees every port.
func TestDevSmoke(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"dev", "--data-dir", t.TempDir(), "--agents", "2",
			"--proxy-port", "0", "--agent-port", "0", "--origin-port", "0",
			"--tracker-port", "0", "--build-index-port", "0"}, pw, stderr)
		pw.Close()
		done <- code
	}()

	// Read the table until the ready line.
	rows := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(devStartTimeout)
	ready := false
	for !ready {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("docket dev ended before its ready line; stderr:\n%s", stderr.String())
			}
			if strings.HasPrefix(line, "docket dev ready:") {
				ready = true
				continue
			}
			f := strings.Fields(line)
			if len(f) == 3 && f[0] != "COMPONENT" {
				rows[f[0]] = f[1]
			}
		case <-timeout:
			t.Fatalf("no ready line after %s; stderr:\n%s", devStartTimeout, stderr.String())
		}
	}
	go func() {
		for range lines { // drain, so the command never blocks on its output
		}
	}()

	for _, name := range []string{"origin", "build-index", "tracker", "proxy", "agent-0", "agent-1"} {
		if rows[name] == "" {
			t.Fatalf("table has no %s row: %v", name, rows)
		}
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, name := range []string{"proxy", "agent-0", "agent-1"} {
		if code, body := get("http://" + rows[name] + "/v2/"); code != http.StatusOK {
			t.Errorf("%s /v2/: %d %s", name, code, body)
		}
	}
	for name, addr := range rows {
		if code, body := get("http://" + addr + "/health"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s /health: %d %q", name, code, body)
		}
		if code, _ := get("http://" + addr + "/metrics"); code != http.StatusOK {
			t.Errorf("%s /metrics: %d", name, code)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("docket dev exited %d after its context ended; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(devStartTimeout):
		t.Fatal("docket dev did not stop after its context ended")
	}
	for name, addr := range rows {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s's port %s still held after stop: %v", name, addr, err)
			continue
		}
		l.Close()
	}
}

func TestDevRejectsBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"same port twice", []string{"--proxy-port", "15002"}, "proxy and origin both on port 15002"},
		{"port out of range", []string{"--tracker-port", "70000"}, "tracker port 70000 out of range"},
		{"no agents", []string{"--agents", "0"}, "--agents 0"},
		{"too many agents", []string{"--agents", "1000"}, "1000 agents"},
		{"stray argument", []string{"now"}, "unexpected arguments"},
		{"bad log level", []string{"--log-level", "chatty", "--proxy-port", "0", "--agent-port", "0",
			"--origin-port", "0", "--tracker-port", "0", "--build-index-port", "0"}, "--log-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runDocket(t, context.Background(), append([]string{"dev", "--data-dir", dir}, tc.args...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr %q does not contain %q", stderr, tc.want)
			}
		})
	}
}
