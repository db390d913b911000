package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// writeBufferSize is the Writer's bufio size: several full piece messages, so a burst of
// blocks or a batch of small messages goes out in one write(2).
const writeBufferSize = 4 * (BlockSize + 13)

// Writer buffers messages to one peer; nothing is sent until Flush (or until the buffer
// fills). Batch the messages of one decision (several requests, a have to many peers) and
// flush once. It is not safe for concurrent use.
type Writer struct {
	bw  *bufio.Writer
	hdr [17]byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, writeBufferSize)}
}

// WriteMessage encodes m into the buffer. It checks what the receiver would reject: requests,
// cancels and rejects of an empty block or one over BlockSize, piece blocks over BlockSize,
// oversized extended or unknown payloads.
func (w *Writer) WriteMessage(m Message) error {
	hdr, err := appendHeader(w.hdr[:0], m)
	if err != nil {
		return err
	}
	if _, err := w.bw.Write(hdr); err != nil {
		return err
	}
	if len(m.Payload) > 0 && carriesPayload(m) {
		if _, err := w.bw.Write(m.Payload); err != nil {
			return err
		}
	}
	return nil
}

// Flush sends everything buffered.
func (w *Writer) Flush() error { return w.bw.Flush() }

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return w.bw.Buffered() }

// Available returns how many more bytes fit in the buffer before a write has to go out.
func (w *Writer) Available() int { return w.bw.Available() }

// AppendMessage appends m's encoding, length prefix included, to dst.
func AppendMessage(dst []byte, m Message) ([]byte, error) {
	out, err := appendHeader(dst, m)
	if err != nil {
		return dst, err
	}
	if carriesPayload(m) {
		out = append(out, m.Payload...)
	}
	return out, nil
}

func carriesPayload(m Message) bool {
	if m.KeepAlive {
		return false
	}
	_, fixed := payloadLen[m.ID]
	return !fixed
}

// appendHeader appends the length prefix and the fixed fields of m (all but a variable
// payload) to dst.
func appendHeader(dst []byte, m Message) ([]byte, error) {
	if m.KeepAlive {
		return binary.BigEndian.AppendUint32(dst, 0), nil
	}
	be := binary.BigEndian
	switch m.ID {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		return append(be.AppendUint32(dst, 1), byte(m.ID)), nil
	case Have, Suggest, AllowedFast:
		dst = append(be.AppendUint32(dst, 5), byte(m.ID))
		return be.AppendUint32(dst, m.Index), nil
	case Port:
		dst = append(be.AppendUint32(dst, 3), byte(m.ID))
		return be.AppendUint16(dst, m.Port), nil
	case Request, Cancel, RejectRequest:
		if m.Length == 0 || m.Length > BlockSize {
			return dst, fmt.Errorf("%w: %s of %d bytes", ErrBlockTooLarge, m.ID, m.Length)
		}
		dst = append(be.AppendUint32(dst, 13), byte(m.ID))
		dst = be.AppendUint32(dst, m.Index)
		dst = be.AppendUint32(dst, m.Begin)
		return be.AppendUint32(dst, m.Length), nil
	case Piece:
		if len(m.Payload) == 0 || len(m.Payload) > BlockSize {
			return dst, fmt.Errorf("%w: piece block of %d bytes", ErrBlockTooLarge, len(m.Payload))
		}
		dst = append(be.AppendUint32(dst, uint32(9+len(m.Payload))), byte(m.ID))
		dst = be.AppendUint32(dst, m.Index)
		return be.AppendUint32(dst, m.Begin), nil
	case Bitfield:
		if len(m.Payload) > (MaxPieces+7)/8 {
			return dst, fmt.Errorf("%w: bitfield of %d bytes", ErrMessageTooLarge, len(m.Payload))
		}
		return append(be.AppendUint32(dst, uint32(1+len(m.Payload))), byte(m.ID)), nil
	case Extended:
		if len(m.Payload) > MaxExtendedPayload {
			return dst, fmt.Errorf("%w: extended payload of %d bytes", ErrMessageTooLarge, len(m.Payload))
		}
		dst = append(be.AppendUint32(dst, uint32(2+len(m.Payload))), byte(m.ID))
		return append(dst, m.ExtendedID), nil
	default:
		if len(m.Payload) > MaxUnknownPayload {
			return dst, fmt.Errorf("%w: %s with %d payload bytes", ErrMessageTooLarge, m.ID, len(m.Payload))
		}
		return append(be.AppendUint32(dst, uint32(1+len(m.Payload))), byte(m.ID)), nil
	}
}
