package registry

import "errors"

// Sentinel errors the storage interfaces return (wrapped); the handler maps each to the
// distribution spec's error code in one table (errcode.go).
var (
	ErrBlobUnknown     = errors.New("blob unknown")
	ErrUploadUnknown   = errors.New("upload unknown")
	ErrRangeInvalid    = errors.New("range invalid")
	ErrDigestInvalid   = errors.New("digest invalid")
	ErrSizeInvalid     = errors.New("size invalid")
	ErrManifestUnknown = errors.New("manifest unknown")
	ErrNameUnknown     = errors.New("repository name unknown")
	ErrUnsupported     = errors.New("operation unsupported")
	ErrDenied          = errors.New("denied")
	ErrUnauthorized    = errors.New("authentication required")
	ErrTooManyRequests = errors.New("too many requests")
	ErrUnavailable     = errors.New("storage unavailable")
)
