// Package origin is Docket's dedicated seeder: a content-addressed store on disk behind an
// HTTP API, writing blobs back to a storage backend and reading through to it on a miss.
// Origins form a hash ring; a blob committed on any origin is pushed to the owners of its
// digest before the commit is acknowledged.
package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/uber-go/tally/v4"
	"golang.org/x/sync/singleflight"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/fs"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/store"
	"github.com/docket-p2p/docket/origin/client"
)

// Server is a running origin.
type Server struct {
	cfg       Config
	log       *slog.Logger
	store     *store.Store
	backend   backend.Client
	cluster   *client.Cluster
	writeBack *writeBack
	handler   http.Handler
	fetches   singleflight.Group
	metrics   originMetrics
}

type originMetrics struct {
	readThroughHits, readThroughMisses, replicated, replicationFailures tally.Counter
}

// New opens the origin's store and backend and builds its API.
func New(cfg Config, log *slog.Logger, reg *metrics.Registry) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := store.New(cfg.DataDir, store.Options{
		Scope: reg.Scope.SubScope("store"), UploadTTL: cfg.UploadTTL, PieceLengths: cfg.PieceLengths,
	})
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	be, err := fs.New(cfg.Backend.Root)
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	cluster, err := client.NewCluster(cfg.Cluster, cfg.Replicas, nil)
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	s := &Server{
		cfg: cfg, log: log, store: st, backend: be, cluster: cluster,
		writeBack: newWriteBack(st, be, log, reg.Scope.SubScope("writeback")),
		metrics: originMetrics{
			readThroughHits:     reg.Scope.Counter("read_through_hits"),
			readThroughMisses:   reg.Scope.Counter("read_through_misses"),
			replicated:          reg.Scope.Counter("replicated"),
			replicationFailures: reg.Scope.Counter("replication_failures"),
		},
	}
	r := httpserver.NewRouter(reg, log)
	r.Head("/blobs/{digest}", s.handle(s.statBlob))
	r.Get("/blobs/{digest}", s.handle(s.getBlob))
	r.Put("/blobs/{digest}", s.handle(s.putBlob))
	r.Delete("/blobs/{digest}", s.handle(s.deleteBlob))
	r.Get("/blobs/{digest}/metainfo", s.handle(s.getMetaInfo))
	r.Post("/uploads/{id}", s.handle(s.startUpload))
	r.Patch("/uploads/{id}", s.handle(s.patchUpload))
	r.Get("/uploads/{id}", s.handle(s.uploadSize))
	r.Put("/uploads/{id}", s.handle(s.commitUpload))
	r.Delete("/uploads/{id}", s.handle(s.cancelUpload))
	s.handler = r
	return s, nil
}

// Handler returns the origin's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the origin API on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return httpserver.Serve(ctx, l, s.handler)
}

// Close stops the write-back worker.
func (s *Server) Close() error {
	s.writeBack.close()
	return nil
}

// Store exposes the origin's store (the P2P seeder serves from it).
func (s *Server) Store() *store.Store { return s.store }

// ensureLocal makes d present in the store, reading through to the backend on a miss;
// concurrent misses for one digest share one backend read.
func (s *Server) ensureLocal(ctx context.Context, d core.Digest) error {
	if _, err := s.store.Stat(d); err == nil {
		return nil
	}
	_, err, _ := s.fetches.Do(d.String(), func() (any, error) {
		if _, err := s.store.Stat(d); err == nil {
			return nil, nil
		}
		info, err := s.backend.Stat(ctx, blobName(d))
		if err != nil {
			if errors.Is(err, backend.ErrNotFound) {
				s.metrics.readThroughMisses.Inc(1)
				return nil, fmt.Errorf("%w: %s", client.ErrBlobNotFound, d)
			}
			return nil, fmt.Errorf("%w: backend: %w", client.ErrUnavailable, err)
		}
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(s.backend.Download(ctx, blobName(d), pw))
		}()
		err = s.store.Put(ctx, d, info.Size, pr)
		pr.Close()
		if err != nil {
			return nil, fmt.Errorf("origin: read-through %s: %w", d, err)
		}
		s.metrics.readThroughHits.Inc(1)
		return nil, nil
	})
	return err
}

// replicate pushes d to every owner other than this origin, as replicas. It returns an error
// only if no owner holds d afterwards.
func (s *Server) replicate(ctx context.Context, ns string, d core.Digest) error {
	held := false
	var errs []error
	for _, o := range s.cluster.Owners(d) {
		if o.Addr() == s.cfg.Self {
			held = true
			continue
		}
		if err := s.pushReplica(ctx, o, ns, d); err != nil {
			s.metrics.replicationFailures.Inc(1)
			s.log.Warn("replication failed", "digest", d, "to", o.Addr(), "err", err)
			errs = append(errs, err)
			continue
		}
		s.metrics.replicated.Inc(1)
		held = true
	}
	if !held {
		return fmt.Errorf("%w: no owner of %s accepted it: %w", client.ErrUnavailable, d, errors.Join(errs...))
	}
	return nil
}

type replicator interface {
	Replicate(ctx context.Context, ns string, d core.Digest, size int64, r io.Reader) error
}

func (s *Server) pushReplica(ctx context.Context, o client.Client, ns string, d core.Digest) error {
	if n, err := o.Stat(ctx, ns, d); err == nil && n >= 0 {
		return nil
	}
	f, err := s.store.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if r, ok := o.(replicator); ok {
		return r.Replicate(ctx, ns, d, fi.Size(), f)
	}
	return o.Upload(ctx, ns, d, fi.Size(), f)
}
