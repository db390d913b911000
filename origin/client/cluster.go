package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/hashring"
	"github.com/docket-p2p/docket/lib/membership"
)

// Cluster reaches the origins that hold a digest on the hash ring — its owners, then its
// stand-ins — trying them in ring order and moving on when one is unavailable. An origin
// that failed recently is tried after the others (passive health), so a dead origin costs
// one timeout, not one per request.
//
// Its members may change while it is in use (SetMembers, FollowDNS): every call works on the
// ring it started with.
type Cluster struct {
	members  atomic.Pointer[clusterMembers]
	replicas int
	health   *Health
	hc       *http.Client // nil: DefaultHTTPClient
}

// clusterMembers is one ring of a Cluster and its members' clients.
type clusterMembers struct {
	ring    *hashring.Ring
	clients map[string]Client // single attempt: failover replaces retries
	keyed   map[string]Client // with retries, for ForKey's stateful uploads
}

// Failover policy of the Cluster.
const (
	// clusterRounds is how many passes over the owners a read makes while all of them are
	// unavailable, waiting clusterRoundBackoff (doubled each pass) in between.
	clusterRounds       = 2
	clusterRoundBackoff = 200 * time.Millisecond
)

// NewCluster returns a client of the origins at addrs, each blob owned by replicas of them.
func NewCluster(addrs []string, replicas int, hc *http.Client) (*Cluster, error) {
	c := &Cluster{replicas: replicas, health: NewHealth(nil), hc: hc}
	if err := c.SetMembers(addrs); err != nil {
		return nil, err
	}
	return c, nil
}

// NewClusterFrom is NewCluster with the members from dns when it is enabled (resolved now),
// else addrs. Follow dns with FollowDNS.
func NewClusterFrom(ctx context.Context, addrs []string, dns membership.Source, replicas int, hc *http.Client) (*Cluster, error) {
	if dns.Enabled() {
		ms, err := dns.Resolve(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("origin cluster: %w", err)
		}
		addrs = ms
	}
	return NewCluster(addrs, replicas, hc)
}

// SetMembers replaces the ring's members; members that stay keep their clients.
func (c *Cluster) SetMembers(addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("origin cluster: no origins")
	}
	old := c.members.Load()
	ring := hashring.New(addrs, c.replicas)
	m := &clusterMembers{ring: ring, clients: make(map[string]Client, len(addrs)), keyed: make(map[string]Client, len(addrs))}
	for _, a := range ring.Members() {
		if old != nil && old.clients[a] != nil {
			m.clients[a], m.keyed[a] = old.clients[a], old.keyed[a]
			continue
		}
		m.clients[a] = newSingleAttempt(a, c.hc)
		m.keyed[a] = New(a, c.hc)
	}
	c.members.Store(m)
	return nil
}

// FollowDNS resolves dns every interval (membership.DefaultInterval if unset) until ctx ends
// and rebuilds the ring when the members change; a failed lookup keeps the ring. log reports
// both. It returns at once when dns is not enabled.
func (c *Cluster) FollowDNS(ctx context.Context, dns membership.Source, log *slog.Logger) {
	if !dns.Enabled() {
		return
	}
	interval := dns.Interval
	if interval <= 0 {
		interval = membership.DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	c.followDNS(ctx, dns, t.C, log)
}

func (c *Cluster) followDNS(ctx context.Context, dns membership.Source, tick <-chan time.Time, log *slog.Logger) {
	dns.Watch(ctx, nil, c.Ring().Members(), tick, func(ms []string) {
		if err := c.SetMembers(ms); err == nil {
			log.Info("origin ring membership changed", "members", ms)
		}
	}, func(err error) { log.Warn("resolving the origins' DNS name; keeping the ring", "err", err) })
}

func (c *Cluster) markDown(addr string)          { c.health.MarkDown(addr) }
func (c *Cluster) markUp(addr string)            { c.health.MarkUp(addr) }
func (c *Cluster) byHealth(cs []Client) []Client { return c.health.Order(cs) }

// Health returns the cluster's view of which origins are down.
func (c *Cluster) Health() *Health { return c.health }

// CheckHealth probes every origin's /health each interval (DefaultProbeInterval if not
// positive) until ctx ends, so that requests skip an origin that is down before they
// would have to time out on it. Without it the cluster learns only from failed requests.
func (c *Cluster) CheckHealth(ctx context.Context, interval time.Duration) {
	c.health.ProbeMembers(ctx, func() []string { return c.Ring().Members() }, interval, c.hc)
}

// Ring returns the cluster's hash ring now.
func (c *Cluster) Ring() *hashring.Ring { return c.members.Load().ring }

// Owners returns the clients of d's owners, most preferred first.
func (c *Cluster) Owners(d core.Digest) []Client {
	m := c.members.Load()
	return m.clientsOf(m.ring.Owners(d.String()))
}

// ForKey returns the origin that key (an upload id) is routed to.
func (c *Cluster) ForKey(key string) Client {
	m := c.members.Load()
	return m.keyed[m.ring.Owners(key)[0]]
}

// Client returns the client of one member, or nil.
func (c *Cluster) Client(addr string) Client { return c.members.Load().clients[addr] }

func (m *clusterMembers) clientsOf(addrs []string) []Client {
	out := make([]Client, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, m.clients[a])
	}
	return out
}

