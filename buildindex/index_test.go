package buildindex

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/uber-go/tally/v4"
)

func TestPage(t *testing.T) {
	names := []string{"a", "b", "b/c", "d"}
	cases := []struct {
		last string
		n    int
		want []string
	}{
		{"", 2, []string{"a", "b"}},
		{"", 0, []string{}},
		{"", -5, []string{}},
		{"", math.MaxInt, names},
		{"b", math.MaxInt, []string{"b/c", "d"}},
		{"a0", 1, []string{"b"}},
		{"d", 10, []string{}},
		{"zzz", 10, []string{}},
	}
	for _, c := range cases {
		if got := page(names, c.last, c.n); !slices.Equal(got, c.want) {
			t.Errorf("page(%q, %d) = %v, want %v", c.last, c.n, got, c.want)
		}
	}
	if got := page(nil, "", 10); len(got) != 0 {
		t.Errorf("page(nil) = %v", got)
	}
}

// TestWriteSurvivesCallerHangingUp: a change whose caller has gone still completes in both the
// backend and memory, so the two never disagree.
func TestWriteSurvivesCallerHangingUp(t *testing.T) {
	be := newMemBackend()
	x := newIndex(be, nil, tally.NoopScope)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := entry("m")
	if err := x.PutManifest(ctx, "repo", e, "latest"); err != nil {
		t.Fatal(err)
	}
	if d, err := x.GetTag("repo", "latest"); err != nil || d != e.Digest {
		t.Fatalf("GetTag = %v, %v", d, err)
	}
	if names := be.names(); len(names) != 2 {
		t.Fatalf("backend holds %v", names)
	}
	if err := x.DeleteManifest(ctx, "repo", e.Digest); err != nil {
		t.Fatal(err)
	}
	if names := be.names(); len(names) != 0 {
		t.Fatalf("backend holds %v after delete", names)
	}
}
