package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/docket-p2p/docket/lib/membership"
)

// DefaultReplicas is how many origins own each blob unless a Ring says otherwise.
const DefaultReplicas = 2

// Ring is how a component that talks to the origins (the proxy, the agent, the tracker) finds
// their hash ring: the configuration keys origins, origins_dns and replicas, inlined in each
// component's configuration.
type Ring struct {
	// Origins lists the origin cluster's members, host:port each.
	Origins []string `yaml:"origins"`
	// OriginsDNS takes the members from DNS instead of Origins, as the origins' cluster_dns
	// does: dns "name:port" (every A/AAAA address with port) or srv "name", resolved again
	// every interval (default 30s); a failed lookup keeps the last ring.
	OriginsDNS membership.Source `yaml:"origins_dns"`
	// Replicas is how many origins own each blob on the ring (default 2; the ring clamps it
	// to the number of origins).
	Replicas int `yaml:"replicas"`
}

// ApplyDefaults sets Origins to origins when it is empty and Replicas to DefaultReplicas
// when it is unset.
func (r *Ring) ApplyDefaults(origins ...string) {
	if len(r.Origins) == 0 && len(origins) > 0 {
		r.Origins = origins
	}
	if r.Replicas == 0 {
		r.Replicas = DefaultReplicas
	}
}

// Validate reports the first thing wrong with the ring's keys.
func (r *Ring) Validate() error {
	for _, o := range r.Origins {
		if _, _, err := net.SplitHostPort(o); err != nil {
			return fmt.Errorf("origin %q: %w", o, err)
		}
	}
	if err := r.OriginsDNS.Validate(); err != nil {
		return fmt.Errorf("origins_dns: %w", err)
	}
	if r.Replicas < 1 {
		return errors.New("replicas must be at least 1")
	}
	return nil
}

// Enabled reports whether the ring has members to find: addresses or a DNS name.
func (r *Ring) Enabled() bool { return len(r.Origins) > 0 || r.OriginsDNS.Enabled() }

// NewCluster returns the ring's Cluster, its members resolved now when OriginsDNS is set
// (follow them with FollowDNS).
func (r *Ring) NewCluster(ctx context.Context, hc *http.Client) (*Cluster, error) {
	return NewClusterFrom(ctx, r.Origins, r.OriginsDNS, r.Replicas, hc)
}
