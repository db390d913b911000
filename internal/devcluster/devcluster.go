// Package devcluster starts a whole Docket cluster in one process: an origin, the build-index,
// the tracker, the proxy and one or more agents, each on its own listener, on the local
// filesystem backend under one data directory. It is what `docket dev` runs and what end-to-end
// tests start on free ports.
//
// Every socket is opened before any component is created, so each component's configuration
// carries the real addresses of the others (port 0 becomes the port the kernel picked).
package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/docket-p2p/docket/lib/config"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
)

// Defaults of `docket dev`. In Options, a zero port means "pick a free port" instead, which is
// what tests want.
const (
	DefaultDataDir        = "docket-data"
	DefaultHost           = "127.0.0.1"
	DefaultProxyPort      = 5000
	DefaultAgentPort      = 16000
	DefaultOriginPort     = 15002
	DefaultTrackerPort    = 15003
	DefaultBuildIndexPort = 15004
)

// MaxAgents bounds Options.Agents: a swarm to watch on one host, not a load test of the kernel.
const MaxAgents = 64

// maxPort is the largest TCP port.
const maxPort = 65535

// Component names, as printed and used for metrics and data folders.
const (
	NameOrigin     = "origin"
	NameBuildIndex = "build-index"
	NameTracker    = "tracker"
	NameProxy      = "proxy"
	NameAgent      = "agent"
)

// Options configures a dev cluster. The zero value plus a DataDir is a cluster of one agent on
// free ports of 127.0.0.1.
type Options struct {
	// DataDir holds every component's data, one subfolder each; created if missing. Required.
	DataDir string
	// Host is the address every component listens on (default 127.0.0.1).
	Host string
	// Ports; 0 picks a free port. Agent i listens on AgentPort+i (every agent on a free port
	// when AgentPort is 0).
	ProxyPort, AgentPort, OriginPort, TrackerPort, BuildIndexPort int
	// Agents is how many agents to start (default 1, at most MaxAgents).
	Agents int
	// Log receives every component's logs, tagged with "component" (default: discarded).
	Log *slog.Logger
	// Metrics returns a component's metrics registry (default metrics.New; tests may pass
	// func(string) *metrics.Registry { return metrics.NewNop() }).
	Metrics func(component string) *metrics.Registry
}

func (o *Options) applyDefaults() {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Agents == 0 {
		o.Agents = 1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New
	}
}

// CheckPorts reports ports out of range, an agent count out of range, and two components given
// the same non-zero port.
func (o Options) CheckPorts() error {
	agents := o.Agents
	if agents == 0 {
		agents = 1
	}
	if agents < 1 || agents > MaxAgents {
		return fmt.Errorf("%w: %d agents, want 1 to %d", ErrInvalidOptions, o.Agents, MaxAgents)
	}
	named := []struct {
		name string
		port int
	}{
		{NameProxy, o.ProxyPort}, {NameOrigin, o.OriginPort}, {NameTracker, o.TrackerPort},
		{NameBuildIndex, o.BuildIndexPort},
	}
	if o.AgentPort != 0 {
		for i := range agents {
			named = append(named, struct {
				name string
				port int
			}{agentName(i, agents), o.AgentPort + i})
		}
	} else {
		named = append(named, struct {
			name string
			port int
		}{NameAgent, 0})
	}
	used := map[int]string{}
	for _, n := range named {
		if n.port < 0 || n.port > maxPort {
			return fmt.Errorf("%w: %s port %d out of range 0-%d", ErrInvalidOptions, n.name, n.port, maxPort)
		}
		if n.port == 0 {
			continue
		}
		if other, ok := used[n.port]; ok {
			return fmt.Errorf("%w: %s and %s both on port %d", ErrInvalidOptions, other, n.name, n.port)
		}
		used[n.port] = n.name
	}
	return nil
}

// Component is one running component: what `docket dev` prints.
type Component struct {
	Name    string // e.g. "origin", "agent-1"
	Addr    string // host:port it listens on
	DataDir string // its data folder, "" if it keeps nothing on disk
}

// Cluster is a running dev cluster.
type Cluster struct {
	// Addresses (host:port) of the components.
	Proxy, Origin, Tracker, BuildIndex string
	// Agent is the first agent's address; Agents lists every agent's.
	Agent  string
	Agents []string
	// Components lists every component in start-up order.
	Components []Component

	configs   map[string]config.Config // by component name, filled by newServer
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	errOnce   sync.Once
	err       error
	closers   []io.Closer // servers and registries, closed in reverse order
	closeOnce sync.Once
	closeErr  error
}

// server is what every component's *Server is; servers owning background work also implement
// io.Closer.
type server interface {
	Serve(ctx context.Context, l net.Listener) error
}

// member is one component being started: its listener, then its server.
type member struct {
	Component
	l   net.Listener
	srv server
}

// builder creates one component's server, wired to the cluster's addresses. The real one is
// newServer (wiring.go); the machinery's tests pass fakes.
type builder func(c *Cluster, comp Component, o Options, reg *metrics.Registry) (server, error)

