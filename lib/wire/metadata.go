package wire

import (
	"fmt"
	"math"

	"github.com/docket-p2p/docket/lib/bencode"
)

// BEP 9 (metadata exchange): peers send each other the info dictionary in 16 KiB pieces over
// the "ut_metadata" extension, so a peer that knows only the info-hash (a magnet link, or a
// Docket agent whose tracker and origins are unreachable) can get the metainfo from its
// swarm. The receiver must check the assembled bytes against the info-hash.
const (
	// MetadataExtension is the extension name in the "m" dictionary.
	MetadataExtension = "ut_metadata"
	// MetadataPieceSize is the size of every metadata piece but the last.
	MetadataPieceSize = 16 << 10
	// MaxMetadataSize bounds the info dictionary a peer may announce (the same bound
	// lib/metainfo puts on a whole torrent).
	MaxMetadataSize = 16 << 20
)

// MetadataMsgType is a BEP 9 message's "msg_type".
type MetadataMsgType int

// BEP 9 message types.
const (
	MetadataRequest MetadataMsgType = 0
	MetadataData    MetadataMsgType = 1
	MetadataReject  MetadataMsgType = 2
)

// maxMetadataHeaderValues bounds the bencode values in a metadata message's header.
const maxMetadataHeaderValues = 64

// MetadataMessage is one BEP 9 message: the payload of an extended message sent on the id the
// receiver assigned to ut_metadata.
type MetadataMessage struct {
	Type  MetadataMsgType
	Piece int
	// TotalSize is the info dictionary's size; set on MetadataData only.
	TotalSize int
	// Data is the metadata piece; MetadataData only. From UnmarshalMetadataMessage it
	// aliases the input.
	Data []byte
}

// MetadataPieces returns how many metadata pieces an info dictionary of size bytes has.
func MetadataPieces(size int) int { return (size + MetadataPieceSize - 1) / MetadataPieceSize }

// metadataPieceLen returns the length of metadata piece i of a dictionary of size bytes.
func metadataPieceLen(size, i int) int {
	return min(MetadataPieceSize, size-i*MetadataPieceSize)
}

// Marshal encodes the message: a bencoded header, followed by the data for MetadataData.
func (m MetadataMessage) Marshal() ([]byte, error) {
	es := []bencode.Entry{
		{Key: "msg_type", Value: bencode.Int(int64(m.Type))},
		{Key: "piece", Value: bencode.Int(int64(m.Piece))},
	}
	if err := m.check(m.TotalSize); err != nil {
		return nil, err
	}
	if m.Type == MetadataData {
		es = append(es, bencode.Entry{Key: "total_size", Value: bencode.Int(int64(m.TotalSize))})
	}
	b, err := bencode.Marshal(bencode.Dict(es...))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return append(b, m.Data...), nil
}

// check validates the message against a dictionary of size bytes (size is only known, and
// only checked, for data messages and for a receiver that knows it).
func (m MetadataMessage) check(size int) error {
	switch m.Type {
	case MetadataRequest, MetadataReject:
		if len(m.Data) != 0 {
			return fmt.Errorf("%w: metadata %d message with data", ErrMalformed, m.Type)
		}
		if m.Piece < 0 || m.Piece >= MetadataPieces(MaxMetadataSize) {
			return fmt.Errorf("%w: metadata piece %d", ErrOutOfRange, m.Piece)
		}
	case MetadataData:
		if size <= 0 || size > MaxMetadataSize {
			return fmt.Errorf("%w: metadata total_size %d", ErrOutOfRange, size)
		}
		if m.Piece < 0 || m.Piece >= MetadataPieces(size) {
			return fmt.Errorf("%w: metadata piece %d of %d", ErrOutOfRange, m.Piece, MetadataPieces(size))
		}
		if want := metadataPieceLen(size, m.Piece); len(m.Data) != want {
			return fmt.Errorf("%w: metadata piece %d has %d bytes, want %d", ErrMalformed, m.Piece, len(m.Data), want)
		}
	default:
		return fmt.Errorf("%w: metadata msg_type %d", ErrMalformed, m.Type)
	}
	return nil
}

// UnmarshalMetadataMessage decodes a BEP 9 message and checks it: a known type, a piece index
// within the announced size, a data piece of exactly the right length, no trailing data on
// requests and rejects. Data aliases b.
func UnmarshalMetadataMessage(b []byte) (MetadataMessage, error) {
	dec := bencode.Decoder{
		Limits:            bencode.Limits{MaxDepth: 2, MaxStringLength: MetadataPieceSize, MaxValues: maxMetadataHeaderValues},
		AllowUnsortedKeys: true,
	}
	hdr, n, err := dec.DecodePrefix(b)
	if err != nil {
		return MetadataMessage{}, fmt.Errorf("%w: metadata header: %v", ErrMalformed, err)
	}
	get := func(key string, required bool) (int, error) {
		v, err := hdr.GetInt(key)
		if err != nil {
			if !required {
				return 0, nil
			}
			return 0, fmt.Errorf("%w: metadata header: %v", ErrMalformed, err)
		}
		if v < 0 || v > math.MaxInt32 {
			return 0, fmt.Errorf("%w: metadata %s %d", ErrOutOfRange, key, v)
		}
		return int(v), nil
	}
	typ, err := get("msg_type", true)
	if err != nil {
		return MetadataMessage{}, err
	}
	piece, err := get("piece", true)
	if err != nil {
		return MetadataMessage{}, err
	}
	m := MetadataMessage{Type: MetadataMsgType(typ), Piece: piece, Data: b[n:]}
	if m.Type == MetadataData {
		if m.TotalSize, err = get("total_size", true); err != nil {
			return MetadataMessage{}, err
		}
	}
	if err := m.check(m.TotalSize); err != nil {
		return MetadataMessage{}, err
	}
	return m, nil
}

// BlockCount returns how many requests of at most BlockSize bytes cover a piece of size bytes.
func BlockCount(pieceSize int64) int { return int((pieceSize + BlockSize - 1) / BlockSize) }

// Block returns the begin offset and length of block j of a piece of size bytes, for a
// request.
func Block(pieceSize int64, j int) (begin, length uint32) {
	b := int64(j) * BlockSize
	return uint32(b), uint32(min(BlockSize, pieceSize-b))
}
