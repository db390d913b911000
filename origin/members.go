package origin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/docket-p2p/docket/lib/hashring"
	"github.com/docket-p2p/docket/origin/client"
)

// ringView is the ring and the clients of the other members at one moment; membership from
// DNS replaces it whole (members.go), so a request sees one consistent ring.
type ringView struct {
	ring  *hashring.Ring
	peers map[string]client.Client // every other member, reached with NewPeer
}

// newRingView builds the view of members, reusing the clients of old where it can.
func newRingView(self string, members []string, replicas int, old *ringView) *ringView {
	ring := hashring.New(members, replicas)
	peers := make(map[string]client.Client)
	for _, m := range ring.Members() {
		if m == self {
			continue
		}
		if old != nil && old.peers[m] != nil {
			peers[m] = old.peers[m]
			continue
		}
		peers[m] = client.NewPeer(m, nil)
	}
	return &ringView{ring: ring, peers: peers}
}

// ringNow returns the current ring.
func (s *Server) ringNow() *hashring.Ring { return s.view.Load().ring }

// peersNow returns the clients of the current ring's other members.
func (s *Server) peersNow() map[string]client.Client { return s.view.Load().peers }

// peerAddrs returns the addresses of the current ring's other members.
func (s *Server) peerAddrs() []string {
	peers := s.peersNow()
	out := make([]string, 0, len(peers))
	for a := range peers {
		out = append(out, a)
	}
	return out
}

// resolveCluster returns the configured ring members: from DNS when cluster_dns is set (this
// origin always among them), else the static list.
func resolveCluster(ctx context.Context, cfg Config) ([]string, error) {
	if !cfg.ClusterDNS.Enabled() {
		return cfg.Cluster, nil
	}
	ms, err := cfg.ClusterDNS.Resolve(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("origin: cluster_dns: %w", err)
	}
	return withSelf(ms, cfg.Self), nil
}

func withSelf(ms []string, self string) []string {
	if !slices.Contains(ms, self) {
		ms = append(ms, self)
	}
	return ms
}

// watchCluster follows cluster_dns until ctx ends, rebuilding the ring when the members
// change; the repair that follows a change moves the blobs this origin now owns.
func (s *Server) watchCluster(ctx context.Context, tick <-chan time.Time) {
	s.cfg.ClusterDNS.Watch(ctx, nil, s.ringNow().Members(), tick, func(ms []string) {
		ms = withSelf(ms, s.cfg.Self)
		s.view.Store(newRingView(s.cfg.Self, ms, s.cfg.Replicas, s.view.Load()))
		s.log.Info("ring membership changed", "members", ms)
		if _, err := s.repair(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("repair after a membership change", "err", err)
		}
	}, func(err error) { s.log.Warn("resolving cluster_dns; keeping the ring", "err", err) })
}
