package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/docket-p2p/docket/core"
)

// protocolString opens every BitTorrent handshake, after its length byte.
const protocolString = "BitTorrent protocol"

// HandshakeLen is the length of a handshake: length byte, protocol string, 8 reserved bytes,
// info-hash, peer id.
const HandshakeLen = 1 + len(protocolString) + 8 + 20 + 20

// Reserved holds the 8 reserved handshake bytes, whose bits announce extensions.
type Reserved [8]byte

// Reserved bits Docket reads and sets.
const (
	extendedByte, extendedBit = 5, 0x10 // BEP 10 extension protocol
	fastByte, fastBit         = 7, 0x04 // BEP 6 fast extension
)

// DefaultReserved announces what Docket supports: the extension protocol and the fast
// extension.
func DefaultReserved() Reserved {
	var r Reserved
	r[extendedByte] |= extendedBit
	r[fastByte] |= fastBit
	return r
}

// Extended reports whether the extension protocol (BEP 10) bit is set.
func (r Reserved) Extended() bool { return r[extendedByte]&extendedBit != 0 }

// Fast reports whether the fast extension (BEP 6) bit is set.
func (r Reserved) Fast() bool { return r[fastByte]&fastBit != 0 }

// Handshake is the first thing each side of a connection sends.
type Handshake struct {
	Reserved Reserved
	InfoHash core.InfoHash
	PeerID   core.PeerID
}

// AppendHandshake appends h's 68-byte encoding to dst.
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, byte(len(protocolString)))
	dst = append(dst, protocolString...)
	dst = append(dst, h.Reserved[:]...)
	dst = append(dst, h.InfoHash[:]...)
	return append(dst, h.PeerID[:]...)
}

// DecodeHandshake parses a 68-byte handshake.
func DecodeHandshake(b []byte) (Handshake, error) {
	if len(b) != HandshakeLen {
		return Handshake{}, fmt.Errorf("%w: %d bytes, want %d", ErrHandshake, len(b), HandshakeLen)
	}
	if b[0] != byte(len(protocolString)) || string(b[1:1+len(protocolString)]) != protocolString {
		return Handshake{}, fmt.Errorf("%w: protocol %q", ErrHandshake, b[:min(len(b), 1+len(protocolString))])
	}
	var h Handshake
	p := b[1+len(protocolString):]
	copy(h.Reserved[:], p[:8])
	copy(h.InfoHash[:], p[8:28])
	copy(h.PeerID[:], p[28:48])
	return h, nil
}

// WriteHandshake writes h to w.
func WriteHandshake(w io.Writer, h Handshake) error {
	var buf [HandshakeLen]byte
	if _, err := w.Write(AppendHandshake(buf[:0], h)); err != nil {
		return fmt.Errorf("wire: writing handshake: %w", err)
	}
	return nil
}

// ReadHandshake reads one handshake from r.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var buf [HandshakeLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Handshake{}, fmt.Errorf("%w: truncated: %v", ErrHandshake, err)
		}
		return Handshake{}, fmt.Errorf("wire: reading handshake: %w", err)
	}
	return DecodeHandshake(buf[:])
}

// BindContext makes blocking reads and writes on nc fail once ctx ends, by its deadline or
// cancellation (nc's deadline is then moved into the past, after ctx.Err is set, so callers
// can report ctx's error rather than an I/O timeout). Call the returned stop when the guarded
// I/O is done: it detaches ctx and reports false if ctx had already ended (nc's deadline is
// then left in the past and nc should be closed).
func BindContext(ctx context.Context, nc net.Conn) (stop func() bool) {
	stopAfter := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	return func() bool {
		return stopAfter()
	}
}

// ctxErr prefers ctx's error over the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// Conn is an established peer connection: both handshakes done, with a Reader and a Writer
// set up for the torrent and the extensions both sides announced.
type Conn struct {
	net.Conn
	Local  Handshake
	Remote Handshake
	// Fast and ExtensionProtocol are true when both sides set the BEP 6 and BEP 10 bits.
	Fast              bool
	ExtensionProtocol bool
	R                 *Reader
	W                 *Writer
}

func newConn(nc net.Conn, local, remote Handshake, p Params) *Conn {
	c := &Conn{
		Conn:              nc,
		Local:             local,
		Remote:            remote,
		Fast:              local.Reserved.Fast() && remote.Reserved.Fast(),
		ExtensionProtocol: local.Reserved.Extended() && remote.Reserved.Extended(),
	}
	c.R = NewReader(nc, p, ReaderOptions{Fast: c.Fast, ExtensionProtocol: c.ExtensionProtocol})
	c.W = NewWriter(nc)
	return c
}

// Initiate performs the dialling side's handshake on nc: it sends local, reads the peer's
// handshake and checks that it names the same torrent and is not ourselves. ctx bounds the
// exchange. On error the caller closes nc.
func Initiate(ctx context.Context, nc net.Conn, local Handshake, p Params) (*Conn, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	stop := BindContext(ctx, nc)
	defer stop()
	if err := WriteHandshake(nc, local); err != nil {
		return nil, ctxErr(ctx, err)
	}
	remote, err := ReadHandshake(nc)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if remote.InfoHash != local.InfoHash {
		return nil, fmt.Errorf("%w: sent %s, peer answered %s", ErrInfoHashMismatch, local.InfoHash, remote.InfoHash)
	}
	if remote.PeerID == local.PeerID {
		return nil, ErrSelfConnection
	}
	if !stop() {
		return nil, ctx.Err()
	}
	return newConn(nc, local, remote, p), nil
}

// Lookup resolves the info-hash an incoming peer asks for to the torrent's parameters, or
// returns an error (wrapping ErrUnknownTorrent when the torrent is not served here).
type Lookup func(core.InfoHash) (Params, error)

// Respond performs the accepting side's handshake on nc: it reads the peer's handshake,
// resolves its info-hash with lookup, and answers with reserved and peerID. ctx bounds the
// exchange. On error the caller closes nc.
func Respond(ctx context.Context, nc net.Conn, reserved Reserved, peerID core.PeerID, lookup Lookup) (*Conn, error) {
	stop := BindContext(ctx, nc)
	defer stop()
	remote, err := ReadHandshake(nc)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if remote.PeerID == peerID {
		return nil, ErrSelfConnection
	}
	p, err := lookup(remote.InfoHash)
	if err != nil {
		return nil, fmt.Errorf("torrent %s: %w", remote.InfoHash, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("torrent %s: %w", remote.InfoHash, err)
	}
	local := Handshake{Reserved: reserved, InfoHash: remote.InfoHash, PeerID: peerID}
	if err := WriteHandshake(nc, local); err != nil {
		return nil, ctxErr(ctx, err)
	}
	if !stop() {
		return nil, ctx.Err()
	}
	return newConn(nc, local, remote, p), nil
}
