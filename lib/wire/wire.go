// Package wire implements the BitTorrent peer wire protocol (BEP 3) with the fast extension
// (BEP 6) and the extension protocol (BEP 10), so Docket peers talk to each other and to stock
// clients such as aria2c over the same TCP connections.
//
// A connection starts with a 68-byte handshake (Handshake, Initiate, Respond), then carries
// length-prefixed messages read by a Reader and written by a Writer. Docket's own additions
// (the "I am an origin" flag, the blob digest) travel in the BEP 10 extended handshake
// (ExtendedHandshake); core messages are never changed.
//
// Everything a peer sends is untrusted. The Reader checks each message against the torrent it
// belongs to (Params) before returning it: the length prefix against a limit computed from
// the piece count before any body byte is read, payload sizes per type, piece indexes against
// the piece count, requested and received blocks against BlockSize and their piece's bounds,
// the bitfield's length against the piece count with its spare bits zero, and fast or
// extended messages only where both sides negotiated them.
//
// Message order is the session's business, not the Reader's: stock clients send a bitfield
// or have-all again later in a connection (aria2c does), so a later bitfield replaces what a
// peer claims rather than breaking the connection. Request queue limits per peer likewise
// belong to the session that tracks outstanding requests; MaxRequestQueue names the limit
// Docket advertises ("reqq").
package wire

import (
	"fmt"

	"github.com/docket-p2p/docket/core"
)

// Limits on what a peer may send.
const (
	// BlockSize is the largest block a request may ask for and a piece message may carry:
	// 16 KiB, which every BitTorrent client uses and most enforce.
	BlockSize = 16 << 10
	// MaxExtendedPayload bounds an extended (BEP 10) message's payload after its id byte:
	// room for a BEP 9 metadata piece (16 KiB plus its header) and any handshake.
	MaxExtendedPayload = 64 << 10
	// MaxUnknownPayload bounds the payload of a message type this package does not know; such
	// messages are returned for the caller to ignore, as BEP 3 asks.
	MaxUnknownPayload = 64 << 10
	// MaxPieces bounds the piece count of a torrent a connection serves (so a bitfield is at
	// most 32 KiB), the same bound lib/metainfo puts on a blob.
	MaxPieces = 1 << 18
	// MaxRequestQueue is the number of outstanding requests Docket accepts from one peer and
	// advertises as "reqq" in its extended handshake.
	MaxRequestQueue = 512
)

// MessageID is a message's type byte.
type MessageID uint8

// Message types: BEP 3 (0–8), BEP 5's port (9), BEP 6 (13–17) and BEP 10 (20).
const (
	Choke         MessageID = 0
	Unchoke       MessageID = 1
	Interested    MessageID = 2
	NotInterested MessageID = 3
	Have          MessageID = 4
	Bitfield      MessageID = 5
	Request       MessageID = 6
	Piece         MessageID = 7
	Cancel        MessageID = 8
	Port          MessageID = 9
	Suggest       MessageID = 13
	HaveAll       MessageID = 14
	HaveNone      MessageID = 15
	RejectRequest MessageID = 16
	AllowedFast   MessageID = 17
	Extended      MessageID = 20
)

var messageNames = map[MessageID]string{
	Choke: "choke", Unchoke: "unchoke", Interested: "interested", NotInterested: "not interested",
	Have: "have", Bitfield: "bitfield", Request: "request", Piece: "piece", Cancel: "cancel",
	Port: "port", Suggest: "suggest", HaveAll: "have all", HaveNone: "have none",
	RejectRequest: "reject request", AllowedFast: "allowed fast", Extended: "extended",
}

// String returns the message type's name.
func (id MessageID) String() string {
	if n, ok := messageNames[id]; ok {
		return n
	}
	return fmt.Sprintf("unknown(%d)", uint8(id))
}

// isFast reports whether id belongs to the fast extension (BEP 6).
func (id MessageID) isFast() bool { return id >= Suggest && id <= AllowedFast }

// Params describe the torrent a connection carries, for checking messages against it.
type Params struct {
	NumPieces   int
	PieceLength int64
	Length      int64
}

// ParamsFor returns the Params of a blob's metainfo.
func ParamsFor(m *core.MetaInfo) Params {
	return Params{NumPieces: m.NumPieces(), PieceLength: m.PieceLength, Length: m.Length}
}

// Validate checks that the parameters describe a torrent this package can serve.
func (p Params) Validate() error {
	if p.NumPieces <= 0 || p.NumPieces > MaxPieces || p.PieceLength <= 0 || p.Length <= 0 {
		return fmt.Errorf("%w: %d pieces of %d bytes, length %d", ErrInvalidParams, p.NumPieces, p.PieceLength, p.Length)
	}
	if want := (p.Length-1)/p.PieceLength + 1; int64(p.NumPieces) != want {
		return fmt.Errorf("%w: %d pieces for length %d in pieces of %d, want %d",
			ErrInvalidParams, p.NumPieces, p.Length, p.PieceLength, want)
	}
	return nil
}

// PieceSize returns the length of piece i (0 for an index out of range).
func (p Params) PieceSize(i uint32) int64 {
	if int64(i) >= int64(p.NumPieces) {
		return 0
	}
	if int(i) == p.NumPieces-1 {
		return p.Length - int64(i)*p.PieceLength
	}
	return p.PieceLength
}

// BitfieldLen returns the length in bytes of a bitfield for the torrent.
func (p Params) BitfieldLen() int { return (p.NumPieces + 7) / 8 }

// maxMessageLength returns the largest length prefix a peer may send on a connection for
// this torrent: the largest of a piece message with a full block, a bitfield, an extended
// message and an unknown message.
func (p Params) maxMessageLength() uint32 {
	return uint32(max(1+8+BlockSize, 1+p.BitfieldLen(), 1+1+MaxExtendedPayload, 1+MaxUnknownPayload))
}

// Message is one peer wire message. Which fields are meaningful depends on ID:
//
//	Have, Suggest, AllowedFast         Index
//	Request, Cancel, RejectRequest     Index, Begin, Length
//	Piece                              Index, Begin, Payload (the block)
//	Bitfield                           Payload (the bits, most significant bit first)
//	Extended                           ExtendedID, Payload (after the id byte)
//	Port                               Port
//	unknown types                      Payload (the raw payload)
//
// A keep-alive has KeepAlive set and ID zero, which is also Choke's id: test KeepAlive before
// switching on ID. A Message returned by a Reader has its Payload
// alias the Reader's buffer, valid until the next ReadMessage.
type Message struct {
	KeepAlive  bool
	ID         MessageID
	Index      uint32
	Begin      uint32
	Length     uint32
	Port       uint16
	ExtendedID uint8
	Payload    []byte
}

// String renders the message for logs (without payload bytes).
func (m Message) String() string {
	if m.KeepAlive {
		return "keep-alive"
	}
	switch m.ID {
	case Have, Suggest, AllowedFast:
		return fmt.Sprintf("%s(%d)", m.ID, m.Index)
	case Request, Cancel, RejectRequest:
		return fmt.Sprintf("%s(%d, %d, %d)", m.ID, m.Index, m.Begin, m.Length)
	case Piece:
		return fmt.Sprintf("piece(%d, %d, %d bytes)", m.Index, m.Begin, len(m.Payload))
	case Bitfield:
		return fmt.Sprintf("bitfield(%d bytes)", len(m.Payload))
	case Extended:
		return fmt.Sprintf("extended(%d, %d bytes)", m.ExtendedID, len(m.Payload))
	case Port:
		return fmt.Sprintf("port(%d)", m.Port)
	default:
		return m.ID.String()
	}
}
