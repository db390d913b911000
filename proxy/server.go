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
	"sync"
	"time"

	"github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/registry"
)

// Server is a running proxy.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	gc      *collector

	stopGC context.CancelFunc
	gcDone chan struct{}
}

// New wires the registry API to the origin ring and the build-index.
func New(cfg Config, log *slog.Logger, reg *metrics.Registry) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cluster, err := cfg.Ring.NewCluster(context.Background(), nil)
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
	gctx, stop := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: log, handler: r, stopGC: stop, gcDone: make(chan struct{}),
		gc: &collector{index: index, cluster: cluster, now: cfg.Now, grace: cfg.GCGrace},
	}
	go func() {
		defer close(s.gcDone)
		var wg sync.WaitGroup
		wg.Go(func() { cluster.FollowDNS(gctx, cfg.Ring.OriginsDNS, log) })
		s.runGC(gctx)
		wg.Wait()
	}()
	return s, nil
}

// CollectGarbage runs one mark and sweep of unreferenced blobs (gc.go).
func (s *Server) CollectGarbage(ctx context.Context) (GCResult, error) {
	return s.gc.Collect(ctx)
}

// runGC collects garbage every GCInterval (if set) until ctx ends.
func (s *Server) runGC(ctx context.Context) {
	if s.cfg.GCInterval <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := s.CollectGarbage(ctx)
			if err != nil {
				s.log.Warn("garbage collection", "err", err)
			}
			s.log.Info("garbage collected", "marked", res.Marked, "swept", res.Swept, "young", res.Young)
		}
	}
}

// Handler returns the proxy's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the registry API on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return httpserver.Serve(ctx, l, s.handler)
}

// Close stops the garbage collection loop and the following of origins_dns.
func (s *Server) Close() error {
	s.stopGC()
	<-s.gcDone
	return nil
}
