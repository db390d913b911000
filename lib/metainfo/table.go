package metainfo

import (
	"fmt"
	"math"
	"math/bits"
)

// Piece-length bounds. Every piece length Docket uses or accepts is a power of two in this
// range: at least one wire block (16 KiB, the largest request peers honour), at most 64 MiB
// (BitTorrent clients commonly refuse more, and a piece is held in memory while verified).
const (
	MinPieceLength = 16 << 10
	MaxPieceLength = 64 << 20
)

// Size bounds for one blob's metainfo.
const (
	// MaxLength is the largest blob Docket cuts into pieces: 4 TiB.
	MaxLength = 4 << 40
	// MaxPieces bounds the piece count: 262,144 pieces carry 5 MiB of SHA-1 and 8 MiB of
	// SHA-256 hashes, so a torrent always fits in MaxTorrentSize.
	MaxPieces = 1 << 18
	// MaxTorrentSize bounds an encoded torrent that Unmarshal accepts.
	MaxTorrentSize = 16 << 20
)

// Row is one line of a piece-length Table: blobs of at most MaxSize bytes (and more than the
// previous row's MaxSize) are cut into pieces of PieceLength bytes.
type Row struct {
	MaxSize     int64 `yaml:"max_size"`
	PieceLength int64 `yaml:"piece_length"`
}

// Table maps a blob's size to its piece length, rows in ascending MaxSize order. Blobs
// larger than the last row's MaxSize use the last row's piece length. The nil Table means
// DefaultTable.
type Table []Row

// targetMaxPieces is the piece count DefaultTable keeps blobs under, while the piece length
// is below its cap: each row's MaxSize is targetMaxPieces × its piece length, so a blob gets
// between 1,000 and 2,000 pieces (fewer only for blobs under 125 MiB, which get 64 KiB
// pieces, and more only above 31.25 GiB, which get 16 MiB pieces).
const targetMaxPieces = 2000

// DefaultTable is Docket's default size→piece-length table: power-of-two piece lengths from
// 64 KiB (a floor of four wire blocks, so small blobs still get several pieces per peer
// without per-piece overhead dominating) to 16 MiB (a cap so one piece stays quick to fetch
// and verify), giving 1,000–2,000 pieces per blob in between. Many small pieces keep pieces ≫
// peers, which lets the seeder spread distinct pieces across the swarm.
var DefaultTable = Table{
	{MaxSize: targetMaxPieces * (64 << 10), PieceLength: 64 << 10},
	{MaxSize: targetMaxPieces * (128 << 10), PieceLength: 128 << 10},
	{MaxSize: targetMaxPieces * (256 << 10), PieceLength: 256 << 10},
	{MaxSize: targetMaxPieces * (512 << 10), PieceLength: 512 << 10},
	{MaxSize: targetMaxPieces * (1 << 20), PieceLength: 1 << 20},
	{MaxSize: targetMaxPieces * (2 << 20), PieceLength: 2 << 20},
	{MaxSize: targetMaxPieces * (4 << 20), PieceLength: 4 << 20},
	{MaxSize: targetMaxPieces * (8 << 20), PieceLength: 8 << 20},
	{MaxSize: math.MaxInt64, PieceLength: 16 << 20},
}

// Validate checks that the table is usable: at least one row, MaxSize strictly ascending and
// positive, every piece length valid (ValidPieceLength) and none smaller than the row before.
func (t Table) Validate() error {
	if len(t) == 0 {
		return fmt.Errorf("%w: empty table", ErrInvalidPieceLength)
	}
	for i, r := range t {
		if err := ValidPieceLength(r.PieceLength); err != nil {
			return fmt.Errorf("table row %d: %w", i, err)
		}
		if r.MaxSize <= 0 {
			return fmt.Errorf("%w: table row %d: max_size %d is not positive", ErrInvalidPieceLength, i, r.MaxSize)
		}
		if i > 0 && r.MaxSize <= t[i-1].MaxSize {
			return fmt.Errorf("%w: table row %d: max_size %d not above the previous row's %d",
				ErrInvalidPieceLength, i, r.MaxSize, t[i-1].MaxSize)
		}
		if i > 0 && r.PieceLength < t[i-1].PieceLength {
			return fmt.Errorf("%w: table row %d: piece_length %d below the previous row's %d",
				ErrInvalidPieceLength, i, r.PieceLength, t[i-1].PieceLength)
		}
	}
	return nil
}

// ValidPieceLength checks that n is a power of two in [MinPieceLength, MaxPieceLength].
func ValidPieceLength(n int64) error {
	if n < MinPieceLength || n > MaxPieceLength || bits.OnesCount64(uint64(n)) != 1 {
		return fmt.Errorf("%w: %d is not a power of two in [%d, %d]", ErrInvalidPieceLength, n, MinPieceLength, MaxPieceLength)
	}
	return nil
}

// PieceLength returns the piece length for a blob of size bytes under table (DefaultTable if
// table is empty; an invalid table should be rejected by its config's Validate first, and
// here falls back to DefaultTable). If the table's choice would give more than MaxPieces
// pieces, the piece length is doubled until it does not (up to MaxPieceLength).
func PieceLength(size int64, table Table) int64 {
	if len(table) == 0 || table.Validate() != nil {
		table = DefaultTable
	}
	pl := table[len(table)-1].PieceLength
	for _, r := range table {
		if size <= r.MaxSize {
			pl = r.PieceLength
			break
		}
	}
	for pl < MaxPieceLength && size > 0 && (size-1)/pl+1 > MaxPieces {
		pl *= 2
	}
	return pl
}
