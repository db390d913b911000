package devcluster

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/docket-p2p/docket/agent"
	"github.com/docket-p2p/docket/buildindex"
	"github.com/docket-p2p/docket/lib/config"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin"
	originclient "github.com/docket-p2p/docket/origin/client"
	"github.com/docket-p2p/docket/proxy"
	"github.com/docket-p2p/docket/tracker"
)

// backendDir is the folder under DataDir holding the origin's filesystem backend: the dev
// cluster's stand-in for an object store, kept apart from the origin's own cache.
const backendDir = "backend"

// Start opens every listener, creates every component wired to the others' real addresses and
// serves them until ctx ends or Close is called. On error nothing is left running or listening.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	return start(ctx, o, newServer)
}

// Configs returns the configuration each component of c runs with, by component name, as
// `docket COMPONENT --config` would load it: what `docket dev` wires, for printing or for
// starting the same cluster as separate processes.
func (c *Cluster) Configs() map[string]config.Config { return c.configs }

// newServer builds one component of the dev cluster from its configuration, which names the
// real addresses of the others.
func newServer(c *Cluster, comp Component, o Options, reg *metrics.Registry) (server, error) {
	cfg, err := componentConfig(c, comp, o)
	if err != nil {
		return nil, err
	}
	if c.configs == nil {
		c.configs = map[string]config.Config{}
	}
	c.configs[comp.Name] = cfg
	log := o.Log.With("component", comp.Name)
	switch cfg := cfg.(type) {
	case *origin.Config:
		return origin.New(*cfg, log, reg)
	case *buildindex.Config:
		return buildindex.New(*cfg, log, reg)
	case *tracker.Config:
		return tracker.New(*cfg, log, reg)
	case *proxy.Config:
		return proxy.New(*cfg, log, reg)
	case *agent.Config:
		return agent.New(*cfg, log, reg)
	default:
		return nil, fmt.Errorf("no wiring for %T", cfg)
	}
}

// componentConfig is comp's configuration in cluster c: its listen address and data folder,
// the others' addresses, and every other key at its default; validated.
func componentConfig(c *Cluster, comp Component, o Options) (config.Config, error) {
	var cfg config.Config
	// How the proxy, the tracker and the agents find the one origin.
	ring := originclient.Ring{Origins: []string{c.Origin}, Replicas: 1}
	switch comp.Name {
	case NameOrigin:
		cfg = &origin.Config{
			Listen:   comp.Addr,
			DataDir:  comp.DataDir,
			Self:     c.Origin,
			Cluster:  []string{c.Origin},
			Replicas: 1,
			Backend:  origin.BackendConfig{Type: "fs", Root: filepath.Join(o.DataDir, backendDir)},
			// The peer listener takes a free port: several dev clusters may share a host.
			PeerListen: net.JoinHostPort(o.Host, "0"),
			Tracker:    c.Tracker,
		}
	case NameBuildIndex:
		cfg = &buildindex.Config{
			Listen:  comp.Addr,
			Backend: buildindex.BackendConfig{Type: buildindex.BackendFS, Root: comp.DataDir},
		}
	case NameTracker:
		cfg = &tracker.Config{Listen: comp.Addr, Ring: ring}
	case NameProxy:
		cfg = &proxy.Config{
			Listen:     comp.Addr,
			Ring:       ring,
			BuildIndex: c.BuildIndex,
		}
	default: // an agent
		cfg = &agent.Config{
			PeerListen: net.JoinHostPort(o.Host, "0"),
			Tracker:    c.Tracker,
			Listen:     comp.Addr,
			DataDir:    comp.DataDir,
			Ring:       ring,
			BuildIndex: c.BuildIndex,
		}
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s configuration: %w", comp.Name, err)
	}
	return cfg, nil
}
