package metainfo

import (
	"crypto/sha1"
	"crypto/sha256"
	"fmt"

	"github.com/docket-p2p/docket/core"
)

// VerifyPiece checks that data is piece i of m: its length and its SHA-256, which is what
// Docket peers trust (ErrPieceMismatch otherwise; ErrInvalid for an index out of range). A
// stock v1 torrent (m.StockV1, from ParseTorrent) carries no SHA-256 piece hashes; its pieces
// are checked by SHA-1, the only hash it has.
func VerifyPiece(m *core.MetaInfo, i int, data []byte) error {
	if i < 0 || i >= m.NumPieces() {
		return fmt.Errorf("%w: piece %d of %d", ErrInvalid, i, m.NumPieces())
	}
	if m.StockV1() {
		return VerifyPieceSHA1(m, i, data)
	}
	if int64(len(data)) != m.PieceSize(i) {
		return fmt.Errorf("%w: piece %d has %d bytes, want %d", ErrPieceMismatch, i, len(data), m.PieceSize(i))
	}
	if sha256.Sum256(data) != m.PieceSHA256[i] {
		return fmt.Errorf("%w: piece %d of %s fails its SHA-256", ErrPieceMismatch, i, m.Digest)
	}
	return nil
}

// VerifyPieceSHA1 checks data against piece i's SHA-1, as stock BitTorrent clients do; for
// cross-checking what a stock client would accept, never instead of VerifyPiece.
func VerifyPieceSHA1(m *core.MetaInfo, i int, data []byte) error {
	if i < 0 || i >= m.NumPieces() {
		return fmt.Errorf("%w: piece %d of %d", ErrInvalid, i, m.NumPieces())
	}
	if int64(len(data)) != m.PieceSize(i) || sha1.Sum(data) != m.PieceSHA1[i] {
		return fmt.Errorf("%w: piece %d of %s fails its SHA-1", ErrPieceMismatch, i, m.Digest)
	}
	return nil
}
