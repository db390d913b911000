package metainfo

import (
	"crypto/sha1"
	"fmt"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/bencode"
)

// Keys a stock torrent may carry that ParseTorrent reads besides the Docket ones.
const (
	keyAnnounceList = "announce-list"
	keyFiles        = "files"
)

// maxStockTorrentDepth bounds bencode nesting in a torrent ParseTorrent reads: deep enough to
// see a multi-file torrent's info.files[].path[] and refuse it by name.
const maxStockTorrentDepth = 6

// Torrent is a .torrent file as `docket get` reads it: Docket's own (from `docket torrent`,
// with a SHA-256 chain and a digest for a name) or a stock single-file v1 torrent (from
// mktorrent and the like), whose MetaInfo is StockV1.
type Torrent struct {
	Info *core.MetaInfo
	// Name is the info dictionary's name: the digest for Docket's torrents, a file name for
	// stock ones.
	Name string
	// Announce is the tracker's announce URL ("announce", else the first of "announce-list").
	Announce string
}

// ParseTorrent parses a .torrent file. A Docket torrent goes through Unmarshal's strict
// checks. Any other must be a single-file BitTorrent v1 torrent: length, name, piece length
// (a power of two within this package's bounds) and SHA-1 pieces agreeing with the length;
// other info keys (private, source, ...) are allowed and hashed as received; multi-file
// torrents are refused. Info.Digest is set when the name is a digest, so the caller can check
// the whole file; Info.InfoHash is the SHA-1 of the info dictionary's bytes as received.
func ParseTorrent(b []byte) (*Torrent, error) {
	if len(b) > MaxTorrentSize {
		return nil, fmt.Errorf("%w: torrent of %d bytes, limit %d", ErrTooLarge, len(b), MaxTorrentSize)
	}
	dec := decoder()
	dec.Limits.MaxDepth = maxStockTorrentDepth
	top, err := dec.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	iv, err := top.GetDict(keyInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	t := &Torrent{}
	if t.Announce, err = announceURL(top); err != nil {
		return nil, err
	}
	if t.Name, err = iv.GetString(keyName); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, ok := iv.Get(keySHA256Chain); ok {
		// Carries Docket's SHA-256 chain: it must be a Docket info dictionary exactly, or a
		// tampered one could pass with only its weaker SHA-1 checked.
		if t.Info, err = parseInfo(iv); err != nil {
			return nil, err
		}
		return t, nil
	}
	if t.Info, err = parseStockInfo(iv, t.Name); err != nil {
		return nil, err
	}
	return t, nil
}

func announceURL(top bencode.Value) (string, error) {
	if a, ok := top.Get(keyAnnounce); ok {
		s, err := a.Str()
		if err != nil {
			return "", fmt.Errorf("%w: announce: %v", ErrInvalid, err)
		}
		return s, nil
	}
	tiers, err := top.GetList(keyAnnounceList)
	if err != nil {
		return "", nil // trackerless; the caller reports it
	}
	for _, tier := range tiers {
		urls, _ := tier.List()
		for _, u := range urls {
			if s, err := u.Str(); err == nil && s != "" {
				return s, nil
			}
		}
	}
	return "", nil
}

func parseStockInfo(iv bencode.Value, name string) (*core.MetaInfo, error) {
	if _, ok := iv.Get(keyFiles); ok {
		return nil, fmt.Errorf("%w: multi-file torrents are not supported (one blob, one file)", ErrInvalid)
	}
	m, err := parseV1(iv, name)
	if err != nil {
		return nil, err
	}
	if d, err := core.ParseDigest(name); err == nil {
		m.Digest = d // a file named by its digest: the caller checks the whole file against it
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return m, nil
}

// parseV1 reads what every single-file v1 info dictionary has: length, piece length (within
// this package's bounds) and SHA-1 pieces agreeing with them; InfoHash is the SHA-1 of the
// dictionary's bytes as received. name is for errors.
func parseV1(iv bencode.Value, name string) (*core.MetaInfo, error) {
	length, err := iv.GetInt(keyLength)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	pieceLength, err := iv.GetInt(keyPieceLength)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := checkBounds(length, pieceLength); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n := int((length-1)/pieceLength + 1)
	sha1s, err := iv.GetBytes(keyPieces)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(sha1s) != 20*n {
		return nil, fmt.Errorf("%w: %s: %d bytes of SHA-1 piece hashes for %d pieces", ErrInvalid, name, len(sha1s), n)
	}
	m := &core.MetaInfo{Length: length, PieceLength: pieceLength, PieceSHA1: make([][20]byte, n), InfoHash: sha1.Sum(iv.Raw())}
	for i := range n {
		copy(m.PieceSHA1[i][:], sha1s[20*i:])
	}
	return m, nil
}
