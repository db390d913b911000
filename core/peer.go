package core

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrInvalidID is returned (wrapped) when a PeerID or InfoHash does not parse.
var ErrInvalidID = errors.New("invalid id")

// PeerID identifies one peer in a swarm: 20 bytes, as in BitTorrent.
type PeerID [20]byte

// PeerIDPrefix starts every peer id Docket generates (Azureus style: client "DK", version 0001).
const PeerIDPrefix = "-DK0001-"

// NewPeerID returns a random peer id carrying Docket's client prefix.
func NewPeerID() PeerID {
	var p PeerID
	copy(p[:], PeerIDPrefix)
	if _, err := rand.Read(p[len(PeerIDPrefix):]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return p
}

// ParsePeerID parses 40 hex characters.
func ParsePeerID(s string) (PeerID, error) {
	var p PeerID
	if err := decodeHex20(s, p[:]); err != nil {
		return PeerID{}, fmt.Errorf("peer id %q: %w", s, err)
	}
	return p, nil
}

// String returns the hex encoding.
func (p PeerID) String() string { return hex.EncodeToString(p[:]) }

// InfoHash is the SHA-1 of a torrent's bencoded info dictionary, the swarm's key in BitTorrent.
type InfoHash [20]byte

// ParseInfoHash parses 40 hex characters.
func ParseInfoHash(s string) (InfoHash, error) {
	var h InfoHash
	if err := decodeHex20(s, h[:]); err != nil {
		return InfoHash{}, fmt.Errorf("info hash %q: %w", s, err)
	}
	return h, nil
}

// String returns the hex encoding.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

func decodeHex20(s string, dst []byte) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%w: want %d hex characters, got %d", ErrInvalidID, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidID, err)
	}
	return nil
}
