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
	"time"

	"github.com/uber-go/tally/v4"
	"golang.org/x/sync/singleflight"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/fs"
	"github.com/docket-p2p/docket/lib/hashring"
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
	ring      *hashring.Ring
	peers     map[string]client.Client // every other member, reached with NewPeer
	writeBack *writeBack
	handler   http.Handler
	fetches   singleflight.Group
	metrics   originMetrics

	stopJanitor context.CancelFunc
	janitorDone chan struct{}
}

// janitorInterval is how often the origin purges expired uploads and orphaned temp files.
const janitorInterval = 10 * time.Minute

type originMetrics struct {
	readThroughHits, readThroughMisses, peerFetches, replicated, replicationFailures tally.Counter
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
	ring := hashring.New(cfg.Cluster, cfg.Replicas)
	peers := make(map[string]client.Client)
	for _, m := range ring.Members() {
		if m != cfg.Self {
			peers[m] = client.NewPeer(m, nil)
		}
	}
	jctx, stopJanitor := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: log, store: st, backend: be, ring: ring, peers: peers,
		writeBack:   newWriteBack(st, be, log, reg.Scope.SubScope("writeback")),
		stopJanitor: stopJanitor,
		janitorDone: make(chan struct{}),
		metrics: originMetrics{
			readThroughHits:     reg.Scope.Counter("read_through_hits"),
			readThroughMisses:   reg.Scope.Counter("read_through_misses"),
			peerFetches:         reg.Scope.Counter("peer_fetches"),
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
	go func() {
		defer close(s.janitorDone)
		st.RunJanitor(jctx, janitorInterval, func(err error) { log.Warn("purging expired uploads", "err", err) })
	}()
	return s, nil
}

// Handler returns the origin's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the origin API on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return httpserver.Serve(ctx, l, s.handler)
}

// Close stops the upload janitor and the write-back workers, after giving the latter a
// bounded time to drain their queue.
func (s *Server) Close() error {
	s.stopJanitor()
	<-s.janitorDone
	s.writeBack.close()
	return nil
}

// Store exposes the origin's store (the P2P seeder serves from it).
func (s *Server) Store() *store.Store { return s.store }

// replicate pushes d to every owner other than this origin, as replicas. It returns an error
// only if no owner holds d afterwards.
func (s *Server) replicate(ctx context.Context, ns string, d core.Digest) error {
	held := false
	var errs []error
	for _, addr := range s.ring.Owners(d.String()) {
		if addr == s.cfg.Self {
			held = true
			continue
		}
		o := s.peers[addr]
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
