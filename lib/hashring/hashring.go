// Package hashring places digests on a consistent-hash ring of members (origins) with a
// replica count, over github.com/serialx/hashring. Adding or removing a member moves only the
// keys that member gains or loses.
package hashring

import (
	"slices"

	"github.com/serialx/hashring"
)

// pointsPerMember is how many points each member gets on the circle; with a few hundred,
// members' shares of the keys stay within a few percent of each other.
const pointsPerMember = 256

// Ring maps keys to the members that own them. It is immutable: build a new Ring when
// membership changes.
type Ring struct {
	members  []string
	replicas int
	ring     *hashring.HashRing
}

// New returns a ring of members (duplicates ignored) where each key has min(replicas,
// len(members)) owners; replicas below 1 count as 1.
func New(members []string, replicas int) *Ring {
	m := slices.Clone(members)
	slices.Sort(m)
	m = slices.Compact(m)
	replicas = max(1, min(replicas, len(m)))
	weights := make(map[string]int, len(m))
	for _, member := range m {
		weights[member] = pointsPerMember
	}
	return &Ring{members: m, replicas: replicas, ring: hashring.NewWithWeights(weights)}
}

// Owners returns the key's owners, distinct, most preferred first; the same key always gets
// the same list while membership is unchanged.
func (r *Ring) Owners(key string) []string {
	if len(r.members) == 0 {
		return nil
	}
	nodes, ok := r.ring.GetNodes(key, r.replicas)
	if !ok {
		return nil
	}
	return nodes
}

// Members returns the ring's members, sorted.
func (r *Ring) Members() []string { return slices.Clone(r.members) }

// Replicas returns how many owners each key has.
func (r *Ring) Replicas() int { return r.replicas }
