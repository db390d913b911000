package metainfo

import (
	"errors"
	"math"
	"testing"
)

func TestDefaultTablePieceCounts(t *testing.T) {
	if err := DefaultTable.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{
		1, 1 << 20, 100 << 20, 125 << 20, 125<<20 + 1, 128 << 20, 512 << 20, 1 << 30,
		3 << 30, 10 << 30, 31 << 30, 32 << 30, 100 << 30, 1 << 40,
	} {
		pl := PieceLength(size, DefaultTable)
		if err := ValidPieceLength(pl); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		n := (size-1)/pl + 1
		switch {
		case pl == 64<<10:
			if n > targetMaxPieces {
				t.Errorf("size %d: %d pieces of the floor length, want ≤ %d", size, n, targetMaxPieces)
			}
		case pl == 16<<20:
			if n < targetMaxPieces/2 {
				t.Errorf("size %d: %d pieces of the cap length, want ≥ %d", size, n, targetMaxPieces/2)
			}
		default:
			if n < targetMaxPieces/2 || n > targetMaxPieces {
				t.Errorf("size %d: piece length %d gives %d pieces, want 1000–2000", size, pl, n)
			}
		}
	}
	if got := PieceLength(1, nil); got != 64<<10 {
		t.Errorf("nil table: piece length %d, want the default's 64 KiB", got)
	}
	if got := PieceLength(0, nil); got != 64<<10 {
		t.Errorf("size 0: piece length %d", got)
	}
}

func TestCustomTable(t *testing.T) {
	table := Table{
		{MaxSize: 1 << 20, PieceLength: 16 << 10},
		{MaxSize: 1 << 30, PieceLength: 1 << 20},
	}
	if err := table.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ size, want int64 }{
		{1, 16 << 10}, {1 << 20, 16 << 10}, {1<<20 + 1, 1 << 20}, {1 << 30, 1 << 20},
		{2 << 30, 1 << 20}, // beyond the last row: its piece length
		// So many pieces that the length doubles to stay within MaxPieces.
		{MaxPieces*(1<<20) + 1, 2 << 20},
		{MaxLength, MaxLength / MaxPieces},
	} {
		if got := PieceLength(tt.size, table); got != tt.want {
			t.Errorf("PieceLength(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}

func TestTableValidate(t *testing.T) {
	for name, table := range map[string]Table{
		"empty":          {},
		"not power of 2": {{MaxSize: 10, PieceLength: 3 << 14}},
		"too small":      {{MaxSize: 10, PieceLength: 8 << 10}},
		"too large":      {{MaxSize: 10, PieceLength: 128 << 20}},
		"zero max":       {{MaxSize: 0, PieceLength: 16 << 10}},
		"not ascending": {
			{MaxSize: 100, PieceLength: 16 << 10},
			{MaxSize: 100, PieceLength: 32 << 10},
		},
		"shrinking pieces": {
			{MaxSize: 100, PieceLength: 32 << 10},
			{MaxSize: math.MaxInt64, PieceLength: 16 << 10},
		},
	} {
		if err := table.Validate(); !errors.Is(err, ErrInvalidPieceLength) {
			t.Errorf("%s: Validate = %v, want ErrInvalidPieceLength", name, err)
		}
		// An invalid table falls back to the default rather than misbehaving.
		if got, want := PieceLength(1<<30, table), PieceLength(1<<30, DefaultTable); got != want {
			t.Errorf("%s: PieceLength = %d, want the default's %d", name, got, want)
		}
	}
}
