package core

import "fmt"

// MetaInfo describes how a blob is cut into pieces for peer-to-peer transfer. It is a
// BitTorrent v1 info dictionary (name = the blob digest, length, piece length, SHA-1 piece
// hashes) that also carries SHA-256 piece hashes, which Docket peers verify. lib/metainfo
// computes it from the blob and encodes it; InfoHash is the SHA-1 of that encoding's info
// dictionary.
//
// A stock BitTorrent v1 torrent that Docket did not write (metainfo.ParseTorrent, for
// `docket get`) has no SHA-256 piece hashes: PieceSHA256 is empty and its pieces are verified
// by SHA-1, the only hash it carries; Digest is zero unless its name is a digest. Docket's own
// metainfo always has both.
type MetaInfo struct {
	Digest      Digest
	Length      int64
	PieceLength int64
	PieceSHA1   [][20]byte
	PieceSHA256 [][32]byte
	InfoHash    InfoHash
}

// NumPieces returns the number of pieces.
func (m *MetaInfo) NumPieces() int { return len(m.PieceSHA1) }

// PieceSize returns the length of piece i; only the last piece may be short.
func (m *MetaInfo) PieceSize(i int) int64 {
	if i < 0 || i >= m.NumPieces() {
		return 0
	}
	if i == m.NumPieces()-1 {
		return m.Length - int64(i)*m.PieceLength
	}
	return m.PieceLength
}

// Validate checks that the piece counts agree with the length and piece length.
func (m *MetaInfo) Validate() error {
	if m.Digest.IsZero() && !m.StockV1() {
		return fmt.Errorf("metainfo: %w: empty digest", ErrInvalidDigest)
	}
	if m.Length < 0 || m.PieceLength <= 0 {
		return fmt.Errorf("metainfo %s: bad length %d or piece length %d", m.Digest, m.Length, m.PieceLength)
	}
	want := int((m.Length + m.PieceLength - 1) / m.PieceLength)
	if m.Length == 0 {
		want = 0
	}
	if len(m.PieceSHA1) != want || (len(m.PieceSHA256) != want && !m.StockV1()) {
		return fmt.Errorf("metainfo %s: %d sha1 and %d sha256 piece hashes, want %d",
			m.Digest, len(m.PieceSHA1), len(m.PieceSHA256), want)
	}
	return nil
}

// StockV1 reports whether m is a stock v1 torrent without SHA-256 piece hashes.
func (m *MetaInfo) StockV1() bool { return len(m.PieceSHA256) == 0 && len(m.PieceSHA1) > 0 }
