package bencode

import "errors"

// Sentinel errors. Decoding errors are wrapped with the byte offset at which they were found;
// test for them with errors.Is.
var (
	// ErrSyntax is returned for input that is not bencode at all: an unknown type byte, a
	// missing terminator, a non-digit where a digit is required.
	ErrSyntax = errors.New("bencode: syntax error")
	// ErrNonCanonical is returned for bencode that parses but is not in the one canonical form
	// BEP 3 requires: integers with leading zeros or "-0", string lengths with leading zeros,
	// dictionary keys out of order or repeated.
	ErrNonCanonical = errors.New("bencode: non-canonical encoding")
	// ErrTruncated is returned when the input ends inside a value.
	ErrTruncated = errors.New("bencode: unexpected end of input")
	// ErrTrailingData is returned when bytes follow the top-level value.
	ErrTrailingData = errors.New("bencode: trailing data after value")
	// ErrLimit is returned when the input exceeds one of the decoder's Limits (depth, string
	// length, value count) or an integer overflows int64.
	ErrLimit = errors.New("bencode: limit exceeded")
	// ErrType is returned by Value's accessors when a value has another kind than asked for.
	ErrType = errors.New("bencode: wrong type")
	// ErrMissingKey is returned by Value's dictionary accessors when a key is absent.
	ErrMissingKey = errors.New("bencode: missing key")
	// ErrInvalidValue is returned by the encoder for a Value it cannot encode: an unset Kind,
	// or a dictionary with a repeated key.
	ErrInvalidValue = errors.New("bencode: invalid value")
)
