package piecepicker

import "errors"

var (
	// ErrPieceRange is returned when a piece index is outside [0, NumPieces).
	ErrPieceRange = errors.New("piecepicker: piece index out of range")
	// ErrBitsLength is returned when a peer's piece set has the wrong length.
	ErrBitsLength = errors.New("piecepicker: piece set length does not match torrent")
)
