package devcluster

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
)

// fakeServer answers /health and records its lifecycle.
type fakeServer struct {
	name     string
	serveErr error // returned by Serve at once instead of serving, if set

	mu       sync.Mutex
	served   bool
	returned bool
	closed   int
}

func (f *fakeServer) Serve(ctx context.Context, l net.Listener) error {
	f.mu.Lock()
	f.served = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.returned = true
		f.mu.Unlock()
	}()
	if f.serveErr != nil {
		l.Close()
		return f.serveErr
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(f.name)) })
	return httpserver.Serve(ctx, l, mux)
}

func (f *fakeServer) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

// fakes builds fakeServers and remembers them by component name.
type fakes struct {
	mu        sync.Mutex
	servers   map[string]*fakeServer
	failNew   string // component whose creation fails
	failServe string // component whose Serve fails at once
	seen      map[string]*Cluster
}

func newFakes() *fakes {
	return &fakes{servers: map[string]*fakeServer{}, seen: map[string]*Cluster{}}
}

func (f *fakes) build(c *Cluster, comp Component, _ Options, _ *metrics.Registry) (server, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if comp.Name == f.failNew {
		return nil, errors.New("refusing to start")
	}
	s := &fakeServer{name: comp.Name}
	if comp.Name == f.failServe {
		s.serveErr = errors.New("socket on fire")
	}
	f.servers[comp.Name] = s
	f.seen[comp.Name] = c
	return s, nil
}

func nopMetrics(string) *metrics.Registry { return metrics.NewNop() }

func testOptions(t *testing.T) Options {
	return Options{DataDir: t.TempDir(), Metrics: nopMetrics}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b := make([]byte, 64)
	n, _ := resp.Body.Read(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b[:n])
}

// assertFree checks that addr can be listened on again: nothing of the cluster holds it.
func assertFree(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("%s still in use: %v", addr, err)
		return
	}
	l.Close()
}

func TestStartServesEveryComponent(t *testing.T) {
	f := newFakes()
	o := testOptions(t)
	o.Agents = 3
	c, err := start(context.Background(), o, f.build)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	wantNames := []string{NameOrigin, NameBuildIndex, NameTracker, NameProxy, "agent-0", "agent-1", "agent-2"}
	if len(c.Components) != len(wantNames) {
		t.Fatalf("components %+v, want %v", c.Components, wantNames)
	}
	for i, comp := range c.Components {
		if comp.Name != wantNames[i] {
			t.Errorf("component %d is %s, want %s", i, comp.Name, wantNames[i])
		}
		if !strings.HasPrefix(comp.Addr, "127.0.0.1:") || strings.HasSuffix(comp.Addr, ":0") {
			t.Errorf("%s address %q is not a real loopback address", comp.Name, comp.Addr)
		}
		if got := getBody(t, "http://"+comp.Addr+"/health"); got != comp.Name {
			t.Errorf("%s answered as %q", comp.Addr, got)
		}
		if comp.DataDir != "" {
			if st, err := os.Stat(comp.DataDir); err != nil || !st.IsDir() {
				t.Errorf("%s data dir %s: %v", comp.Name, comp.DataDir, err)
			}
		}
	}
	if c.Agent != c.Agents[0] || len(c.Agents) != 3 {
		t.Errorf("Agent %s, Agents %v", c.Agent, c.Agents)
	}
	// Every builder saw every address already filled in: sockets open before components.
	for name, seen := range f.seen {
		if seen.Proxy == "" || seen.Origin == "" || seen.Tracker == "" || seen.BuildIndex == "" || len(seen.Agents) != 3 {
			t.Errorf("%s was built before every address was known: %+v", name, seen)
		}
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("Wait after a clean stop: %v", err)
	}
	for _, comp := range c.Components {
		assertFree(t, comp.Addr)
		s := f.servers[comp.Name]
		if !s.returned || s.closed != 1 {
			t.Errorf("%s: Serve returned %v, closed %d times", comp.Name, s.returned, s.closed)
		}
	}
}

// freeRun finds n consecutive free ports on 127.0.0.1.
func freeRun(t *testing.T, n int) int {
	t.Helper()
	for attempt := 0; attempt < 50; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{l}
		ok := base+n-1 <= maxPort
		for i := 1; ok && i < n; i++ {
			li, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, li)
		}
		for _, li := range ls {
			li.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports")
	return 0
}

