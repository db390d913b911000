package tracker

import "errors"

// Errors of the tracker, returned wrapped.
var (
	// ErrBadAnnounce: an announce the tracker cannot accept.
	ErrBadAnnounce = errors.New("bad announce")
	// ErrMetaInfoMismatch: an origin answered with the metainfo of another blob.
	ErrMetaInfoMismatch = errors.New("origin sent metainfo of another blob")
)
