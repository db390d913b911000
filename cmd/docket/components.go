package main

import (
	"log/slog"

	"github.com/docket-p2p/docket/agent"
	"github.com/docket-p2p/docket/buildindex"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin"
	"github.com/docket-p2p/docket/proxy"
	"github.com/docket-p2p/docket/tracker"
)

// components lists the components this binary runs.
func components() []component {
	return []component{
		define("origin", "origin", "run an origin: blob storage on the hash ring, write-back and read-through to the backend",
			func(c *origin.Config) string { return c.Listen }, origin.New),
		define("build-index", "buildindex", "run the build-index: tags and manifest records per repository",
			func(c *buildindex.Config) string { return c.Listen },
			func(cfg buildindex.Config, log *slog.Logger, reg *metrics.Registry) (*buildindex.Server, error) {
				return buildindex.New(cfg, log, reg)
			}),
		define("tracker", "tracker", "run the tracker: peer discovery and blob metainfo",
			func(c *tracker.Config) string { return c.Listen },
			func(cfg tracker.Config, log *slog.Logger, reg *metrics.Registry) (*tracker.Server, error) {
				return tracker.New(cfg, log, reg)
			}),
		define("proxy", "proxy", "run the proxy: the registry API for push and pull",
			func(c *proxy.Config) string { return c.Listen }, proxy.New),
		define("agent", "agent", "run an agent: the read-only registry API on every host",
			func(c *agent.Config) string { return c.Listen }, agent.New),
	}
}
