package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/scheduler"
	"github.com/docket-p2p/docket/lib/store"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// announceWorkers is how many announces one round sends at once, so a round over thousands of
// active blobs is a steady trickle to the tracker, not a burst.
const announceWorkers = 4

// seeder is the origin's peer side: a scheduler that super-seeds every blob of the store on
// demand, an index from info-hash to digest for its lookup (filled from the metainfo the
// origin computes beside blobs, rebuilt at start-up), and the announces that tell the tracker
// this origin holds the blobs peers are asking for.
type seeder struct {
	sched    *scheduler.Scheduler
	l        net.Listener
	store    *store.Store
	tracker  *trackerclient.Client // nil: no announces
	interval time.Duration
	idle     time.Duration
	now      func() time.Time
	log      *slog.Logger
	failures tally.Counter
	sent     tally.Counter

	mu     sync.Mutex
	index  map[core.InfoHash]core.Digest
	active map[core.Digest]*activeBlob
}

// activeBlob is a blob the origin announces: touched (committed, read through, asked for its
// metainfo or by a peer) within the idle window.
type activeBlob struct {
	h          core.InfoHash
	length     int64
	touched    time.Time
	announced  time.Time
	announcing bool
}

func newSeeder(cfg Config, st *store.Store, log *slog.Logger, scope tally.Scope) (*seeder, error) {
	l, err := net.Listen("tcp", cfg.PeerListen)
	if err != nil {
		return nil, fmt.Errorf("origin: peer listener on %s: %w", cfg.PeerListen, err)
	}
	sd := &seeder{
		l: l, store: st, interval: cfg.AnnounceInterval, idle: cfg.AnnounceIdle, now: cfg.Now, log: log,
		failures: scope.Counter("announce_failures"), sent: scope.Counter("announces"),
		index:  make(map[core.InfoHash]core.Digest),
		active: make(map[core.Digest]*activeBlob),
	}
	if cfg.Tracker != TrackerNone {
		sd.tracker = trackerclient.New(cfg.Tracker, nil)
	}
	sched, err := scheduler.New(cfg.Scheduler, log, scope, scheduler.AsOrigin(), scheduler.WithLookup(sd.lookup))
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("origin: %w", err)
	}
	sd.sched = sched
	return sd, nil
}

