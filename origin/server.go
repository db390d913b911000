package origin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uber-go/tally/v4"
	"golang.org/x/sync/singleflight"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/store"
	"github.com/docket-p2p/docket/origin/client"
)

// Server is a running origin.
type Server struct {
	cfg       Config
	log       *slog.Logger
	store     *store.Store
	backends  backendRouter            // the backend of each namespace
	view      atomic.Pointer[ringView] // the ring and its other members (members.go)
	health    *client.Health           // which peers are down, probed in the background
	writeBack *writeBack
	repairs   *retryQueue // replicas an owner missed at commit time
	metaInfos *retryQueue // metainfo computed ahead of the first request
	repairer  *repairer   // fetches the blobs this origin owns but lacks (repair.go)
	seeder    *seeder     // the peer side: super-seeds and announces
	// tombstones records deleted blobs for agents to drop (GET /deleted).
	tombstones *tombstones
	handler    http.Handler
	fetches    singleflight.Group
	metrics    originMetrics

	stopJanitor context.CancelFunc
	janitorDone chan struct{} // closed when the janitor and the health probe have stopped
}

// replicationWorkers is how many missed replicas are pushed at once in the background. The
// queue is not drained at shutdown: an owner that never got its replica reads the blob
// through from the backend or its peers when asked.
const replicationWorkers = 2

// metaInfoWorkers is how many blobs have their metainfo computed at once in the background
// after a commit; one keeps it off the CPU that is serving pushes.
const metaInfoWorkers = 1

// janitorInterval is how often the origin purges expired uploads and orphaned temp files.
const janitorInterval = 10 * time.Minute

// evictInterval is how often the origin evicts blobs past its disk budget, besides after
// every new blob.
const evictInterval = time.Minute

type originMetrics struct {
	readThroughHits, readThroughMisses, peerFetches, replicated, replicationFailures, standIns tally.Counter
	repairRuns, repairedBlobs, repairedBytes, repairFailures                                   tally.Counter
}

// New opens the origin's store and backend and builds its API.
func New(cfg Config, log *slog.Logger, reg *metrics.Registry) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The journal comes first: the store's budget never evicts a blob it still owes.
	j, err := openJournal(filepath.Join(cfg.DataDir, journalDir))
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	ts, err := openTombstones(filepath.Join(cfg.DataDir, tombstoneDir), cfg.DeletionRetention, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	st, err := store.New(cfg.DataDir, store.Options{
		Scope: reg.Scope.SubScope("store"), UploadTTL: cfg.UploadTTL, PieceLengths: cfg.PieceLengths,
		Now: cfg.Now, Budget: cfg.DiskBudget, Keep: j.owes,
	})
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	be, err := backends.NewRouter(context.Background(), cfg.Backend, cfg.Namespaces)
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	rep, err := newRepairer(cfg.RepairBytesPerSec)
	if err != nil {
		return nil, err
	}
	members, err := resolveCluster(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	view := newRingView(cfg.Self, members, cfg.Replicas, nil)
	peers := view.peers
	sd, err := newSeeder(cfg, st, log, reg.Scope.SubScope("p2p"))
	if err != nil {
		return nil, err
	}
	jctx, stopJanitor := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: log, store: st, backends: be,
		health:      client.NewHealth(nil),
		writeBack:   newWriteBack(st, be, j, cfg.Now, log, reg.Scope.SubScope("writeback")),
		seeder:      sd,
		tombstones:  ts,
		repairs:     newRetryQueue("replication", replicationWorkers, 0, log, reg.Scope.SubScope("replication")),
		metaInfos:   newRetryQueue("metainfo", metaInfoWorkers, 0, log, reg.Scope.SubScope("metainfo")),
		repairer:    rep,
		stopJanitor: stopJanitor,
		janitorDone: make(chan struct{}),
		metrics: originMetrics{
			readThroughHits:     reg.Scope.Counter("read_through_hits"),
			readThroughMisses:   reg.Scope.Counter("read_through_misses"),
			peerFetches:         reg.Scope.Counter("peer_fetches"),
			replicated:          reg.Scope.Counter("replicated"),
			replicationFailures: reg.Scope.Counter("replication_failures"),
			standIns:            reg.Scope.Counter("replication_stand_ins"),
			repairRuns:          reg.Scope.Counter("repair_runs"),
			repairedBlobs:       reg.Scope.Counter("repaired_blobs"),
			repairedBytes:       reg.Scope.Counter("repaired_bytes"),
			repairFailures:      reg.Scope.Counter("repair_failures"),
		},
	}
	r := httpserver.NewRouter(reg, log)
	r.Get("/blobs", s.handle(s.listBlobs))
	r.Head("/blobs/{digest}", s.handle(s.statBlob))
	r.Get("/blobs/{digest}", s.handle(s.getBlob))
	r.Put("/blobs/{digest}", s.handle(s.putBlob))
	r.Delete("/blobs/{digest}", s.handle(s.deleteBlob))
	r.Get("/blobs/{digest}/metainfo", s.handle(s.getMetaInfo))
	r.Get("/deleted", s.handle(s.listDeleted))
	r.Post("/uploads/{id}", s.handle(s.startUpload))
	r.Patch("/uploads/{id}", s.handle(s.patchUpload))
	r.Get("/uploads/{id}", s.handle(s.uploadSize))
	r.Put("/uploads/{id}", s.handle(s.commitUpload))
	r.Delete("/uploads/{id}", s.handle(s.cancelUpload))
	s.handler = r
	s.view.Store(view)
	if err := s.writeBack.recover(); err != nil {
		s.Close()
		return nil, fmt.Errorf("origin: %w", err)
	}
	go func() {
		defer close(s.janitorDone)
		var wg sync.WaitGroup
		if len(peers) > 0 || cfg.ClusterDNS.Enabled() {
			wg.Go(func() { s.health.ProbeMembers(jctx, s.peerAddrs, client.DefaultProbeInterval, nil) })
			wg.Go(func() {
				t := time.NewTicker(cfg.RepairInterval)
				defer t.Stop()
				s.runRepairs(jctx, t.C)
			})
		}
		if cfg.ClusterDNS.Enabled() {
			wg.Go(func() {
				t := time.NewTicker(cfg.ClusterDNS.Interval)
				defer t.Stop()
				s.watchCluster(jctx, t.C)
			})
		}
		wg.Go(func() { st.RunEvictor(jctx, evictInterval, func(err error) { log.Warn("evicting blobs", "err", err) }) })
		wg.Go(func() {
			if err := s.seeder.rebuild(jctx); err != nil && jctx.Err() == nil {
				log.Warn("rebuilding the info-hash index", "err", err)
			}
		})
		st.RunJanitor(jctx, janitorInterval, func(err error) { log.Warn("purging expired uploads", "err", err) })
		wg.Wait()
	}()
	return s, nil
}

