package buildindex

import (
	"math"
	"slices"
	"testing"
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
