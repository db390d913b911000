// Package tracker is Docket's tracker: the process peers announce to and learn each other
// from. This stage runs the server with its health check and metrics; the BitTorrent announce
// API (BEP 3, compact peers of BEP 23) and the metainfo endpoint are added on this server.
package tracker

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
)

// Server is a running tracker.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
}

// New validates cfg and builds the tracker's HTTP server.
func New(cfg Config, log *slog.Logger, reg *metrics.Registry) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := httpserver.NewRouter(reg, log)
	return &Server{cfg: cfg, log: log, handler: r}, nil
}

// Config returns the configuration in effect, defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Handler returns the tracker's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.log.Info("tracker serving", "addr", l.Addr().String(), "announce_interval", s.cfg.AnnounceInterval,
		"peer_ttl", s.cfg.PeerTTL)
	return httpserver.Serve(ctx, l, s.handler)
}

// Close releases nothing today; it exists so every component stops the same way.
func (s *Server) Close() error { return nil }
