// Package proxy is Docket's push and pull front door: the OCI distribution API on :5000. Layer
// blobs and manifests go to the origins that own their digests on the hash ring; tags and
// manifest records go to the build-index.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/registry"
	originclient "github.com/docket-p2p/docket/origin/client"
)

// Server is a running proxy.
type Server struct {
	cfg     Config
	handler http.Handler
}

// New wires the registry API to the origin ring and the build-index.
func New(cfg Config, log *slog.Logger, reg *metrics.Registry) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cluster, err := originclient.NewCluster(cfg.Origins, cfg.Replicas, nil)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	index := client.New(cfg.BuildIndex, nil)
	api := registry.New(registry.Options{
		Blobs: &blobs{cluster: cluster, links: index},
		Index: index,
		Log:   log,
		Scope: reg.Scope.SubScope("registry"),
	})
	r := httpserver.NewRouter(reg, log)
	r.Handle("/v2", api)
	r.Handle("/v2/*", api)
	return &Server{cfg: cfg, handler: r}, nil
}

// Handler returns the proxy's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the registry API on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return httpserver.Serve(ctx, l, s.handler)
}

// Close releases nothing today; it exists so every component stops the same way.
func (s *Server) Close() error { return nil }
