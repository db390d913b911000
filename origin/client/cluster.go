package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/hashring"
)

// Cluster reaches the origins that own a digest on the hash ring, trying them in ring order
// and moving on when one is unavailable or does not hold the blob. An origin that failed
// recently is tried after the others (passive health), so a dead origin costs one timeout,
// not one per request.
type Cluster struct {
	ring    *hashring.Ring
	clients map[string]Client // single attempt: failover replaces retries
	keyed   map[string]Client // with retries, for ForKey's stateful uploads
	now     func() time.Time

	mu       sync.Mutex
	downTill map[string]time.Time
}

// Failover policy of the Cluster.
const (
	// downFor is how long an origin that failed is tried last.
	downFor = 10 * time.Second
	// clusterRounds is how many passes over the owners a read makes while all of them are
	// unavailable, waiting clusterRoundBackoff (doubled each pass) in between.
	clusterRounds       = 2
	clusterRoundBackoff = 200 * time.Millisecond
)

// NewCluster returns a client of the origins at addrs, each blob owned by replicas of them.
func NewCluster(addrs []string, replicas int, hc *http.Client) (*Cluster, error) {
	if len(addrs) == 0 {
		return nil, errors.New("origin cluster: no origins")
	}
	ring := hashring.New(addrs, replicas)
	clients := make(map[string]Client, len(addrs))
	keyed := make(map[string]Client, len(addrs))
	for _, a := range ring.Members() {
		clients[a] = newSingleAttempt(a, hc)
		keyed[a] = New(a, hc)
	}
	return &Cluster{ring: ring, clients: clients, keyed: keyed, now: time.Now, downTill: make(map[string]time.Time)}, nil
}

// markDown records that addr just failed.
func (c *Cluster) markDown(addr string) {
	c.mu.Lock()
	c.downTill[addr] = c.now().Add(downFor)
	c.mu.Unlock()
}

// markUp records that addr just answered.
func (c *Cluster) markUp(addr string) {
	c.mu.Lock()
	delete(c.downTill, addr)
	c.mu.Unlock()
}

// byHealth returns owners with those marked down moved to the end, order otherwise kept.
func (c *Cluster) byHealth(owners []Client) []Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	up := make([]Client, 0, len(owners))
	var down []Client
	for _, o := range owners {
		if t, ok := c.downTill[o.Addr()]; ok && now.Before(t) {
			down = append(down, o)
		} else {
			up = append(up, o)
		}
	}
	return append(up, down...)
}

// Ring returns the cluster's hash ring.
func (c *Cluster) Ring() *hashring.Ring { return c.ring }

// Owners returns the clients of d's owners, most preferred first.
func (c *Cluster) Owners(d core.Digest) []Client {
	return c.clientsOf(c.ring.Owners(d.String()))
}

// ForKey returns the origin that key (an upload id) is routed to.
func (c *Cluster) ForKey(key string) Client {
	return c.keyed[c.ring.Owners(key)[0]]
}

// Client returns the client of one member, or nil.
func (c *Cluster) Client(addr string) Client { return c.clients[addr] }

func (c *Cluster) clientsOf(addrs []string) []Client {
	out := make([]Client, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, c.clients[a])
	}
	return out
}

// tryOwners calls fn on d's owners, healthy ones first, until one succeeds. It moves on from
// an owner that is unavailable or lacks the blob; other errors (a bad digest, a cancelled
// context) are final. While every owner is unavailable it makes up to clusterRounds passes.
func tryOwners[T any](ctx context.Context, c *Cluster, d core.Digest, fn func(Client) (T, error)) (T, error) {
	var zero T
	wait := clusterRoundBackoff
	for round := 1; ; round++ {
		var errs []error
		for _, o := range c.byHealth(c.Owners(d)) {
			v, err := fn(o)
			if err == nil {
				c.markUp(o.Addr())
				return v, nil
			}
			if ctx.Err() != nil {
				return zero, ctx.Err()
			}
			errs = append(errs, err)
			if errors.Is(err, ErrUnavailable) {
				c.markDown(o.Addr())
				continue
			}
			c.markUp(o.Addr())
			if !errors.Is(err, ErrBlobNotFound) {
				return zero, err
			}
		}
		// An owner that answered "not found" has asked the backend (the authority) and its
		// peers: that answer wins over owners that could not be reached.
		for _, err := range errs {
			if errors.Is(err, ErrBlobNotFound) {
				return zero, fmt.Errorf("origin cluster: %w", err)
			}
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

// Stat returns the blob's size from the first owner that has it.
func (c *Cluster) Stat(ctx context.Context, ns string, d core.Digest) (int64, error) {
	return tryOwners(ctx, c, d, func(o Client) (int64, error) { return o.Stat(ctx, ns, d) })
}

// Download opens the blob on the first owner that has it.
func (c *Cluster) Download(ctx context.Context, ns string, d core.Digest, offset, length int64) (io.ReadCloser, error) {
	return tryOwners(ctx, c, d, func(o Client) (io.ReadCloser, error) { return o.Download(ctx, ns, d, offset, length) })
}

// MetaInfo returns the blob's metainfo from the first owner that has it.
func (c *Cluster) MetaInfo(ctx context.Context, ns string, d core.Digest) (*core.MetaInfo, error) {
	return tryOwners(ctx, c, d, func(o Client) (*core.MetaInfo, error) { return o.MetaInfo(ctx, ns, d) })
}

// Upload sends a blob to its first owner, which replicates it to the others. If that owner is
// unavailable and r can seek back (manifests are in memory), the next owner is tried.
func (c *Cluster) Upload(ctx context.Context, ns string, d core.Digest, size int64, r io.Reader) error {
	seeker, canRetry := r.(io.Seeker)
	var err error
	for _, o := range c.byHealth(c.Owners(d)) {
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
