// Package agent runs on every host: a read-only registry API (docker pull localhost:16000/...)
// whose tags resolve through the build-index and whose blobs come through a Downloader into a
// local, verified cache, so a second pull is served from disk.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/docket-p2p/docket/agent/p2p"
	"github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/registry"
	"github.com/docket-p2p/docket/lib/scheduler"
	"github.com/docket-p2p/docket/lib/store"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// Server is a running agent.
type Server struct {
	cfg     Config
	dl      *p2p.Downloader
	handler http.Handler

	stopEvictor context.CancelFunc
	evictorDone chan struct{}
}

// evictInterval is how often the agent evicts blobs past its disk budget, besides after
// every download.
const evictInterval = time.Minute

// New opens the agent's cache and wires the read-only registry API to it.
func New(cfg Config, log *slog.Logger, reg *metrics.Registry) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := store.New(cfg.DataDir, store.Options{Scope: reg.Scope.SubScope("store"), Budget: cfg.DiskBudget})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	cluster, err := cfg.Ring.NewCluster(context.Background(), nil)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if err := os.MkdirAll(cfg.Scheduler.TempDir, 0o755); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	sched, err := scheduler.New(cfg.Scheduler, log, reg.Scope.SubScope("p2p"))
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	pl, err := net.Listen("tcp", cfg.PeerListen)
	if err != nil {
		return nil, fmt.Errorf("agent: peer listener on %s: %w", cfg.PeerListen, err)
	}
	tracker := trackerclient.New(cfg.Tracker, nil)
	dl := p2p.New(p2p.Options{
		Scheduler: sched, Listener: pl,
		Tracker: tracker, MetaInfo: []p2p.MetaInfoSource{tracker, cluster},
		Origins: cluster, Store: st, SeedTime: cfg.SeedTime,
		Log: log, Scope: reg.Scope.SubScope("download"),
	})
	api := registry.New(registry.Options{
		Blobs: &blobs{cache: st, dl: dl, partial: func(d core.Digest) partialBlob {
			if p := dl.Partial(d); p != nil {
				return p
			}
			return nil // not a typed nil
		}},
		Index:    client.New(cfg.BuildIndex, nil),
		ReadOnly: true,
		Log:      log,
		Scope:    reg.Scope.SubScope("registry"),
	})
	r := httpserver.NewRouter(reg, log)
	r.Handle("/v2", api)
	r.Handle("/v2/*", api)
	ectx, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, dl: dl, handler: r, stopEvictor: stop, evictorDone: make(chan struct{})}
	deletions := &deletionFollower{cluster: cluster, store: st, forget: dl.Forget, log: log,
		dropped: reg.Scope.Counter("deleted_blobs_dropped")}
	go func() {
		defer close(s.evictorDone)
		var wg sync.WaitGroup
		wg.Go(func() { deletions.run(ectx, cfg.DeletionPollInterval) })
		wg.Go(func() { cluster.FollowDNS(ectx, cfg.Ring.OriginsDNS, log) })
		st.RunEvictor(ectx, evictInterval, func(err error) { log.Warn("evicting blobs", "err", err) })
		wg.Wait()
	}()
	return s, nil
}

// Handler returns the agent's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the registry API on l, and peers on the peer listener, until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	peerErr := make(chan error, 1)
	go func() { peerErr <- s.dl.Serve(ctx) }()
	err := httpserver.Serve(ctx, l, s.handler)
	cancel()
	return errors.Join(err, <-peerErr)
}

// PeerAddr is the address of the agent's peer listener.
func (s *Server) PeerAddr() net.Addr { return s.dl.PeerAddr() }

// Close stops the evictor, the deletion follower, the following of origins_dns and the
// downloads in progress, and waits for them to end.
func (s *Server) Close() error {
	s.stopEvictor()
	<-s.evictorDone
	return s.dl.Close()
}
