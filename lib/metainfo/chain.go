package metainfo

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/docket-p2p/docket/core"
)

// SHA-256's state as crypto/sha256 marshals it (encoding.BinaryMarshaler, a format Go keeps
// stable): a magic, the eight chaining words big-endian, the partial block and the length
// hashed so far. Pieces are whole blocks, so at a piece boundary the partial block is empty.
const (
	stateMagic = "sha\x03"
	stateSize  = len(stateMagic) + 32 + sha256.BlockSize + 8
)

// chainValue returns the chaining value of h, a SHA-256 fed a whole number of blocks.
func chainValue(h hash.Hash) ([32]byte, error) {
	var v [32]byte
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return v, err
	}
	if len(b) != stateSize || string(b[:len(stateMagic)]) != stateMagic {
		return v, fmt.Errorf("metainfo: unexpected SHA-256 state encoding (%d bytes)", len(b))
	}
	copy(v[:], b[len(stateMagic):])
	return v, nil
}

// resume returns a SHA-256 in the state it has after length bytes (a multiple of the block
// size) that left chaining value v.
func resume(v [32]byte, length int64) (hash.Hash, error) {
	b := make([]byte, 0, stateSize)
	b = append(b, stateMagic...)
	b = append(b, v[:]...)
	b = append(b, make([]byte, sha256.BlockSize)...)
	b = binary.BigEndian.AppendUint64(b, uint64(length))
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("metainfo: resume SHA-256: %w", err)
	}
	return h, nil
}

// chainAt returns a SHA-256 that has been fed the blob's pieces before piece i, per m's chain.
func chainAt(m *core.MetaInfo, i int) (hash.Hash, error) {
	if i == 0 {
		return sha256.New(), nil
	}
	return resume(m.ChainSHA256[i-1], int64(i)*m.PieceLength)
}

// ResumeDigester returns a Digester for m's blob that has been fed the pieces before its last,
// per m's chain, and how many bytes that is: feeding it the last piece finishes the blob's
// digest. The chain ends at the digest only for a sha256 blob (m.ChainIsDigest); for any other
// it returns a fresh Digester and 0.
func ResumeDigester(m *core.MetaInfo) (*core.Digester, int64, error) {
	if !m.ChainIsDigest() {
		return m.Digest.NewDigester(), 0, nil
	}
	last := m.NumPieces() - 1
	h, err := chainAt(m, last)
	if err != nil {
		return nil, 0, err
	}
	return m.Digest.ResumeDigester(h), int64(last) * m.PieceLength, nil
}
