package superseed

import "errors"

// ErrPieceRange is returned when a piece index is outside [0, NumPieces).
var ErrPieceRange = errors.New("superseed: piece index out of range")
