package client

import "errors"

// Error codes in the origin API's JSON error body, {"error": "...", "code": "..."}. The server
// and this client share this one table.
const (
	CodeBlobNotFound   = "BLOB_NOT_FOUND"
	CodeUploadNotFound = "UPLOAD_NOT_FOUND"
	CodeOffsetMismatch = "OFFSET_MISMATCH"
	CodeDigestMismatch = "DIGEST_MISMATCH"
	CodeNoMetaInfo     = "NO_METAINFO"
	CodeBadRequest     = "BAD_REQUEST"
	CodeUnavailable    = "UNAVAILABLE"
	CodeInternal       = "INTERNAL"
)

var codeErrors = map[string]error{
	CodeBlobNotFound:   ErrBlobNotFound,
	CodeUploadNotFound: ErrUploadNotFound,
	CodeOffsetMismatch: ErrOffsetMismatch,
	CodeDigestMismatch: ErrDigestMismatch,
	CodeNoMetaInfo:     ErrNoMetaInfo,
	CodeBadRequest:     ErrBadRequest,
	CodeUnavailable:    ErrUnavailable,
}

// CodeFor returns the code and HTTP status the server answers err with.
func CodeFor(err error) (code string, status int) {
	switch {
	case errors.Is(err, ErrBlobNotFound):
		return CodeBlobNotFound, 404
	case errors.Is(err, ErrUploadNotFound):
		return CodeUploadNotFound, 404
	case errors.Is(err, ErrOffsetMismatch):
		return CodeOffsetMismatch, 416
	case errors.Is(err, ErrDigestMismatch):
		return CodeDigestMismatch, 400
	case errors.Is(err, ErrNoMetaInfo):
		return CodeNoMetaInfo, 409
	case errors.Is(err, ErrBadRequest):
		return CodeBadRequest, 400
	case errors.Is(err, ErrUnavailable):
		return CodeUnavailable, 503
	}
	return CodeInternal, 500
}

// Headers of the origin API.
const (
	// HeaderOffset carries an upload's offset: where a PATCH appends, and the size after it.
	HeaderOffset = "Upload-Offset"
	// HeaderReplica marks an upload from another origin that is replicating a blob: the
	// receiver stores it and fans out no further.
	HeaderReplica = "Docket-Replica"
	// HeaderNoPeers marks a request from another origin: the receiver answers from its own
	// disk and its backend only, never by asking its peers, so origins cannot loop.
	HeaderNoPeers = "Docket-No-Peers"
	// HeaderLocalOnly asks a stat to answer from the origin's own disk only: not its backend,
	// not its peers. Replication uses it to learn whether an owner really holds a blob.
	HeaderLocalOnly = "Docket-Local-Only"
)
