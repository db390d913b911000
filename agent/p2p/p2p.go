// Package p2p is the agent's Downloader over the peer protocol: per blob it gets the metainfo
// (from the tracker, else from the origin cluster, so any BEP 3 tracker will do), announces,
// downloads from the peers the tracker hands out while feeding it the peers of every
// re-announce, seeds the blob for a while after, and falls back to the origin over HTTP
// (agent/httpdownload) when no peer answers or the swarm stops making progress, so a pull
// never fails while an origin is up. Concurrent pulls of one blob share one transfer
// (httpdownload.NewFetching). Every piece is verified by the scheduler, the whole blob by the
// store.
package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/agent/httpdownload"
	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/scheduler"
	"github.com/docket-p2p/docket/lib/store"
	originclient "github.com/docket-p2p/docket/origin/client"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// Limits on the announce schedule.
const (
	// minInterval bounds how often the agent re-announces whatever the tracker says.
	minInterval = 500 * time.Millisecond
	// emptyAnnounces is how many announces, minInterval apart, may return no peer before the
	// download falls back to HTTP.
	emptyAnnounces = 3
	// announceTimeout bounds one announce.
	announceTimeout = 10 * time.Second
)

// MetaInfoSource gives a blob's metainfo (the tracker client, the origin cluster client).
type MetaInfoSource interface {
	MetaInfo(ctx context.Context, ns string, d core.Digest) (*core.MetaInfo, error)
}

// Options configures a Downloader.
type Options struct {
	// Scheduler runs the peer protocol; the Downloader serves it on Listener.
	Scheduler *scheduler.Scheduler
	Listener  net.Listener
	// Tracker is announced to; MetaInfo lists where metainfo is looked for, in order.
	Tracker  *trackerclient.Client
	MetaInfo []MetaInfoSource
	// Origins serve the HTTP fallback.
	Origins httpdownload.Source
	Store   *store.Store
	// SeedTime is how long a finished blob is seeded.
	SeedTime time.Duration
	Log      *slog.Logger
	Scope    tally.Scope
}

// Downloader is the agent's Downloader over the peer protocol.
type Downloader struct {
	*httpdownload.Downloader // shares, retries and logs the transfers of fetch
	o                        Options
	port                     uint16
	http                     *httpdownload.Downloader // the fallback
	fallbacks                tally.Counter

	base   context.Context // parents the seeding after a download; Close cancels it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	seeding map[core.Digest]*seeding // blobs being seeded, for Forget
}

// New returns a Downloader; Serve runs its peer listener.
func New(o Options) *Downloader {
	base, cancel := context.WithCancel(context.Background())
	dl := &Downloader{
		o:         o,
		http:      httpdownload.New(o.Origins, o.Store, o.Log, o.Scope.SubScope("http")),
		fallbacks: o.Scope.Counter("http_fallbacks"),
		base:      base, cancel: cancel,
		seeding: make(map[core.Digest]*seeding),
	}
	if ap, err := netip.ParseAddrPort(o.Listener.Addr().String()); err == nil {
		dl.port = ap.Port()
	}
	dl.Downloader = httpdownload.NewFetching(dl.fetch, o.Store, o.Log, o.Scope)
	return dl
}

// Partial returns a view of the download of d in progress here, or nil when none runs (the
// HTTP fallback has none either).
func (dl *Downloader) Partial(d core.Digest) *scheduler.Partial { return dl.o.Scheduler.Partial(d) }

// PeerAddr is the peer listener's address.
func (dl *Downloader) PeerAddr() net.Addr { return dl.o.Listener.Addr() }

// Serve serves peers until ctx ends.
func (dl *Downloader) Serve(ctx context.Context) error {
	return dl.o.Scheduler.Serve(ctx, dl.o.Listener)
}

// Close stops the transfers and the seeding, and waits for them.
func (dl *Downloader) Close() error {
	err := dl.Downloader.Close()
	dl.cancel()
	dl.wg.Wait()
	dl.o.Listener.Close()
	return errors.Join(err, dl.http.Close())
}

