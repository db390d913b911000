package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// serveTimeout bounds how long a component may take to start or stop in these tests.
const serveTimeout = 20 * time.Second

// testConfig is a configuration for component name that listens on a free loopback port and
// keeps its data under dir.
func testConfig(name, dir string) string {
	listen := "listen: \"127.0.0.1:0\"\n"
	peer := "peer_listen: \"127.0.0.1:0\"\n"
	switch name {
	case "origin":
		// Self names a fixed address: the ring identity, not the listener.
		return listen + peer + "tracker: none\n" +
			fmt.Sprintf("data_dir: %q\nself: \"127.0.0.1:1\"\ncluster: [\"127.0.0.1:1\"]\n", filepath.Join(dir, "origin"))
	case "build-index":
		return listen + fmt.Sprintf("backend:\n  type: fs\n  root: %q\n", filepath.Join(dir, "build-index"))
	case "agent":
		// Port 1 on loopback is closed: announces fail fast and reach no running cluster.
		return listen + peer + "tracker: \"127.0.0.1:1\"\n" + fmt.Sprintf("data_dir: %q\n", filepath.Join(dir, "agent"))
	default:
		return listen
	}
}

var servingAddr = regexp.MustCompile(`msg=serving .*addr=(127\.0\.0\.1:\d+)`)

// TestComponentCommands runs `docket COMPONENT --config FILE` for every component in-process,
// checks it serves /health and /metrics on the port it logged, and that it exits 0 once its
// context ends (as on SIGINT or SIGTERM), releasing the port.
func TestComponentCommands(t *testing.T) {
	for _, c := range components() {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(cfgPath, []byte(testConfig(c.name, dir)), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stderr := &syncBuffer{}
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{c.name, "--config", cfgPath}, io.Discard, stderr)
			}()
			var addr string
			deadline := time.Now().Add(serveTimeout)
			for addr == "" {
				if m := servingAddr.FindStringSubmatch(stderr.String()); m != nil {
					addr = m[1]
					break
				}
				select {
				case code := <-done:
					t.Fatalf("exited %d before serving:\n%s", code, stderr.String())
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("not serving after %s:\n%s", serveTimeout, stderr.String())
				}
			}
			for _, path := range []string{"/health", "/metrics"} {
				resp, err := http.Get("http://" + addr + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %s %s", path, resp.Status, b)
				}
			}
			cancel()
			select {
			case code := <-done:
				if code != exitOK {
					t.Fatalf("exit %d after stop:\n%s", code, stderr.String())
				}
			case <-time.After(serveTimeout):
				t.Fatal("did not stop after its context ended")
			}
			if !strings.Contains(stderr.String(), "msg=stopped") {
				t.Errorf("no stopped line in the log:\n%s", stderr.String())
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("port %s still held after stop: %v", addr, err)
			}
			l.Close()
		})
	}
}

// TestComponentCommandErrors checks the failures a user meets first: a port in use, an invalid
// file, stray arguments.
func TestComponentCommandErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	inUse := filepath.Join(dir, "in-use.yaml")
	if err := os.WriteFile(inUse, []byte(fmt.Sprintf("listen: %q\n", busy.Addr().String())), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen: [1, 2]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"port in use", []string{"tracker", "--config", inUse}, exitError, "listen on " + busy.Addr().String()},
		{"invalid file", []string{"tracker", "--config", bad}, exitError, "cannot unmarshal"},
		{"missing file", []string{"proxy", "--config", filepath.Join(dir, "absent.yaml")}, exitError, "no such file"},
		{"stray argument", []string{"origin", "extra"}, exitUsage, "unexpected arguments"},
		{"bad log format", []string{"agent", "--log-format", "xml", "--config", inUse}, exitUsage, "--log-format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runDocket(t, context.Background(), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, stderr, tc.want)
			}
		})
	}
}