func TestStartFixedPorts(t *testing.T) {
	base := freeRun(t, 6)
	o := testOptions(t)
	o.OriginPort, o.BuildIndexPort, o.TrackerPort, o.ProxyPort = base, base+1, base+2, base+3
	o.AgentPort, o.Agents = base+4, 2
	c, err := start(context.Background(), o, newFakes().build)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := map[string]int{c.Origin: base, c.BuildIndex: base + 1, c.Tracker: base + 2, c.Proxy: base + 3,
		c.Agents[0]: base + 4, c.Agents[1]: base + 5}
	for addr, port := range want {
		if addr != "127.0.0.1:"+strconv.Itoa(port) {
			t.Errorf("address %s, want port %d", addr, port)
		}
	}
}

func TestStartBuildFailureLeavesNothing(t *testing.T) {
	f := newFakes()
	f.failNew = NameProxy
	o := testOptions(t)
	base := freeRun(t, 5)
	o.OriginPort, o.BuildIndexPort, o.TrackerPort, o.ProxyPort, o.AgentPort = base, base+1, base+2, base+3, base+4
	_, err := start(context.Background(), o, f.build)
	if err == nil || !strings.Contains(err.Error(), "proxy") || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("error %v, want one naming the proxy's failure", err)
	}
	for i := range 5 {
		assertFree(t, "127.0.0.1:"+strconv.Itoa(base+i))
	}
	for _, name := range []string{NameOrigin, NameBuildIndex, NameTracker} {
		s := f.servers[name]
		if s == nil || s.closed != 1 || s.served {
			t.Errorf("%s built before the failure: %+v, want closed once and never served", name, s)
		}
	}
}

func TestStartPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	o := testOptions(t)
	base := freeRun(t, 2)
	o.OriginPort, o.BuildIndexPort = base, base+1
	o.TrackerPort = busy.Addr().(*net.TCPAddr).Port
	f := newFakes()
	_, err = start(context.Background(), o, f.build)
	if err == nil || !strings.Contains(err.Error(), "tracker: listen on") {
		t.Fatalf("error %v, want one naming the tracker's listen", err)
	}
	assertFree(t, "127.0.0.1:"+strconv.Itoa(base))
	assertFree(t, "127.0.0.1:"+strconv.Itoa(base+1))
	if len(f.servers) != 0 {
		t.Errorf("components built although a socket could not be opened: %v", f.servers)
	}
}

func TestServeFailureStopsTheCluster(t *testing.T) {
	f := newFakes()
	f.failServe = NameTracker
	c, err := start(context.Background(), testOptions(t), f.build)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "tracker: socket on fire") {
			t.Fatalf("Wait: %v, want the tracker's failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cluster kept running after a component failed")
	}
	for name, s := range f.servers {
		if !s.returned {
			t.Errorf("%s still serving", name)
		}
	}
}

func TestContextEndStopsTheCluster(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, err := start(ctx, testOptions(t), newFakes().build)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cancel()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cluster kept running after its context ended")
	}
}

func TestCheckPorts(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string // "" for valid
	}{
		{"zero value", Options{}, ""},
		{"defaults", Options{ProxyPort: 5000, AgentPort: 16000, OriginPort: 15002, TrackerPort: 15003, BuildIndexPort: 15004, Agents: 4}, ""},
		{"duplicate", Options{ProxyPort: 5000, OriginPort: 5000}, "proxy and origin both on port 5000"},
		{"agents overlap", Options{AgentPort: 15000, Agents: 3, OriginPort: 15002}, "origin and agent-2 both on port 15002"},
		{"negative", Options{TrackerPort: -1}, "tracker port -1 out of range"},
		{"too big", Options{BuildIndexPort: 70000}, "build-index port 70000 out of range"},
		{"agents past the last port", Options{AgentPort: 65535, Agents: 2}, "agent-1 port 65536 out of range"},
		{"too many agents", Options{Agents: MaxAgents + 1}, "agents, want 1 to"},
		{"negative agents", Options{Agents: -2}, "agents, want 1 to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.CheckPorts()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckPorts: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckPorts: %v, want ErrInvalidOptions naming %q", err, tc.want)
			}
		})
	}
}

func TestStartRejectsMissingDataDir(t *testing.T) {
	if _, err := start(context.Background(), Options{}, newFakes().build); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("start without a data dir: %v", err)
	}
}

func TestAdvertised(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4zero, Port: 1234}
	for host, want := range map[string]string{
		"0.0.0.0":   "127.0.0.1:1234",
		"::":        "127.0.0.1:1234",
		"127.0.0.1": "127.0.0.1:1234",
		"10.1.2.3":  "10.1.2.3:1234",
		"::1":       "[::1]:1234",
	} {
		if got := advertised(host, addr); got != want {
			t.Errorf("advertised(%q) = %s, want %s", host, got, want)
		}
	}
}
