package superseed

import (
	"errors"
	"fmt"
	"testing"
)

func TestAllowServesLeastSentFirst(t *testing.T) {
	l := New[string](3)
	for i := 0; i < 3; i++ {
		if !l.Allow("a", i) {
			t.Fatalf("piece %d refused with nothing sent", i)
		}
	}
	if err := l.Record("a", 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		peer  string
		piece int
		want  bool
	}{
		{"b", 0, false}, // sent once, pieces 1 and 2 never sent
		{"a", 0, true},  // already given to a: a re-request is fine
		{"b", 1, true},
		{"b", 2, true},
		{"b", 3, false}, // out of range
		{"b", -1, false},
	}
	for _, tc := range tests {
		if got := l.Allow(tc.peer, tc.piece); got != tc.want {
			t.Errorf("Allow(%s, %d) = %v, want %v", tc.peer, tc.piece, got, tc.want)
		}
	}
	l.Record("b", 1)
	l.Record("c", 2)
	if !l.Allow("b", 0) {
		t.Fatal("piece 0 refused after every piece was sent once")
	}
}

func TestRecordIsIdempotentPerPeer(t *testing.T) {
	l := New[string](2)
	l.Record("a", 1)
	l.Record("a", 1)
	if l.Sent(1) != 1 {
		t.Fatalf("Sent(1) = %d after two records to the same peer", l.Sent(1))
	}
	if err := l.Record("a", 2); !errors.Is(err, ErrPieceRange) {
		t.Fatalf("Record(2) = %v", err)
	}
	l.Forget("a")
	l.Record("a", 1)
	if l.Sent(1) != 2 {
		t.Fatalf("Sent(1) = %d after forget and resend, want 2", l.Sent(1))
	}
}

// Five peers each taking whatever Suggest offers: the seeder sends every
// piece once before any piece twice.
func TestSuggestSpreadsPieces(t *testing.T) {
	const n, peers = 20, 5
	l := New[string](n)
	have := make([]map[int]bool, peers)
	for p := range have {
		have[p] = map[int]bool{}
	}
	for round := 0; round < n; round++ {
		for p := 0; p < peers; p++ {
			id := fmt.Sprint("peer", p)
			piece, ok := l.Suggest(id, func(i int) bool { return !have[p][i] }, p*n/peers)
			if !ok {
				continue
			}
			if !l.Allow(id, piece) {
				t.Fatalf("suggested piece %d not allowed", piece)
			}
			l.Record(id, piece)
			have[p][piece] = true
			total := 0
			for i := 0; i < n; i++ {
				total += l.Sent(i)
			}
			for i := 0; i < n; i++ {
				if total <= n && l.Sent(i) > 1 {
					t.Fatalf("piece %d sent twice after only %d sends", i, total)
				}
			}
		}
	}
	if _, ok := l.Suggest("peer0", func(i int) bool { return !have[0][i] }, 0); ok {
		t.Fatal("Suggest offered a piece to a peer that has them all")
	}
}
