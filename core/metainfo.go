package core

import (
	"encoding/hex"
	"fmt"
)

// MetaInfo describes how a blob is cut into pieces for peer-to-peer transfer. It is a
// BitTorrent v1 info dictionary (name = the blob digest, length, piece length, SHA-1 piece
// hashes) that also carries the blob's SHA-256 chain, which Docket peers verify pieces by.
// lib/metainfo computes it from the blob and encodes it; InfoHash is the SHA-1 of that
// encoding's info dictionary.
//
// ChainSHA256[i] is SHA-256's chaining value after the blob's bytes up to the end of piece i:
// the eight 32-bit words of its state, big-endian, before the final padding. The last entry is
// the finished hash, which for a sha256 blob is its digest. Piece i is verified by resuming
// SHA-256 from entry i-1 (from the start for piece 0), feeding it the piece and comparing with
// entry i; a blob whose pieces all pass has therefore hashed, piece by piece, to its digest.
//
// A stock BitTorrent v1 torrent that Docket did not write (metainfo.ParseTorrent, for
// `docket get`) has no chain: ChainSHA256 is empty and its pieces are verified by SHA-1, the
// only hash it carries; Digest is zero unless its name is a digest. Docket's own metainfo
// always has both.
type MetaInfo struct {
	Digest      Digest
	Length      int64
	PieceLength int64
	PieceSHA1   [][20]byte
	ChainSHA256 [][32]byte
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
	if len(m.PieceSHA1) != want || (len(m.ChainSHA256) != want && !m.StockV1()) {
		return fmt.Errorf("metainfo %s: %d sha1 piece hashes and %d sha256 chain values, want %d",
			m.Digest, len(m.PieceSHA1), len(m.ChainSHA256), want)
	}
	if m.ChainIsDigest() && hex.EncodeToString(m.ChainSHA256[want-1][:]) != m.Digest.Hex() {
		return fmt.Errorf("metainfo %s: %w: the sha256 chain ends at %x", m.Digest, ErrInvalidDigest, m.ChainSHA256[want-1])
	}
	return nil
}

// ChainIsDigest reports whether m's SHA-256 chain ends at its digest (a sha256 blob): then
// every piece verified means the whole blob matches its digest.
func (m *MetaInfo) ChainIsDigest() bool {
	return len(m.ChainSHA256) > 0 && !m.Digest.IsZero() && m.Digest.Algorithm() == SHA256
}

// StockV1 reports whether m is a stock v1 torrent without a SHA-256 chain.
func (m *MetaInfo) StockV1() bool { return len(m.ChainSHA256) == 0 && len(m.PieceSHA1) > 0 }
