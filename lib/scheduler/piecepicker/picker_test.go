package piecepicker

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/docket-p2p/docket/lib/wire"
)

func bits(n int, set ...int) *wire.Bits {
	b := wire.NewBits(n)
	for _, i := range set {
		b.Set(i)
	}
	return b
}

func all(n int) *wire.Bits {
	b := wire.NewBits(n)
	b.SetAll()
	return b
}

func newPicker(n int) *Picker[string] {
	return New[string](n, rand.New(rand.NewPCG(1, 2)))
}

func TestPickRarestFirst(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		peers  []*wire.Bits // availability from other peers
		have   []int
		target *wire.Bits
		max    int
		want   []int // as a set
	}{
		{"rarest single", 4, []*wire.Bits{bits(4, 0, 1, 2), bits(4, 0, 1)}, nil, all(4), 1, []int{3}},
		{"two rarest", 4, []*wire.Bits{bits(4, 0, 1), bits(4, 0)}, nil, all(4), 2, []int{2, 3}},
		{"only what peer has", 4, nil, nil, bits(4, 1, 2), 4, []int{1, 2}},
		{"skip held", 4, nil, []int{0, 1}, all(4), 4, []int{2, 3}},
		{"nothing useful", 3, nil, []int{0}, bits(3, 0), 2, nil},
		{"max zero", 3, nil, nil, all(3), 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPicker(tc.n)
			for _, b := range tc.peers {
				if err := p.AddPeer(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.AddPeer(tc.target); err != nil {
				t.Fatal(err)
			}
			for _, i := range tc.have {
				if err := p.SetHave(i); err != nil {
					t.Fatal(err)
				}
			}
			got := p.Pick("x", tc.target, tc.max)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Pick = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPickExcludesInFlight(t *testing.T) {
	p := newPicker(4)
	p.AddPeer(all(4))
	p.AddPeer(all(4))
	a := p.Pick("a", all(4), 2)
	b := p.Pick("b", all(4), 4)
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("a=%v b=%v, want two each", a, b)
	}
	for _, i := range a {
		if slices.Contains(b, i) {
			t.Fatalf("piece %d given to both a=%v b=%v outside endgame", i, a, b)
		}
	}
}

func TestTieBreakIsRandom(t *testing.T) {
	first := map[int]bool{}
	for seed := uint64(0); seed < 50; seed++ {
		p := New[string](16, rand.New(rand.NewPCG(seed, seed)))
		p.AddPeer(all(16))
		got := p.Pick("a", all(16), 1)
		first[got[0]] = true
	}
	if len(first) < 5 {
		t.Fatalf("first picks over 50 seeds covered only %d pieces: %v", len(first), first)
	}
}

func TestEndgameDuplicatesAndCancels(t *testing.T) {
	p := newPicker(3)
	p.AddPeer(all(3))
	p.AddPeer(all(3))
	a := p.Pick("a", all(3), 3)
	if len(a) != 3 || !p.Endgame() {
		t.Fatalf("a=%v endgame=%v, want all three and endgame", a, p.Endgame())
	}
	b := p.Pick("b", all(3), 2)
	if len(b) != 2 {
		t.Fatalf("endgame pick for b = %v, want 2 duplicates", b)
	}
	if again := p.Pick("a", all(3), 3); again != nil {
		t.Fatalf("a re-picked its own in-flight pieces %v", again)
	}
	cancel, err := p.Done(b[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(cancel) != 2 || !slices.Contains(cancel, "a") || !slices.Contains(cancel, "b") {
		t.Fatalf("Done cancel list = %v, want a and b", cancel)
	}
	if dup, _ := p.Done(b[0]); dup != nil {
		t.Fatalf("second Done returned %v", dup)
	}
	if p.Missing() != 2 {
		t.Fatalf("Missing = %d, want 2", p.Missing())
	}
}

// TestEndgameFetchersCapped: in endgame a piece is asked of at most maxEndgameFetchers peers
// at once; a third peer gets only the pieces fewer are fetching.
func TestEndgameFetchersCapped(t *testing.T) {
	p := newPicker(2)
	for range 3 {
		p.AddPeer(all(2))
	}
	if got := p.Pick("a", all(2), 2); len(got) != 2 {
		t.Fatalf("a picked %v, want both pieces", got)
	}
	if got := p.Pick("b", bits(2, 0), 1); !slices.Equal(got, []int{0}) {
		t.Fatalf("b picked %v, want the endgame duplicate 0", got)
	}
	// Piece 0 is in flight with a and b: c gets 1 only.
	if got := p.Pick("c", all(2), 2); !slices.Equal(got, []int{1}) {
		t.Fatalf("c picked %v, want only piece 1 (piece 0 has %d fetchers)", got, maxEndgameFetchers)
	}
	if got := p.Pick("d", all(2), 2); got != nil {
		t.Fatalf("d picked %v, want nothing: both pieces have %d fetchers", got, maxEndgameFetchers)
	}
}

func TestReleaseAndRemovePeer(t *testing.T) {
	p := newPicker(2)
	pb := all(2)
	p.AddPeer(pb)
	got := p.Pick("a", pb, 2)
	if len(got) != 2 {
		t.Fatalf("pick %v", got)
	}
	p.Release("a", got[0])
	if p.Endgame() {
		t.Fatal("endgame after release")
	}
	if again := p.Pick("b", all(2), 2); !slices.Equal(again, []int{got[0]}) {
		t.Fatalf("after release b got %v, want [%d]", again, got[0])
	}
	p.RemovePeer("a", pb)
	if p.Availability(0) != 0 || p.Availability(1) != 0 {
		t.Fatalf("availability after remove = %d,%d", p.Availability(0), p.Availability(1))
	}
	// b still holds got[0]; the other piece is free again.
	if again := p.Pick("c", all(2), 2); !slices.Equal(again, []int{got[1]}) {
		t.Fatalf("after remove c got %v, want [%d]", again, got[1])
	}
}

func TestCompleteDownloadNoDuplicatesOutsideEndgame(t *testing.T) {
	const n = 64
	p := newPicker(n)
	peers := []string{"a", "b", "c"}
	for range peers {
		p.AddPeer(all(n))
	}
	for !p.Complete() {
		progressed := false
		for _, peer := range peers {
			for _, i := range p.Pick(peer, all(n), 4) {
				if _, err := p.Done(i); err != nil {
					t.Fatal(err)
				}
				progressed = true
			}
		}
		if !progressed {
			t.Fatalf("stuck with %d missing", p.Missing())
		}
	}
}

func TestErrors(t *testing.T) {
	p := newPicker(4)
	if err := p.SetHave(4); !errors.Is(err, ErrPieceRange) {
		t.Fatalf("SetHave(4) = %v", err)
	}
	if err := p.PeerHas(-1); !errors.Is(err, ErrPieceRange) {
		t.Fatalf("PeerHas(-1) = %v", err)
	}
	if _, err := p.Done(9); !errors.Is(err, ErrPieceRange) {
		t.Fatalf("Done(9) = %v", err)
	}
	if err := p.AddPeer(all(5)); !errors.Is(err, ErrBitsLength) {
		t.Fatalf("AddPeer(len 5) = %v", err)
	}
	if got := p.Pick("a", all(5), 1); got != nil {
		t.Fatalf("Pick with wrong-length bits = %v", got)
	}
}

// PickOnly keeps to the pieces its filter allows until endgame, where any piece in flight with
// another peer may be duplicated whatever the filter says.
func TestPickOnly(t *testing.T) {
	p := newPicker(6)
	even := func(i int) bool { return i%2 == 0 }
	got := p.PickOnly("origin", all(6), 6, even)
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 2, 4}) {
		t.Fatalf("picked %v, want the even pieces", got)
	}
	if again := p.PickOnly("origin", all(6), 6, even); len(again) != 0 {
		t.Fatalf("picked %v with every allowed piece in flight", again)
	}
	if got := p.Pick("agent", all(6), 6); len(got) != 3 {
		t.Fatalf("agent picked %v, want the three odd pieces", got)
	}
	// Every missing piece is in flight: endgame.
	if got := p.PickOnly("origin", all(6), 6, even); len(got) != 3 {
		t.Fatalf("endgame picked %v from the origin, want the three pieces in flight elsewhere", got)
	}
}

// Front is the lowest piece not held, whatever order pieces arrive in.
func TestFront(t *testing.T) {
	p := newPicker(5)
	for _, step := range []struct{ done, front int }{{1, 0}, {0, 2}, {3, 2}, {2, 4}, {4, 5}} {
		if _, err := p.Done(step.done); err != nil {
			t.Fatal(err)
		}
		if got := p.Front(); got != step.front {
			t.Fatalf("after piece %d: front %d, want %d", step.done, got, step.front)
		}
	}
}

// PickNearFront takes equally rare pieces a window at a time from the front, at random within
// the window; rarity still comes first.
func TestPickNearFront(t *testing.T) {
	const n, window = 64, 8
	p := newPicker(n)
	if err := p.AddPeer(all(n)); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 2} {
		if _, err := p.Done(i); err != nil {
			t.Fatal(err)
		}
	}
	// Front 3: the first window is pieces 3..10.
	got := p.PickNearFront("a", all(n), window, nil, window)
	slices.Sort(got)
	if want := []int{3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("first pick %v, want the window %v", got, want)
	}
	// Fresh pickers with other seeds pick from the same first window, in other orders.
	var orders [][]int
	for _, peer := range []string{"b", "c"} {
		q := newPicker(n)
		_ = q.AddPeer(all(n))
		q.rng = rand.New(rand.NewPCG(uint64(len(peer)+len(orders)), 7))
		orders = append(orders, q.PickNearFront(peer, all(n), 4, nil, window))
		for _, i := range orders[len(orders)-1] {
			if i >= window {
				t.Fatalf("peer %s picked %d outside the first window", peer, i)
			}
		}
	}
	if slices.Equal(orders[0], orders[1]) {
		t.Errorf("two seeds picked the same %v: no randomness within the window", orders[0])
	}
	// A rarer piece far from the front still comes first.
	r := newPicker(n)
	_ = r.AddPeer(all(n))
	_ = r.AddPeer(bits(n, rangeOf(0, n-1)...)) // every piece but the last is held twice
	if got := r.PickNearFront("a", all(n), 1, nil, window); !slices.Equal(got, []int{n - 1}) {
		t.Fatalf("picked %v, want the rarest piece %d", got, n-1)
	}
}

func rangeOf(lo, hi int) []int {
	var out []int
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}