// Handler returns the origin's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the origin API on l, and peers on the peer listener, until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	peerErr := make(chan error, 1)
	go func() { peerErr <- s.seeder.run(ctx) }()
	err := httpserver.Serve(ctx, l, s.handler)
	cancel()
	return errors.Join(err, <-peerErr)
}

// PeerAddr is the address of the origin's peer listener.
func (s *Server) PeerAddr() net.Addr { return s.seeder.l.Addr() }

// Close stops the upload janitor, the replication repairs and the write-back workers, after
// giving the queues a bounded time to drain.
func (s *Server) Close() error {
	s.stopJanitor()
	<-s.janitorDone
	if s.seeder != nil {
		s.seeder.l.Close()
	}
	s.repairs.close()
	s.metaInfos.close()
	s.writeBack.close()
	return nil
}

// backendRouter picks the backend of a namespace (backends.Router).
type backendRouter interface {
	For(ns string) backend.Client
	// All lists every backend, the default first (the collector sweeps them all).
	All() []backend.Client
}

// oneBackend is a backendRouter with one backend for every namespace.
type oneBackend struct{ backend.Client }

func (b oneBackend) For(string) backend.Client { return b.Client }

func (b oneBackend) All() []backend.Client { return []backend.Client{b.Client} }

// backendFor returns the backend of namespace ns.
func (s *Server) backendFor(ns string) backend.Client { return s.backends.For(ns) }

// Store exposes the origin's store (the P2P seeder serves from it).
func (s *Server) Store() *store.Store { return s.store }

// precomputeMetaInfo queues d's metainfo to be computed now, so the first peer or tracker
// asking for it does not wait for every piece to be hashed. A failure is not retried: the
// metainfo is computed on demand then.
func (s *Server) precomputeMetaInfo(d core.Digest) {
	s.metaInfos.enqueue(job{key: d.String(), run: func(ctx context.Context) error {
		m, err := s.store.MetaInfo(ctx, d)
		if err == nil {
			s.seeder.hold(m, false)
		}
		if err == nil || errors.Is(err, metainfo.ErrEmpty) {
			return nil
		}
		return fmt.Errorf("%w: %w", errDrop, err)
	}})
}
