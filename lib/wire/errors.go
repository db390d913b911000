package wire

import "errors"

// Sentinel errors, returned wrapped; test with errors.Is. Any of them from a Reader means the
// peer broke the protocol and the connection should be closed.
var (
	// ErrHandshake is returned for a handshake that is not BitTorrent's: wrong protocol
	// string or truncated.
	ErrHandshake = errors.New("wire: bad handshake")
	// ErrInfoHashMismatch is returned when the peer answers a handshake for another torrent.
	ErrInfoHashMismatch = errors.New("wire: info hash mismatch")
	// ErrUnknownTorrent is returned by Respond when the peer asks for a torrent the lookup
	// does not know.
	ErrUnknownTorrent = errors.New("wire: unknown torrent")
	// ErrSelfConnection is returned when the peer's id is our own.
	ErrSelfConnection = errors.New("wire: connected to self")
	// ErrMessageTooLarge is returned for a length prefix above the connection's limit, before
	// any of the body is read.
	ErrMessageTooLarge = errors.New("wire: message too large")
	// ErrMalformed is returned for a message whose payload has the wrong size for its type,
	// or a bitfield with spare bits set.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrOutOfRange is returned for a piece index at or past the piece count, or a block that
	// does not lie within its piece.
	ErrOutOfRange = errors.New("wire: index or range out of bounds")
	// ErrBlockTooLarge is returned for a request, cancel or reject of more than BlockSize
	// bytes, or a piece message carrying more; and by the writer for such a request.
	ErrBlockTooLarge = errors.New("wire: block too large")
	// ErrNotNegotiated is returned for a fast-extension (BEP 6) or extended (BEP 10) message
	// on a connection where both sides did not announce that extension.
	ErrNotNegotiated = errors.New("wire: extension not negotiated")
	// ErrInvalidParams is returned for torrent parameters that cannot describe a torrent.
	ErrInvalidParams = errors.New("wire: invalid torrent parameters")
	// ErrExtendedHandshake is returned for a BEP 10 extended handshake that does not decode.
	ErrExtendedHandshake = errors.New("wire: bad extended handshake")
)
