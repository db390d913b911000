package metainfo

import (
	"crypto/sha1"
	"fmt"

	"github.com/docket-p2p/docket/core"
)

// VerifyPiece checks that data is piece i of m: its length, and that SHA-256 resumed from the
// chain value before piece i and fed data reaches the chain value after it (the blob's SHA-256
// for the last piece), which is what Docket peers trust (ErrPieceMismatch otherwise; ErrInvalid
// for an index out of range). Every piece of a sha256 blob passing means the blob matches its
// digest. A stock v1 torrent (m.StockV1, from ParseTorrent) carries no chain; its pieces are
// checked by SHA-1, the only hash it has.
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
	h, err := chainAt(m, i)
	if err != nil {
		return err
	}
	h.Write(data)
	var got [32]byte
	if i == m.NumPieces()-1 {
		h.Sum(got[:0])
	} else if got, err = chainValue(h); err != nil {
		return err
	}
	if got != m.ChainSHA256[i] {
		return fmt.Errorf("%w: piece %d of %s fails its SHA-256 chain value", ErrPieceMismatch, i, m.Digest)
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
