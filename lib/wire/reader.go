package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readBufferSize is the Reader's bufio size: eight full piece messages, so that one read(2)
// takes in what has queued up while a busy host got to the connection (at two, 14 % more
// reads at N=40 in the swarm benchmark).
const readBufferSize = 8 * (BlockSize + 13)

// ReaderOptions say which extensions the connection negotiated; messages of an extension not
// negotiated are rejected (ErrNotNegotiated).
type ReaderOptions struct {
	Fast              bool
	ExtensionProtocol bool
}

// Reader reads and checks messages from one peer. It reuses one buffer for every message body,
// so a Message's Payload is valid only until the next ReadMessage. It is not safe for
// concurrent use.
type Reader struct {
	br     *bufio.Reader
	p      Params
	opt    ReaderOptions
	maxLen uint32
	buf    []byte
	hdr    [4]byte // in the struct so reading a length prefix does not allocate
}

// NewReader returns a Reader of messages for the torrent p from r. p must be valid (see
// Params.Validate); Initiate and Respond check it.
func NewReader(r io.Reader, p Params, opt ReaderOptions) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize), p: p, opt: opt, maxLen: p.maxMessageLength()}
}

// ReadMessage reads the next message. Errors other than I/O errors wrap this package's
// sentinels; after any error the connection should be closed.
func (r *Reader) ReadMessage() (Message, error) {
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return Message{}, err
	}
	n := binary.BigEndian.Uint32(r.hdr[:])
	if n == 0 {
		return Message{KeepAlive: true}, nil
	}
	if n > r.maxLen {
		return Message{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, n, r.maxLen)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	body := r.buf[:n]
	if _, err := io.ReadFull(r.br, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, err
	}
	m, err := decodeBody(body, r.p)
	if err != nil {
		return Message{}, err
	}
	if err := r.checkState(m); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (r *Reader) checkState(m Message) error {
	switch {
	case m.ID.isFast() && !r.opt.Fast:
		return fmt.Errorf("%w: %s without the fast extension", ErrNotNegotiated, m.ID)
	case m.ID == Extended && !r.opt.ExtensionProtocol:
		return fmt.Errorf("%w: extended message without the extension protocol", ErrNotNegotiated)
	}
	return nil
}

// DecodeMessage decodes one message body (the bytes after the length prefix) for torrent p,
// with the same checks as Reader except those that depend on negotiated extensions. Payload aliases body.
func DecodeMessage(body []byte, p Params) (Message, error) {
	if len(body) == 0 {
		return Message{KeepAlive: true}, nil
	}
	if uint32(len(body)) > p.maxMessageLength() {
		return Message{}, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(body))
	}
	return decodeBody(body, p)
}

// payloadLen is the exact payload length of each fixed-size message type.
var payloadLen = map[MessageID]int{
	Choke: 0, Unchoke: 0, Interested: 0, NotInterested: 0, HaveAll: 0, HaveNone: 0,
	Have: 4, Suggest: 4, AllowedFast: 4, Port: 2,
	Request: 12, Cancel: 12, RejectRequest: 12,
}

func decodeBody(body []byte, p Params) (Message, error) {
	m := Message{ID: MessageID(body[0])}
	pl := body[1:]
	if want, fixed := payloadLen[m.ID]; fixed && len(pl) != want {
		return Message{}, fmt.Errorf("%w: %s with %d payload bytes, want %d", ErrMalformed, m.ID, len(pl), want)
	}
	switch m.ID {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
	case Have, Suggest, AllowedFast:
		m.Index = binary.BigEndian.Uint32(pl)
		if int64(m.Index) >= int64(p.NumPieces) {
			return Message{}, fmt.Errorf("%w: %s(%d) of %d pieces", ErrOutOfRange, m.ID, m.Index, p.NumPieces)
		}
	case Port:
		m.Port = binary.BigEndian.Uint16(pl)
	case Request, Cancel, RejectRequest:
		m.Index = binary.BigEndian.Uint32(pl)
		m.Begin = binary.BigEndian.Uint32(pl[4:])
		m.Length = binary.BigEndian.Uint32(pl[8:])
		if m.Length > BlockSize {
			return Message{}, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrBlockTooLarge, m.ID, m.Length, BlockSize)
		}
		if err := checkBlock(p, m.ID, m.Index, m.Begin, m.Length); err != nil {
			return Message{}, err
		}
	case Piece:
		if len(pl) < 8 {
			return Message{}, fmt.Errorf("%w: piece with %d payload bytes", ErrMalformed, len(pl))
		}
		m.Index = binary.BigEndian.Uint32(pl)
		m.Begin = binary.BigEndian.Uint32(pl[4:])
		m.Payload = pl[8:]
		if len(m.Payload) > BlockSize {
			return Message{}, fmt.Errorf("%w: piece block of %d bytes, limit %d", ErrBlockTooLarge, len(m.Payload), BlockSize)
		}
		if err := checkBlock(p, m.ID, m.Index, m.Begin, uint32(len(m.Payload))); err != nil {
			return Message{}, err
		}
	case Bitfield:
		if err := checkBitfield(pl, p.NumPieces); err != nil {
			return Message{}, err
		}
		m.Payload = pl
	case Extended:
		if len(pl) < 1 {
			return Message{}, fmt.Errorf("%w: extended message without id", ErrMalformed)
		}
		if len(pl)-1 > MaxExtendedPayload {
			return Message{}, fmt.Errorf("%w: extended payload of %d bytes", ErrMessageTooLarge, len(pl)-1)
		}
		m.ExtendedID = pl[0]
		m.Payload = pl[1:]
	default:
		if len(pl) > MaxUnknownPayload {
			return Message{}, fmt.Errorf("%w: %s with %d payload bytes", ErrMessageTooLarge, m.ID, len(pl))
		}
		m.Payload = pl
	}
	return m, nil
}

// checkBlock checks that a non-empty block [begin, begin+length) lies within piece index.
func checkBlock(p Params, id MessageID, index, begin, length uint32) error {
	size := p.PieceSize(index)
	if size == 0 {
		return fmt.Errorf("%w: %s for piece %d of %d", ErrOutOfRange, id, index, p.NumPieces)
	}
	if length == 0 {
		return fmt.Errorf("%w: %s of an empty block", ErrMalformed, id)
	}
	if int64(begin)+int64(length) > size {
		return fmt.Errorf("%w: %s of [%d, %d) in piece %d of %d bytes",
			ErrOutOfRange, id, begin, int64(begin)+int64(length), index, size)
	}
	return nil
}

// checkBitfield checks a bitfield's length against the piece count and that its spare bits
// (past the last piece) are zero.
func checkBitfield(b []byte, numPieces int) error {
	if want := (numPieces + 7) / 8; len(b) != want {
		return fmt.Errorf("%w: bitfield of %d bytes for %d pieces, want %d", ErrMalformed, len(b), numPieces, want)
	}
	if spare := len(b)*8 - numPieces; spare > 0 && b[len(b)-1]&(1<<spare-1) != 0 {
		return fmt.Errorf("%w: bitfield has spare bits set", ErrMalformed)
	}
	return nil
}
