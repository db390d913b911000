package metainfo

import (
	"bytes"
	"crypto/sha1"
	"fmt"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/bencode"
)

// Keys of the info dictionary and the torrent around it.
const (
	keyInfo        = "info"
	keyAnnounce    = "announce"
	keyLength      = "length"
	keyName        = "name"
	keyPieceLength = "piece length"
	keyPieces      = "pieces"
	keyPrivate     = "private"
	keySHA256Chain = "sha256 chain"
)

// infoKeys is the exact key set of a Docket info dictionary.
var infoKeys = []string{keyLength, keyName, keyPieceLength, keyPieces, keyPrivate, keySHA256Chain}

// maxTorrentDepth bounds bencode nesting in a torrent: the info dictionary sits at depth 2,
// announce-list (BEP 12) at depth 3.
const maxTorrentDepth = 4

// infoValue builds the info dictionary of m after checking it.
func infoValue(m *core.MetaInfo) (bencode.Value, error) {
	if m == nil {
		return bencode.Value{}, fmt.Errorf("%w: nil metainfo", ErrInvalid)
	}
	if err := checkBounds(m.Length, m.PieceLength); err != nil {
		return bencode.Value{}, fmt.Errorf("%s: %w", m.Digest, err)
	}
	if err := m.Validate(); err != nil {
		return bencode.Value{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if m.StockV1() {
		return bencode.Value{}, fmt.Errorf("%w: a stock torrent without a SHA-256 chain is not re-encoded", ErrInvalid)
	}
	sha1s := make([]byte, 0, 20*len(m.PieceSHA1))
	for i := range m.PieceSHA1 {
		sha1s = append(sha1s, m.PieceSHA1[i][:]...)
	}
	chain := make([]byte, 0, 32*len(m.ChainSHA256))
	for i := range m.ChainSHA256 {
		chain = append(chain, m.ChainSHA256[i][:]...)
	}
	return bencode.Dict(
		bencode.Entry{Key: keyLength, Value: bencode.Int(m.Length)},
		bencode.Entry{Key: keyName, Value: bencode.String(m.Digest.String())},
		bencode.Entry{Key: keyPieceLength, Value: bencode.Int(m.PieceLength)},
		bencode.Entry{Key: keyPieces, Value: bencode.Bytes(sha1s)},
		bencode.Entry{Key: keyPrivate, Value: bencode.Int(1)},
		bencode.Entry{Key: keySHA256Chain, Value: bencode.Bytes(chain)},
	), nil
}

// MarshalInfo returns the canonical bencoding of m's info dictionary, the bytes whose SHA-1
// is the info-hash (and what BEP 9 metadata exchange transfers).
func MarshalInfo(m *core.MetaInfo) ([]byte, error) {
	iv, err := infoValue(m)
	if err != nil {
		return nil, err
	}
	return bencode.Marshal(iv)
}

// InfoHash returns the SHA-1 of m's info dictionary, ignoring m.InfoHash.
func InfoHash(m *core.MetaInfo) (core.InfoHash, error) {
	b, err := MarshalInfo(m)
	if err != nil {
		return core.InfoHash{}, err
	}
	return sha1.Sum(b), nil
}

// Marshal returns m as a .torrent file without an announce URL: {"info": {...}}. If
// m.InfoHash is set it must be the SHA-1 of the info dictionary (ErrInfoHashMismatch).
func Marshal(m *core.MetaInfo) ([]byte, error) {
	return marshalTorrent(m, "")
}

// MarshalTorrent returns m as a .torrent file announcing to announce (a tracker's announce
// URL, which must not be empty), for stock BitTorrent clients.
func MarshalTorrent(m *core.MetaInfo, announce string) ([]byte, error) {
	if announce == "" {
		return nil, fmt.Errorf("%w: empty announce URL", ErrInvalid)
	}
	return marshalTorrent(m, announce)
}

func marshalTorrent(m *core.MetaInfo, announce string) ([]byte, error) {
	iv, err := infoValue(m)
	if err != nil {
		return nil, err
	}
	info, err := bencode.Marshal(iv)
	if err != nil {
		return nil, err
	}
	if ih := core.InfoHash(sha1.Sum(info)); m.InfoHash != (core.InfoHash{}) && ih != m.InfoHash {
		return nil, fmt.Errorf("%w: %s has info hash %s, its info dictionary hashes to %s",
			ErrInfoHashMismatch, m.Digest, m.InfoHash, ih)
	}
	entries := []bencode.Entry{{Key: keyInfo, Value: iv}}
	if announce != "" {
		entries = append(entries, bencode.Entry{Key: keyAnnounce, Value: bencode.String(announce)})
	}
	return bencode.Marshal(bencode.Dict(entries...))
}

// Unmarshal parses a .torrent file produced by Marshal or MarshalTorrent (other top-level
// keys such as announce, announce-list, comment are allowed and ignored). It is strict about
// the info dictionary (see the package doc) and sets InfoHash to the SHA-1 of the info
// dictionary's bytes as received.
func Unmarshal(b []byte) (*core.MetaInfo, error) {
	if len(b) > MaxTorrentSize {
		return nil, fmt.Errorf("%w: torrent of %d bytes, limit %d", ErrTooLarge, len(b), MaxTorrentSize)
	}
	top, err := decoder().Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	iv, err := top.GetDict(keyInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if a, ok := top.Get(keyAnnounce); ok && a.Kind() != bencode.KindString {
		return nil, fmt.Errorf("%w: announce is a %s", ErrInvalid, a.Kind())
	}
	return parseInfo(iv)
}

// UnmarshalInfo parses a bare info dictionary (as MarshalInfo returns it, or as received by
// BEP 9 metadata exchange), with the same checks as Unmarshal.
func UnmarshalInfo(b []byte) (*core.MetaInfo, error) {
	if len(b) > MaxTorrentSize {
		return nil, fmt.Errorf("%w: info dictionary of %d bytes, limit %d", ErrTooLarge, len(b), MaxTorrentSize)
	}
	iv, err := decoder().Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if iv.Kind() != bencode.KindDict {
		return nil, fmt.Errorf("%w: info is a %s", ErrInvalid, iv.Kind())
	}
	return parseInfo(iv)
}

func decoder() bencode.Decoder {
	return bencode.Decoder{Limits: bencode.Limits{
		MaxDepth:        maxTorrentDepth,
		MaxStringLength: MaxTorrentSize,
	}}
}

func parseInfo(iv bencode.Value) (*core.MetaInfo, error) {
	entries, _ := iv.Entries()
	if len(entries) != len(infoKeys) {
		return nil, fmt.Errorf("%w: info dictionary has %d keys, want %q", ErrInvalid, len(entries), infoKeys)
	}
	for i, e := range entries {
		if e.Key != infoKeys[i] {
			return nil, fmt.Errorf("%w: unexpected info key %q, want %q", ErrInvalid, e.Key, infoKeys)
		}
	}
	name, err := iv.GetString(keyName)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	d, err := core.ParseDigest(name)
	if err != nil {
		return nil, fmt.Errorf("%w: name: %v", ErrInvalid, err)
	}
	v1, err := parseV1(iv, name)
	if err != nil {
		return nil, err
	}
	if p, err := iv.GetInt(keyPrivate); err != nil || p != 1 {
		return nil, fmt.Errorf("%w: private must be 1 (got %d, %v)", ErrInvalid, p, err)
	}
	n := v1.NumPieces()
	chain, err := iv.GetBytes(keySHA256Chain)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(chain) != 32*n {
		return nil, fmt.Errorf("%w: %s: %d bytes of SHA-256 chain for %d pieces", ErrInvalid, d, len(chain), n)
	}
	m := v1
	m.Digest = d
	m.ChainSHA256 = make([][32]byte, n)
	for i := range n {
		copy(m.ChainSHA256[i][:], chain[32*i:])
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// The decoder accepts canonical bencode only and the key set is exact, so re-encoding must
	// give the bytes received; check it so the info-hash of an accepted MetaInfo can never
	// depend on whether it was parsed or rebuilt.
	again, err := MarshalInfo(m)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, iv.Raw()) {
		return nil, fmt.Errorf("%w: info dictionary does not re-encode to the bytes received", ErrInvalid)
	}
	return m, nil
}
