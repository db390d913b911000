// Package tracker is Docket's tracker: peers announce the blobs they download or seed and learn
// each other from it, and it serves each blob's metainfo.
//
// Announces follow BEP 3 over HTTP (GET /announce) with compact peer lists (BEP 23), so stock
// BitTorrent clients can use the tracker too. The tracker records the address it observes on
// the connection, never one a peer claims. Hand-out policy: each response is a bounded,
// shuffled sample of the swarm's live peers other than the requester, complete and incomplete
// mixed as the sample falls, with at most two origins placed at random positions — origins
// seed every blob, but a cold swarm should exchange pieces among its members rather than all
// start at the origin. Peers that miss announces for peer_ttl are forgotten.
//
// GET /metainfo/{digest}?ns=... answers with the blob's .torrent, fetched once from the origins
// that own it and cached, so a swarm keeps working while the origins are offline.
package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/uber-go/tally/v4"
	"golang.org/x/sync/singleflight"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin/client"
)

// metaInfoFetchTimeout bounds one fetch of a blob's metainfo from the origins.
const metaInfoFetchTimeout = 30 * time.Second

// Server is a running tracker.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	now     func() time.Time
	peers   PeerStore
	origins metaInfoSource
	cache   *metaInfoCache
	fetches singleflight.Group
	metrics trackerMetrics
	stop    context.CancelFunc
	done    chan struct{}
}

type trackerMetrics struct {
	announces, failures, cacheHits, cacheMisses, expired tally.Counter
}

// Option adjusts a Server for tests.
type Option func(*Server)

// WithClock replaces the clock that decides peer expiry.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New validates cfg and builds the tracker.
func New(cfg Config, log *slog.Logger, reg *metrics.Registry, opts ...Option) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, now: time.Now, cache: newMetaInfoCache(), done: make(chan struct{}),
		metrics: trackerMetrics{
			announces:   reg.Scope.Counter("announces"),
			failures:    reg.Scope.Counter("announce_failures"),
			cacheHits:   reg.Scope.Counter("metainfo_cache_hits"),
			cacheMisses: reg.Scope.Counter("metainfo_cache_misses"),
			expired:     reg.Scope.Counter("peers_expired"),
		}}
	for _, o := range opts {
		o(s)
	}
	s.peers = newMemoryStore(cfg.PeerTTL, s.now)
	var cluster *client.Cluster
	if cfg.Ring.Enabled() {
		var err error
		if cluster, err = cfg.Ring.NewCluster(context.Background(), nil); err != nil {
			return nil, fmt.Errorf("tracker: %w", err)
		}
		s.origins = cluster
	}
	r := httpserver.NewRouter(reg, log)
	r.Get("/announce", s.announce)
	r.Get("/metainfo/{digest}", s.metaInfo)
	s.handler = r
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() {
		defer close(s.done)
		var wg sync.WaitGroup
		if cluster != nil {
			wg.Go(func() { cluster.FollowDNS(ctx, cfg.Ring.OriginsDNS, log) })
		}
		s.expireLoop(ctx)
		wg.Wait()
	}()
	return s, nil
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

// Close stops the expiry loop and the following of origins_dns.
func (s *Server) Close() error {
	s.stop()
	<-s.done
	return nil
}

func (s *Server) expireLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PeerTTL)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.metrics.expired.Inc(int64(s.peers.Expire(s.now().Add(-s.cfg.PeerTTL))))
		}
	}
}

func (s *Server) announce(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fail := func(err error) {
		s.metrics.failures.Inc(1)
		w.WriteHeader(http.StatusOK) // BEP 3: failures are a bencoded body
		_, _ = w.Write(encodeFailure(err.Error()))
	}
	req, err := ParseAnnounce(r.URL.RawQuery)
	if err != nil {
		fail(err)
		return
	}
	addr, err := observedAddr(r.RemoteAddr, req.Port)
	if err != nil {
		fail(err)
		return
	}
	s.metrics.announces.Inc(1)
	s.peers.Update(req.InfoHash, Peer{
		ID: req.PeerID, Addr: addr, Complete: req.Left == 0 || req.Event == EventCompleted,
		Origin: req.Origin, Seen: s.now(),
	}, req.Event == EventStopped)
	var peers []Peer
	complete, incomplete := 0, 0
	if req.Event != EventStopped {
		var sample []Peer
		// Sample beyond numwant so the origin cap still leaves a full list.
		sample, complete, incomplete = s.peers.Sample(req.InfoHash, req.PeerID, req.NumWant+maxOriginsPerResponse+8)
		peers = choosePeers(sample, req.NumWant)
	}
	body, err := encodeResponse(int64(s.cfg.AnnounceInterval/time.Second), peers, complete, incomplete, req.Compact)
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func (s *Server) metaInfo(w http.ResponseWriter, r *http.Request) {
	d, err := core.ParseDigest(chi.URLParam(r, "digest"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m, ok := s.cache.get(d)
	if ok {
		s.metrics.cacheHits.Inc(1)
	} else {
		s.metrics.cacheMisses.Inc(1)
		if s.origins == nil {
			http.Error(w, "tracker: no origins configured and metainfo not cached", http.StatusNotFound)
			return
		}
		ns := r.URL.Query().Get("ns")
		// Callers share one fetch, so it must not end with the first caller's request.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), metaInfoFetchTimeout)
		v, err, _ := s.fetches.Do(d.String(), func() (any, error) {
			m, err := s.origins.MetaInfo(ctx, ns, d)
			if err == nil && m.Digest != d {
				err = fmt.Errorf("%w: asked for %s, got %s", ErrMetaInfoMismatch, d, m.Digest)
			}
			return m, err
		})
		cancel()
		if err != nil {
			status := http.StatusBadGateway
			if errors.Is(err, client.ErrBlobNotFound) || errors.Is(err, client.ErrNoMetaInfo) {
				status = http.StatusNotFound
			}
			http.Error(w, err.Error(), status)
			return
		}
		m = v.(*core.MetaInfo)
		s.cache.put(m)
	}
	b, err := metainfo.Marshal(m)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-bittorrent")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}