// start opens every listener, creates every component with build and serves them until ctx
// ends or Close is called. On error nothing is left running or listening.
func start(ctx context.Context, o Options, build builder) (*Cluster, error) {
	if o.DataDir == "" {
		return nil, fmt.Errorf("%w: no data directory", ErrInvalidOptions)
	}
	if err := o.CheckPorts(); err != nil {
		return nil, err
	}
	o.applyDefaults()
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	o.DataDir = dataDir

	members, err := listenAll(o)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	started := false
	defer func() {
		if !started {
			for _, m := range members {
				_ = m.l.Close()
			}
			_ = c.closeAll()
		}
	}()
	for _, m := range members {
		switch {
		case m.Name == NameProxy:
			c.Proxy = m.Addr
		case m.Name == NameOrigin:
			c.Origin = m.Addr
		case m.Name == NameTracker:
			c.Tracker = m.Addr
		case m.Name == NameBuildIndex:
			c.BuildIndex = m.Addr
		default:
			c.Agents = append(c.Agents, m.Addr)
		}
		c.Components = append(c.Components, m.Component)
	}
	c.Agent = c.Agents[0]

	for _, m := range members {
		if m.DataDir != "" {
			if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
				return nil, fmt.Errorf("%s data directory: %w", m.Name, err)
			}
		}
		reg := o.Metrics(metricsName(m.Name))
		c.closers = append(c.closers, reg)
		srv, err := build(c, m.Component, o, reg)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", m.Name, err)
		}
		if cl, ok := srv.(io.Closer); ok {
			c.closers = append(c.closers, cl)
		}
		m.srv = srv
	}

	runCtx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	for _, m := range members {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := m.srv.Serve(runCtx, m.l); err != nil {
				c.errOnce.Do(func() { c.err = fmt.Errorf("%s: %w", m.Name, err) })
				cancel()
			}
		}()
		o.Log.Info("started", "component", m.Name, "addr", m.Addr, "data", m.DataDir)
	}
	started = true
	return c, nil
}

// listenAll opens every component's listener; on error it closes those it opened.
func listenAll(o Options) (_ []*member, err error) {
	var members []*member
	defer func() {
		if err != nil {
			for _, m := range members {
				_ = m.l.Close()
			}
		}
	}()
	add := func(name string, port int, dataDir string) error {
		addr := net.JoinHostPort(o.Host, strconv.Itoa(port))
		l, err := httpserver.Listen(addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
		}
		members = append(members, &member{
			Component: Component{Name: name, Addr: advertised(o.Host, l.Addr()), DataDir: dataDir},
			l:         l,
		})
		return nil
	}
	if err := add(NameOrigin, o.OriginPort, filepath.Join(o.DataDir, NameOrigin)); err != nil {
		return nil, err
	}
	if err := add(NameBuildIndex, o.BuildIndexPort, filepath.Join(o.DataDir, NameBuildIndex)); err != nil {
		return nil, err
	}
	if err := add(NameTracker, o.TrackerPort, ""); err != nil {
		return nil, err
	}
	if err := add(NameProxy, o.ProxyPort, ""); err != nil {
		return nil, err
	}
	for i := range o.Agents {
		port := 0
		if o.AgentPort != 0 {
			port = o.AgentPort + i
		}
		name := agentName(i, o.Agents)
		if err := add(name, port, filepath.Join(o.DataDir, name)); err != nil {
			return nil, err
		}
	}
	return members, nil
}

// advertised is the address other components dial to reach a listener on host: the listener's
// port on host, or on 127.0.0.1 when host is a wildcard.
func advertised(host string, a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = DefaultHost
	}
	return net.JoinHostPort(host, port)
}

// agentName is "agent" for a single agent and "agent-0", "agent-1", ... for several.
func agentName(i, n int) string {
	if n == 1 {
		return NameAgent
	}
	return NameAgent + "-" + strconv.Itoa(i)
}

// metricsName is the metrics prefix of a component ("docket_<name>_..."): no dashes, and every
// agent shares "agent" (each has its own registry and /metrics).
func metricsName(name string) string {
	switch {
	case name == NameBuildIndex:
		return "buildindex"
	case name == NameAgent || len(name) > len(NameAgent) && name[:len(NameAgent)+1] == NameAgent+"-":
		return NameAgent
	default:
		return name
	}
}

// Wait blocks until every component has stopped serving: after the context given to Start ends,
// after Close, or after one component fails (which stops the others). It returns the first
// failure, nil after a clean stop.
func (c *Cluster) Wait() error {
	c.wg.Wait()
	return c.err
}

// Close stops every component, waits for them to finish serving and releases their resources.
// It is safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		c.wg.Wait()
		c.closeErr = c.closeAll()
	})
	return c.closeErr
}

// closeAll closes servers and registries in reverse order of creation.
func (c *Cluster) closeAll() error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		if err := c.closers[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.closers = nil
	return errors.Join(errs...)
}
