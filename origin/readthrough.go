package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/origin/client"
)

// readThroughTimeout bounds one shared fetch of a missing blob from the backend or a peer.
// The fetch runs detached from the request that started it (others may be waiting on it), so
// it needs its own limit; an hour moves tens of gigabytes from any sane store.
const readThroughTimeout = time.Hour

// allowPeers reports whether a request may be answered by asking other origins: not when it
// comes from another origin (HeaderNoPeers), so two origins missing a blob never ask each
// other in a loop.
func allowPeers(r *http.Request) bool { return r.Header.Get(client.HeaderNoPeers) == "" }

// peersFor returns the clients of the other members that may hold d, in ring order: its
// owners (a commit is acknowledged only once Replicas of its holders have it), then the
// stand-ins that took copies for owners that were down; those known to be down last.
func (s *Server) peersFor(d core.Digest) []client.Client {
	var out []client.Client
	for _, addr := range s.holders(d) {
		if p, ok := s.peersNow()[addr]; ok {
			out = append(out, p)
		}
	}
	return s.health.Order(out)
}

// statRemote answers a stat for a blob missing on this disk without fetching it: from the
// backend, else (if allowed) from the owners among the peers.
func (s *Server) statRemote(ctx context.Context, ns string, d core.Digest, peers bool) (int64, error) {
	info, err := s.backendFor(ns).Stat(ctx, blobName(d))
	if err == nil {
		return info.Size, nil
	}
	var backendErr error
	if !errors.Is(err, backend.ErrNotFound) {
		backendErr = fmt.Errorf("%w: backend: %w", client.ErrUnavailable, err)
	}
	var peerErrs []error
	if peers {
		for _, p := range s.peersFor(d) {
			n, perr := p.Stat(ctx, ns, d)
			if perr == nil {
				return n, nil
			}
			if !errors.Is(perr, client.ErrBlobNotFound) {
				peerErrs = append(peerErrs, perr)
			}
		}
	}
	return 0, missing(d, backendErr, peerErrs)
}

// missing is the error for a blob that no source gave. The backend is the authority: if it
// answered "not found", so does the origin, even when a peer could not be asked (a pusher
// then uploads again, which is harmless, instead of failing while one origin restarts). If
// the backend could not be asked, the origin is unavailable.
func missing(d core.Digest, backendErr error, peerErrs []error) error {
	if backendErr == nil {
		if len(peerErrs) > 0 {
			return fmt.Errorf("%w: %s (peers not asked: %w)", client.ErrBlobNotFound, d, errors.Join(peerErrs...))
		}
		return fmt.Errorf("%w: %s", client.ErrBlobNotFound, d)
	}
	return fmt.Errorf("%w: %s: %w", client.ErrUnavailable, d, errors.Join(append([]error{backendErr}, peerErrs...)...))
}

// fetchKey groups concurrent read-throughs of d into one: those that may ask peers apart from
// those that may not (a peer's request must not wait on a fetch that asks peers), and, when
// namespaces have backends of their own, those of one namespace apart from the others.
func (s *Server) fetchKey(ns string, d core.Digest, peers bool) string {
	key := d.String()
	if len(s.cfg.Namespaces) > 0 {
		key = ns + " " + key
	}
	if !peers {
		key += "#local"
	}
	return key
}

// ensureLocal makes d present in the store, reading through on a miss: from the backend,
// else (if allowed) from an owner among the peers. Every fetched byte is verified against d
// by the store before it is published. Concurrent misses for one digest share one fetch,
// which runs detached from the request that started it: a client giving up does not fail the
// others waiting.
func (s *Server) ensureLocal(ctx context.Context, ns string, d core.Digest, peers bool) error {
	if _, err := s.store.Stat(d); err == nil {
		return nil
	}
	ch := s.fetches.DoChan(s.fetchKey(ns, d, peers), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readThroughTimeout)
		defer cancel()
		err := s.fetch(fctx, ns, d, peers)
		if err == nil {
			s.precomputeMetaInfo(d)
		}
		return nil, err
	})
	select {
	case <-ctx.Done():
		return ctx.Err()
	case res := <-ch:
		return res.Err
	}
}

func (s *Server) fetch(ctx context.Context, ns string, d core.Digest, peers bool) error {
	if _, err := s.store.Stat(d); err == nil {
		return nil
	}
	var backendErr error
	err := s.fetchBackend(ctx, ns, d)
	if err == nil {
		s.metrics.readThroughHits.Inc(1)
		return nil
	}
	if !errors.Is(err, client.ErrBlobNotFound) {
		backendErr = err
	}
	var peerErrs []error
	if peers {
		for _, p := range s.peersFor(d) {
			err := s.fetchPeer(ctx, p, ns, d)
			if err == nil {
				s.metrics.peerFetches.Inc(1)
				return nil
			}
			if !errors.Is(err, client.ErrBlobNotFound) {
				s.log.Warn("read-through from peer failed", "digest", d, "peer", p.Addr(), "err", err)
				peerErrs = append(peerErrs, err)
			}
		}
	}
	s.metrics.readThroughMisses.Inc(1)
	return missing(d, backendErr, peerErrs)
}

func (s *Server) fetchBackend(ctx context.Context, ns string, d core.Digest) error {
	name := blobName(d)
	be := s.backendFor(ns)
	info, err := be.Stat(ctx, name)
	if err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return fmt.Errorf("%w: %s", client.ErrBlobNotFound, d)
		}
		return fmt.Errorf("%w: backend: %w", client.ErrUnavailable, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(be.Download(ctx, name, pw)) }()
	err = s.store.Put(ctx, d, info.Size, pr)
	pr.CloseWithError(errors.New("read-through finished"))
	if err != nil {
		return fmt.Errorf("origin: read-through %s from the backend: %w", d, err)
	}
	return nil
}

// fetchPeer copies d from peer p, capped at the size p reports and verified against d: a peer
// cannot make this origin store more than it announced, nor anything but d.
func (s *Server) fetchPeer(ctx context.Context, p client.Client, ns string, d core.Digest) error {
	size, err := p.Stat(ctx, ns, d)
	if err != nil {
		return err
	}
	body, err := p.Download(ctx, ns, d, 0, -1)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := s.store.Put(ctx, d, size, body); err != nil {
		return fmt.Errorf("origin: read-through %s from %s: %w", d, p.Addr(), err)
	}
	return nil
}
