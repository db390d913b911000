// Package hashring maps keys (blob digests, upload ids) to the cluster members that own them:
// a consistent hash ring over github.com/serialx/hashring with a replica count, so every
// key has an ordered list of distinct owners and a membership change moves few keys.
package hashring

import (
	"sort"

	"github.com/serialx/hashring"
)

// virtualNodes is how many points each member gets on the ring. With one point per member
// (the library's default) a three-member ring can give one member most of the keys; 128
// points keep every member's share within a few percent of even.
const virtualNodes = 128

// Ring is an immutable consistent hash ring; it is safe for concurrent use.
type Ring struct {
	ring     *hashring.HashRing
	members  []string
	replicas int
}

// New returns a ring over the distinct members, each key owned by replicas of them (clamped
// to [1, number of members]).
func New(members []string, replicas int) *Ring {
	seen := make(map[string]bool, len(members))
	weights := make(map[string]int, len(members))
	var ms []string
	for _, m := range members {
		if m == "" || seen[m] {
			continue
		}
		seen[m] = true
		ms = append(ms, m)
		weights[m] = virtualNodes
	}
	sort.Strings(ms)
	if replicas > len(ms) {
		replicas = len(ms)
	}
	if replicas < 1 {
		replicas = 1
	}
	return &Ring{ring: hashring.NewWithWeights(weights), members: ms, replicas: replicas}
}

// Owners returns the members that own key, at most Replicas of them, distinct, in ring order
// (the first is the primary owner). Every Ring built from the same members and replica count
// returns the same list for a key. An empty ring returns nil.
func (r *Ring) Owners(key string) []string {
	return r.Walk(key, r.replicas)
}

// Walk returns up to n distinct members in ring order starting at key: the owners first,
// then the members a caller falls back to when owners are unavailable.
func (r *Ring) Walk(key string, n int) []string {
	if len(r.members) == 0 || n <= 0 {
		return nil
	}
	if n > len(r.members) {
		n = len(r.members)
	}
	nodes, ok := r.ring.GetNodes(key, n)
	if !ok {
		return nil
	}
	return nodes
}

// IsOwner reports whether member is one of key's owners.
func (r *Ring) IsOwner(key, member string) bool {
	for _, o := range r.Owners(key) {
		if o == member {
			return true
		}
	}
	return false
}

// Members returns the ring's distinct members in lexical order.
func (r *Ring) Members() []string {
	return append([]string(nil), r.members...)
}

// Replicas returns how many owners each key has.
func (r *Ring) Replicas() int { return r.replicas }