// HolderSpan is how far along a digest's ring walk, in multiples of the replica count, its
// copies may live: the owners, then as many stand-ins, which take a copy at commit time for
// owners that are down. Origins place stand-ins and look for copies only within this span.
const HolderSpan = 2

// Holders returns the clients of the origins that may hold d, most preferred first: its
// owners, then its stand-ins.
func (c *Cluster) Holders(d core.Digest) []Client {
	m := c.members.Load()
	return m.clientsOf(m.ring.Walk(d.String(), HolderSpan*m.ring.Replicas()))
}

// tryHolders calls fn on d's holders — owners first, then stand-ins, those that failed
// recently last — until one succeeds. It moves on from an origin that is unavailable; an
// answer that the blob does not exist is final (the origin that gave it has asked the backend,
// the authority, and the other holders), and so are other errors (a bad digest, a cancelled
// context). While every holder is unavailable it makes up to clusterRounds passes.
func tryHolders[T any](ctx context.Context, c *Cluster, d core.Digest, fn func(Client) (T, error)) (T, error) {
	var zero T
	wait := clusterRoundBackoff
	for round := 1; ; round++ {
		var errs []error
		for _, o := range c.byHealth(c.Holders(d)) {
			v, err := fn(o)
			if err == nil {
				c.markUp(o.Addr())
				return v, nil
			}
			if ctx.Err() != nil {
				return zero, ctx.Err()
			}
			if !errors.Is(err, ErrUnavailable) {
				c.markUp(o.Addr())
				return zero, fmt.Errorf("origin cluster: %w", err)
			}
			c.markDown(o.Addr())
			errs = append(errs, err)
		}
		if round >= clusterRounds {
			return zero, fmt.Errorf("origin cluster: %s: %w", d, errors.Join(errs...))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}

// Stat returns the blob's size from the first holder that answers.
func (c *Cluster) Stat(ctx context.Context, ns string, d core.Digest) (int64, error) {
	return tryHolders(ctx, c, d, func(o Client) (int64, error) { return o.Stat(ctx, ns, d) })
}

// Download opens the blob on the first holder that answers.
func (c *Cluster) Download(ctx context.Context, ns string, d core.Digest, offset, length int64) (io.ReadCloser, error) {
	return tryHolders(ctx, c, d, func(o Client) (io.ReadCloser, error) { return o.Download(ctx, ns, d, offset, length) })
}

// MetaInfo returns the blob's metainfo from the first holder that answers.
func (c *Cluster) MetaInfo(ctx context.Context, ns string, d core.Digest) (*core.MetaInfo, error) {
	return tryHolders(ctx, c, d, func(o Client) (*core.MetaInfo, error) { return o.MetaInfo(ctx, ns, d) })
}

// Upload sends a blob to its first owner, which replicates it to the others. If that origin
// is unavailable and r can seek back (manifests are in memory), the next holder is tried: any
// origin that takes a blob pushes it to the owners before it answers.
func (c *Cluster) Upload(ctx context.Context, ns string, d core.Digest, size int64, r io.Reader) error {
	seeker, canRetry := r.(io.Seeker)
	var err error
	for _, o := range c.byHealth(c.Holders(d)) {
		if err = o.Upload(ctx, ns, d, size, r); err == nil || !canRetry || !errors.Is(err, ErrUnavailable) {
			if err == nil {
				c.markUp(o.Addr())
			}
			return err
		}
		c.markDown(o.Addr())
		if _, serr := seeker.Seek(0, io.SeekStart); serr != nil {
			return err
		}
	}
	return err
}
