package buildindex

import "errors"

// Errors of the build-index, returned wrapped; the HTTP API maps each to one error code.
var (
	ErrNameInvalid  = errors.New("invalid repository name")
	ErrTagInvalid   = errors.New("invalid tag")
	ErrEntryInvalid = errors.New("invalid manifest entry")
	// ErrPaginationInvalid: n is not a number from 0 to the page limit.
	ErrPaginationInvalid = errors.New("invalid pagination")
	// ErrObjectTooLarge: a backend object is larger than anything this package writes.
	ErrObjectTooLarge  = errors.New("backend object too large")
	ErrNameUnknown     = errors.New("repository unknown")
	ErrTagUnknown      = errors.New("tag unknown")
	ErrManifestUnknown = errors.New("manifest unknown")
	ErrBlobUnknown     = errors.New("blob unknown")
	// ErrBackend: the backend failed; the change was not made (or only partly, see the
	// method's documentation) and may be retried.
	ErrBackend = errors.New("backend failure")
)