// lookup resolves an info-hash a peer asks for to a blob of the store.
func (sd *seeder) lookup(h core.InfoHash) (*core.MetaInfo, io.ReaderAt, bool) {
	sd.mu.Lock()
	d, ok := sd.index[h]
	sd.mu.Unlock()
	if !ok {
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := sd.store.MetaInfo(ctx, d)
	if err != nil {
		return nil, nil, false
	}
	sd.touch(m)
	return m, blobReader{sd.store, d}, true
}

// hold records that the store holds m's blob and, unless quiet, makes it active: announced now
// (in the background) and every interval while it stays active.
func (sd *seeder) hold(m *core.MetaInfo, quiet bool) {
	sd.mu.Lock()
	sd.index[m.InfoHash] = m.Digest
	sd.mu.Unlock()
	if !quiet {
		sd.touch(m)
	}
}

// holdAndAnnounce is hold that announces before it returns: a metainfo request usually comes
// from a tracker about to hand out peers for the blob, and the origin should be among them.
func (sd *seeder) holdAndAnnounce(ctx context.Context, m *core.MetaInfo) {
	sd.mu.Lock()
	sd.index[m.InfoHash] = m.Digest
	sd.mu.Unlock()
	if a := sd.activate(m); a != nil {
		sd.announce(ctx, m.Digest, a)
	}
}

// touch marks m's blob active; a blob not announced within the interval is announced now.
func (sd *seeder) touch(m *core.MetaInfo) {
	if a := sd.activate(m); a != nil {
		go sd.announce(context.Background(), m.Digest, a)
	}
}

// activate marks m's blob active and returns it, marked as being announced, when an announce
// is due (none within the interval); nil otherwise.
func (sd *seeder) activate(m *core.MetaInfo) *activeBlob {
	if sd.tracker == nil {
		return nil
	}
	now := sd.now()
	sd.mu.Lock()
	a := sd.active[m.Digest]
	if a == nil {
		a = &activeBlob{h: m.InfoHash, length: m.Length}
		sd.active[m.Digest] = a
	}
	a.touched = now
	due := !a.announcing && now.Sub(a.announced) >= sd.interval
	if due {
		a.announcing = true
	}
	sd.mu.Unlock()
	if due {
		return a
	}
	return nil
}

// forget stops seeding and announcing a deleted blob.
func (sd *seeder) forget(d core.Digest) {
	sd.mu.Lock()
	var h core.InfoHash
	found := false
	for k, v := range sd.index {
		if v == d {
			h, found = k, true
			delete(sd.index, k)
		}
	}
	delete(sd.active, d)
	sd.mu.Unlock()
	if found {
		sd.sched.Unseed(h)
	}
}

// announce tells the tracker this origin seeds d; a.announcing is set by the caller.
func (sd *seeder) announce(ctx context.Context, d core.Digest, a *activeBlob) {
	ctx, cancel := context.WithTimeout(ctx, sd.interval)
	defer cancel()
	_, err := sd.tracker.Announce(ctx, trackerclient.AnnounceRequest{
		InfoHash: a.h, PeerID: sd.sched.PeerID(), Port: sd.port(), Left: 0, Origin: true,
	})
	sd.mu.Lock()
	a.announcing = false
	if err == nil {
		a.announced = sd.now()
	}
	sd.mu.Unlock()
	if err != nil {
		sd.failures.Inc(1)
		sd.log.Debug("announce failed", "digest", d, "err", err)
		return
	}
	sd.sent.Inc(1)
}

func (sd *seeder) port() uint16 {
	ap, err := netip.ParseAddrPort(sd.l.Addr().String())
	if err != nil {
		return 0
	}
	return ap.Port()
}

// run serves peers and re-announces active blobs until ctx ends.
func (sd *seeder) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if sd.tracker != nil {
		wg.Go(func() { sd.announceLoop(ctx) })
	}
	return sd.sched.Serve(ctx, sd.l)
}

// announceLoop re-announces, every interval, the blobs touched within the idle window, and
// drops the others; announceWorkers at a time.
func (sd *seeder) announceLoop(ctx context.Context) {
	tick := time.NewTicker(sd.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		type job struct {
			d core.Digest
			a *activeBlob
		}
		var due []job
		now := sd.now()
		sd.mu.Lock()
		for d, a := range sd.active {
			switch {
			case now.Sub(a.touched) > sd.idle:
				delete(sd.active, d)
			case !a.announcing && now.Sub(a.announced) >= sd.interval/2:
				a.announcing = true
				due = append(due, job{d, a})
			}
		}
		sd.mu.Unlock()
		jobs := make(chan job)
		var wg sync.WaitGroup
		for range min(announceWorkers, len(due)) {
			wg.Go(func() {
				for j := range jobs {
					sd.announce(ctx, j.d, j.a)
				}
			})
		}
		for _, j := range due {
			jobs <- j
		}
		close(jobs)
		wg.Wait()
	}
}

// rebuild fills the index from the store at start-up: the metainfo kept beside each blob
// (computed now for a blob that has none). Nothing is announced until a blob is touched.
func (sd *seeder) rebuild(ctx context.Context) error {
	return sd.store.Walk(ctx, func(d core.Digest, _ int64) error {
		m, err := sd.store.MetaInfo(ctx, d)
		switch {
		case errors.Is(err, metainfo.ErrEmpty), errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sd.log.Warn("metainfo at start-up", "digest", d, "err", err)
			return nil
		}
		sd.hold(m, true)
		return nil
	})
}

// blobReader reads a stored blob, opening it for every read: a seeded blob holds no file open
// between requests, and one deleted meanwhile fails the read rather than serving stale bytes.
type blobReader struct {
	st *store.Store
	d  core.Digest
}

func (b blobReader) ReadAt(p []byte, off int64) (int, error) {
	f, err := b.st.Open(b.d)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.ReadAt(p, off)
}
