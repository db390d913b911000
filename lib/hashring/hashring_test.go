package hashring

import (
	"fmt"
	"slices"
	"testing"
)

func TestOwnersDistinctAndStable(t *testing.T) {
	members := []string{"10.0.0.1:15002", "10.0.0.2:15002", "10.0.0.3:15002"}
	r := New(members, 2)
	// Same members in another order, with a duplicate: same ring.
	r2 := New([]string{members[2], members[0], members[1], members[0]}, 2)
	for i := range 1000 {
		key := fmt.Sprintf("sha256:%064d", i)
		o := r.Owners(key)
		if len(o) != 2 {
			t.Fatalf("Owners(%q) = %v, want 2 owners", key, o)
		}
		if o[0] == o[1] {
			t.Fatalf("Owners(%q) = %v, not distinct", key, o)
		}
		if got := r2.Owners(key); !slices.Equal(got, o) {
			t.Fatalf("Owners(%q) differs between equal rings: %v vs %v", key, o, got)
		}
		if !r.IsOwner(key, o[1]) {
			t.Fatalf("IsOwner(%q, %q) = false", key, o[1])
		}
		w := r.Walk(key, 5)
		if len(w) != 3 || !slices.Equal(w[:2], o) {
			t.Fatalf("Walk(%q) = %v, want owners %v first and all 3 members", key, w, o)
		}
	}
}

func TestReplicasClamped(t *testing.T) {
	r := New([]string{"a:1"}, 3)
	if r.Replicas() != 1 {
		t.Fatalf("Replicas = %d, want 1", r.Replicas())
	}
	if got := r.Owners("k"); !slices.Equal(got, []string{"a:1"}) {
		t.Fatalf("Owners = %v", got)
	}
	if got := New([]string{"a:1", "b:1"}, 0).Owners("k"); len(got) != 1 {
		t.Fatalf("replicas 0 gives %v, want one owner", got)
	}
	if got := New(nil, 2).Owners("k"); got != nil {
		t.Fatalf("empty ring Owners = %v, want nil", got)
	}
}

func TestBalance(t *testing.T) {
	members := []string{"10.0.0.1:15002", "10.0.0.2:15002", "10.0.0.3:15002"}
	r := New(members, 1)
	counts := map[string]int{}
	const n = 30000
	for i := range n {
		counts[r.Owners(fmt.Sprintf("key-%d", i))[0]]++
	}
	for _, m := range members {
		share := float64(counts[m]) / n
		if share < 0.2 || share > 0.47 {
			t.Fatalf("member %s owns %.2f of keys (%v), ring is unbalanced", m, share, counts)
		}
	}
}

func TestMinimalMovement(t *testing.T) {
	before := New([]string{"a:1", "b:1", "c:1"}, 1)
	after := New([]string{"a:1", "b:1", "c:1", "d:1"}, 1)
	moved := 0
	const n = 10000
	for i := range n {
		k := fmt.Sprintf("key-%d", i)
		if b, a := before.Owners(k)[0], after.Owners(k)[0]; b != a {
			if a != "d:1" {
				t.Fatalf("key %s moved from %s to %s, not to the new member", k, b, a)
			}
			moved++
		}
	}
	if moved == 0 || moved > n/2 {
		t.Fatalf("%d of %d keys moved on adding a fourth member", moved, n)
	}
}
