package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/store"
	"github.com/docket-p2p/docket/origin/client"
)

// holders returns the members that may hold d, in ring order: its owners first, then the
// stand-ins that take a copy when an owner cannot (client.HolderSpan). Replication places
// stand-ins only among them and read-through looks for copies only among them, so a miss costs
// a bounded number of peer requests however large the ring.
func (s *Server) holders(d core.Digest) []string {
	return s.ringNow().Walk(d.String(), client.HolderSpan*s.ringNow().Replicas())
}

// replicate makes a blob just committed on this origin durable on Replicas origins before
// the commit is acknowledged. The copies are this origin's own (when it is one of d's
// holders) and those pushed to d's owners, in parallel (except owners known to be down); for
// every owner that cannot take it,
// the next member of the ring walk that can takes a copy instead (a stand-in, which writes it
// back and serves it like an owner). Owners that missed it are retried in the background
// until they take it, even when the commit fails: the blob stays on this disk, and a client
// that pushes it again finds it here.
//
// It returns ErrUnavailable if fewer than Replicas origins hold d.
func (s *Server) replicate(ctx context.Context, ns string, d core.Digest) error {
	want := s.ringNow().Replicas()
	walk := s.holders(d)
	owners, standIns := walk[:min(want, len(walk))], walk[min(want, len(walk)):]

	copies := 0
	if slices.Contains(walk, s.cfg.Self) {
		copies++
	}
	// Owners known to be down are not waited for: their copy goes to a stand-in at once.
	errs := make([]error, len(owners))
	var wg sync.WaitGroup
	for i, addr := range owners {
		if addr == s.cfg.Self {
			continue
		}
		if s.health.Down(addr) {
			errs[i] = fmt.Errorf("%w: %s is down", client.ErrUnavailable, addr)
			continue
		}
		wg.Go(func() { errs[i] = s.push(ctx, addr, ns, d) })
	}
	wg.Wait()
	var failures []error
	for i, addr := range owners {
		if addr == s.cfg.Self {
			continue
		}
		if errs[i] != nil {
			s.metrics.replicationFailures.Inc(1)
			s.log.Warn("replication to an owner failed", "digest", d, "to", addr, "err", errs[i])
			failures = append(failures, errs[i])
			s.queueRepair(s.peersNow()[addr], ns, d)
			continue
		}
		s.metrics.replicated.Inc(1)
		copies++
	}
	// Stand-ins in ring order, those known to be down last (health may lag a recovery).
	var later []string
	for pass := 0; pass < 2 && copies < want; pass++ {
		candidates := standIns
		if pass == 1 {
			candidates = later
		}
		for _, addr := range candidates {
			if copies >= want {
				break
			}
			if addr == s.cfg.Self {
				continue // counted above
			}
			if pass == 0 && s.health.Down(addr) {
				later = append(later, addr)
				continue
			}
			if err := s.push(ctx, addr, ns, d); err != nil {
				s.metrics.replicationFailures.Inc(1)
				s.log.Warn("replication to a stand-in failed", "digest", d, "to", addr, "err", err)
				failures = append(failures, err)
				continue
			}
			s.metrics.standIns.Inc(1)
			copies++
		}
	}
	if copies < want {
		return fmt.Errorf("%w: %s is durable on %d of %d origins: %w",
			client.ErrUnavailable, d, copies, want, errors.Join(failures...))
	}
	return nil
}

// push is pushReplica to the member at addr, recording in s.health whether it answered.
func (s *Server) push(ctx context.Context, addr, ns string, d core.Digest) error {
	err := s.pushReplica(ctx, s.peersNow()[addr], ns, d)
	switch {
	case err == nil:
		s.health.MarkUp(addr)
	case errors.Is(err, client.ErrUnavailable) && ctx.Err() == nil:
		s.health.MarkDown(addr)
	}
	return err
}

// queueRepair keeps pushing d to owner o in the background until o holds it.
func (s *Server) queueRepair(o client.Client, ns string, d core.Digest) {
	s.repairs.enqueue(job{
		key: "replica " + o.Addr() + " " + d.String(),
		run: func(ctx context.Context) error { return s.retryReplica(ctx, o, ns, d) },
	})
}

// retryReplica is pushReplica as a background job: a blob gone from this disk or content the
// owner rejects cannot be helped by retrying.
func (s *Server) retryReplica(ctx context.Context, o client.Client, ns string, d core.Digest) error {
	err := s.pushReplica(ctx, o, ns, d)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, client.ErrDigestMismatch) || errors.Is(err, client.ErrBadRequest) {
		return fmt.Errorf("%w: %w", errDrop, err)
	}
	if err == nil {
		s.metrics.replicated.Inc(1)
	}
	return err
}

type localStatter interface {
	StatLocal(ctx context.Context, ns string, d core.Digest) (int64, error)
}

type replicator interface {
	Replicate(ctx context.Context, ns string, d core.Digest, size int64, r io.Reader) error
}

// pushReplica copies d from this disk to origin o as a replica, unless o already holds it on
// its own disk.
func (s *Server) pushReplica(ctx context.Context, o client.Client, ns string, d core.Digest) error {
	// Ask whether the owner holds d on its disk: a plain stat would also say yes when only
	// the backend has it.
	if ls, ok := o.(localStatter); ok {
		if _, err := ls.StatLocal(ctx, ns, d); err == nil {
			return nil
		}
	}
	defer s.store.Pin(d)()
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