// fetch tries the swarm, then the origins over HTTP.
func (dl *Downloader) fetch(ctx context.Context, repo string, d core.Digest) ([]any, error) {
	attrs, err := dl.swarm(ctx, repo, d)
	if err == nil {
		return attrs, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	dl.fallbacks.Inc(1)
	dl.o.Log.Info("falling back to the origins over HTTP", "digest", d, "repo", repo, "err", err)
	if err := dl.http.Download(ctx, repo, d); err != nil {
		return nil, err
	}
	size, err := dl.o.Store.Stat(d)
	return []any{"from_http", size}, err
}

// metaInfo asks each source in turn.
func (dl *Downloader) metaInfo(ctx context.Context, repo string, d core.Digest) (*core.MetaInfo, error) {
	var errs []error
	for _, src := range dl.o.MetaInfo {
		m, err := src.MetaInfo(ctx, repo, d)
		if err == nil {
			return m, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("metainfo of %s: %w", d, errors.Join(errs...))
}

func (dl *Downloader) announce(ctx context.Context, m *core.MetaInfo, event string, left int64) (trackerclient.AnnounceResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, announceTimeout)
	defer cancel()
	return dl.o.Tracker.Announce(ctx, trackerclient.AnnounceRequest{
		InfoHash: m.InfoHash, PeerID: dl.o.Scheduler.PeerID(), Port: dl.port, Left: left, Event: event,
	})
}

// swarm downloads d from peers and leaves it seeding for SeedTime.
func (dl *Downloader) swarm(ctx context.Context, repo string, d core.Digest) ([]any, error) {
	m, err := dl.metaInfo(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	var resp trackerclient.AnnounceResponse
	for i := 0; ; i++ {
		event := ""
		if i == 0 {
			event = "started"
		}
		if resp, err = dl.announce(ctx, m, event, m.Length); err != nil {
			return nil, err
		}
		// A stock tracker (opentracker) may hand us back to ourselves.
		if resp.Peers = resp.PeersExcept(netip.AddrPortFrom(netip.IPv4Unspecified(), dl.port)); len(resp.Peers) > 0 {
			break
		}
		if i+1 == emptyAnnounces {
			dl.stopped(m)
			return nil, fmt.Errorf("%w: the tracker knows no peer", scheduler.ErrNoPeers)
		}
		select {
		case <-time.After(minInterval):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- dl.o.Scheduler.DownloadAndSeed(ctx, m, resp.Peers, dl.o.Store) }()
	interval := max(resp.Interval, minInterval)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			if err != nil {
				dl.stopped(m)
				return nil, err
			}
			received := dl.o.Scheduler.Received(m.InfoHash)
			dl.startSeeding(m, interval)
			return []any{"from_agents", received["agent"], "from_origins", received["origin"], "from_other", received["other"]}, nil
		case <-tick.C:
			if r, err := dl.announce(ctx, m, "", m.Length); err == nil {
				dl.o.Scheduler.AddPeers(m.InfoHash, r.PeersExcept(netip.AddrPortFrom(netip.IPv4Unspecified(), dl.port)))
			}
		}
	}
}

// seeding is one blob's seeding after its download; cancel ends it.
type seeding struct {
	h      core.InfoHash
	cancel context.CancelFunc
}

// startSeeding seeds m's blob in the background (seed), ending an earlier seeding of it.
func (dl *Downloader) startSeeding(m *core.MetaInfo, interval time.Duration) {
	ctx, cancel := context.WithCancel(dl.base)
	s := &seeding{h: m.InfoHash, cancel: cancel}
	dl.mu.Lock()
	if prev := dl.seeding[m.Digest]; prev != nil {
		prev.cancel()
	}
	dl.seeding[m.Digest] = s
	dl.mu.Unlock()
	dl.wg.Add(1)
	go func() {
		defer dl.wg.Done()
		dl.seed(ctx, m, interval)
		cancel()
		dl.mu.Lock()
		if dl.seeding[m.Digest] == s {
			delete(dl.seeding, m.Digest)
		}
		dl.mu.Unlock()
	}()
}

// Forget stops seeding d (a blob deleted from the registry) at once; the tracker is told.
func (dl *Downloader) Forget(d core.Digest) {
	dl.mu.Lock()
	s := dl.seeding[d]
	delete(dl.seeding, d)
	dl.mu.Unlock()
	if s != nil {
		s.cancel()
		dl.o.Scheduler.Unseed(s.h) // now, not after the seeding's "stopped" announce
	}
}

// seed keeps a finished blob announced as complete for SeedTime or until ctx ends, then stops
// seeding it. The blob is pinned meanwhile: the disk budget never evicts a blob peers are
// fetching.
func (dl *Downloader) seed(ctx context.Context, m *core.MetaInfo, interval time.Duration) {
	defer dl.o.Store.Pin(m.Digest)()
	defer dl.o.Scheduler.Unseed(m.InfoHash)
	defer dl.stopped(m)
	_, _ = dl.announce(ctx, m, "completed", 0)
	end := time.NewTimer(dl.o.SeedTime)
	defer end.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-end.C:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			_, _ = dl.announce(ctx, m, "", 0)
		}
	}
}

// stopped tells the tracker this agent left the swarm (best effort).
func (dl *Downloader) stopped(m *core.MetaInfo) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(dl.base), announceTimeout)
	defer cancel()
	_, _ = dl.announce(ctx, m, "stopped", 0)
}

var _ interface {
	Download(ctx context.Context, repo string, d core.Digest) error
} = (*Downloader)(nil)

var _ MetaInfoSource = (*originclient.Cluster)(nil)
