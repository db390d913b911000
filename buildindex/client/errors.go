package client

import "errors"

// Errors of the client itself; the API's not-found and unavailable answers come back as
// lib/registry's sentinels (ErrManifestUnknown, ErrNameUnknown, ErrBlobUnknown,
// ErrDigestInvalid, ErrUnavailable), wrapped, so the registry handler maps them directly.
var (
	// ErrBadRequest: the build-index rejected a name, tag, entry or page size.
	ErrBadRequest = errors.New("build-index: bad request")
	// ErrUnexpectedResponse: the build-index answered something this client does not understand.
	ErrUnexpectedResponse = errors.New("build-index: unexpected response")
)
