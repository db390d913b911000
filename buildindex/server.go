// Package buildindex is the build-index: per repository, tags (tag → digest, mutable), the
// records of the manifests it holds (for existence checks, deletes and the referrers API) and
// the blobs linked into it. Everything persists through a lib/backend.Client and is loaded
// into memory at start-up; every change is written through to the backend before it becomes
// visible, and every read is answered from memory, so a re-pushed tag is visible at once.
//
// Other components reach it through buildindex/client, which also defines the HTTP API.
package buildindex

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/backend/fs"
	"github.com/docket-p2p/docket/lib/backend/writeback"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
)

// loadTimeout bounds opening the backend and reading the index from it at start-up.
const loadTimeout = 10 * time.Minute

// Server is a running build-index.
type Server struct {
	cfg     Config
	index   *Index
	handler http.Handler
	closer  io.Closer // stops the write-back queue (nil: none)
}

// writeBackDir is the write-back queue's folder under data_dir (lib/backend/writeback).
const writeBackDir = "writeback"

// Option adjusts New.
type Option func(*options)

type options struct {
	backend  backend.Client
	observer Observer
}

// WithBackend makes the server use be instead of the backend its Config describes.
func WithBackend(be backend.Client) Option {
	return func(o *options) { o.backend = be }
}

// WithObserver makes the index report every change to o (see Observer).
func WithObserver(o Observer) Option {
	return func(opt *options) { opt.observer = o }
}

// New opens the backend, loads the index from it and builds the HTTP API.
func New(cfg Config, log *slog.Logger, reg *metrics.Registry, opts ...Option) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	be := o.backend
	var closer io.Closer // the write-back queue, if any
	if be == nil {
		var err error
		if be, err = backends.New(ctx, cfg.Backend); err != nil {
			return nil, fmt.Errorf("build-index: backend: %w", err)
		}
		if cfg.Backend.Type != backends.TypeFS {
			// An object store is mirrored on local disk, so the index loads while the store is
			// down (mirror.go), and written back to asynchronously from a durable local queue:
			// a tag put is acknowledged once it is on this disk, and survives a restart.
			local, err := fs.New(filepath.Join(cfg.DataDir, mirrorDir))
			if err != nil {
				return nil, fmt.Errorf("build-index: %w", err)
			}
			be = &mirror{remote: be, local: local, log: log}
			wb, err := writeback.New(filepath.Join(cfg.DataDir, writeBackDir), be, log, reg.Scope.SubScope("writeback"))
			if err != nil {
				return nil, fmt.Errorf("build-index: %w", err)
			}
			be, closer = wb, wb
		}
	}
	index := newIndex(be, o.observer, reg.Scope.SubScope("index"))
	if err := index.load(ctx, log); err != nil {
		if closer != nil {
			_ = closer.Close()
		}
		return nil, fmt.Errorf("build-index: loading: %w", err)
	}
	r := httpserver.NewRouter(reg, log)
	(&api{index: index, log: log}).mount(r)
	return &Server{cfg: cfg, index: index, handler: r, closer: closer}, nil
}

// Index returns the server's index, for in-process users and tests.
func (s *Server) Index() *Index { return s.index }

// Handler returns the build-index's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the API on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return httpserver.Serve(ctx, l, s.handler)
}

// Close stops the write-back queue, if any; what it still owes stays journalled on disk and
// is written back after the next start. Every change is durable when it is acknowledged.
func (s *Server) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}
