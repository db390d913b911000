package hashring

import (
	"fmt"
	"slices"
	"testing"
)

func TestOwners(t *testing.T) {
	members := []string{"o1:1", "o2:1", "o3:1"}
	r := New(append(members, "o1:1"), 2)
	if got := r.Members(); !slices.Equal(got, members) {
		t.Fatalf("members %v", got)
	}
	counts := map[string]int{}
	for i := range 3000 {
		key := fmt.Sprintf("sha256:%064d", i)
		owners := r.Owners(key)
		if len(owners) != 2 || owners[0] == owners[1] {
			t.Fatalf("owners of %s: %v", key, owners)
		}
		if again := r.Owners(key); !slices.Equal(again, owners) {
			t.Fatalf("unstable owners: %v then %v", owners, again)
		}
		counts[owners[0]]++
	}
	for _, m := range members {
		if counts[m] < 600 {
			t.Fatalf("member %s is first owner of only %d of 3000 keys: %v", m, counts[m], counts)
		}
	}
	// Removing a member only moves the keys it owned.
	smaller := New(members[:2], 1)
	full := New(members, 1)
	for i := range 1000 {
		key := fmt.Sprintf("k%d", i)
		if o := full.Owners(key)[0]; o != members[2] && smaller.Owners(key)[0] != o {
			t.Fatalf("key %s moved from %s though its owner stayed", key, o)
		}
	}
	if got := New(members, 9).Owners("x"); len(got) != 3 {
		t.Fatalf("replicas clamp: %v", got)
	}
	if got := New(nil, 2).Owners("x"); got != nil {
		t.Fatalf("empty ring: %v", got)
	}
}
