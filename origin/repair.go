package origin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/scheduler/bandwidth"
	"github.com/docket-p2p/docket/origin/client"
)

// Repair: an origin that returns after an outage, or joins the ring, fetches the blobs it
// owns but lacks. It learns them from its peers' blob lists (GET /blobs): the stand-ins that
// took its copies while it was down hold them, and so do the other owners. A blob is fetched
// from the peer that listed it, verified against its digest, else read through from the
// (default) backend. A repaired copy is not written back again: whoever took the commit
// journalled it.
//
// Repair runs at start-up and then every Config.RepairInterval, one blob at a time, its
// ingress capped at Config.RepairBytesPerSec so it never crowds out pushes and pulls.

// repairPageSize is how many blobs one request of a peer's list asks for.
const repairPageSize = client.ListPageMax

// repairResult counts one repair pass.
type repairResult struct {
	Repaired, Failed int
	Bytes            int64
}

// repairer holds repair's rate limit; mu keeps passes from overlapping.
type repairer struct {
	mu    sync.Mutex
	limit *bandwidth.Limiter
}

func newRepairer(bytesPerSec int64) (*repairer, error) {
	l, err := bandwidth.New(bandwidth.Config{IngressBytesPerSec: bytesPerSec})
	if err != nil {
		return nil, fmt.Errorf("origin: repair_bytes_per_sec: %w", err)
	}
	return &repairer{limit: l}, nil
}

// runRepairs repairs once now, then at every tick, until ctx ends.
func (s *Server) runRepairs(ctx context.Context, tick <-chan time.Time) {
	for {
		res, err := s.repair(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil || res.Repaired > 0 || res.Failed > 0 {
			s.log.Info("repair pass", "repaired", res.Repaired, "bytes", res.Bytes, "failed", res.Failed, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

// repair makes one pass over every peer's blob list and fetches the blobs this origin owns
// but does not hold. A peer that cannot be listed is skipped (its blobs are found on other
// peers or in the next pass); its error is returned with the others.
func (s *Server) repair(ctx context.Context) (repairResult, error) {
	s.repairer.mu.Lock()
	defer s.repairer.mu.Unlock()
	var res repairResult
	var errs []error
	for addr, p := range s.peersNow() {
		l, ok := p.(client.Lister)
		if !ok {
			continue
		}
		if err := s.repairFrom(ctx, p, l, &res); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("listing %s: %w", addr, err))
		}
	}
	s.metrics.repairRuns.Inc(1)
	return res, errors.Join(errs...)
}

// repairFrom pages through peer p's blob list and repairs every blob this origin owns.
func (s *Server) repairFrom(ctx context.Context, p client.Client, l client.Lister, res *repairResult) error {
	after := ""
	for {
		page, err := l.List(ctx, after, repairPageSize)
		if err != nil {
			return err
		}
		for _, b := range page.Blobs {
			d, err := core.ParseDigest(b.Digest)
			if err != nil {
				return err // the client checked every entry; unreachable
			}
			if !s.ringNow().IsOwner(d.String(), s.cfg.Self) {
				continue
			}
			if _, err := s.store.Stat(d); err == nil {
				continue
			}
			if used, budget := s.store.Usage(); budget > 0 && used+b.Size > budget {
				// Under a disk budget a missing blob may have been evicted on purpose; a
				// copy that does not fit would only push out another. Reads fetch it.
				continue
			}
			if err := s.repairBlob(ctx, p, d); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				res.Failed++
				s.metrics.repairFailures.Inc(1)
				s.log.Warn("repairing a blob failed", "digest", d, "peer", p.Addr(), "err", err)
				continue
			}
			res.Repaired++
			res.Bytes += b.Size
			s.metrics.repairedBlobs.Inc(1)
			s.metrics.repairedBytes.Inc(b.Size)
			if err := s.repairer.limit.WaitIngress(ctx, int(b.Size)); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// repairBlob fetches d from peer p, else from the backend, verified by the store.
func (s *Server) repairBlob(ctx context.Context, p client.Client, d core.Digest) error {
	perr := s.fetchPeer(ctx, p, "", d)
	if perr == nil {
		return nil
	}
	if err := s.fetchBackend(ctx, "", d); err != nil {
		return errors.Join(perr, err)
	}
	return nil
}
