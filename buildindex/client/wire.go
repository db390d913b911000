package client

import "github.com/docket-p2p/docket/core"

// The build-index's HTTP API, version 1. Repository names may contain slashes, so every route
// that names a repository carries it last, as the rest of the path:
//
//	GET    /v1/repositories?last=&n=          {"repositories": [...]}, lexical order
//	GET    /v1/taglist/<repo>?last=&n=        {"tags": [...]}, lexical order
//	GET    /v1/tags/<tag>/<repo>              {"digest": "sha256:..."}
//	DELETE /v1/tags/<tag>/<repo>              204
//	GET    /v1/manifests/<digest>/<repo>      a core.ManifestEntry
//	PUT    /v1/manifests/<digest>/<repo>?tag= body: a core.ManifestEntry; 204
//	DELETE /v1/manifests/<digest>/<repo>      204; the manifest and every tag pointing at it
//	GET    /v1/referrers/<digest>/<repo>      {"manifests": [...]}, entries whose subject is digest
//	HEAD   /v1/blobs/<digest>/<repo>          200 if repo holds the blob
//	PUT    /v1/blobs/<digest>/<repo>          204; links the blob into repo
//	DELETE /v1/blobs/<digest>/<repo>          204; unlinks it
//
// Errors are {"error": {"code": CODE, "message": "..."}} with the codes below.

// APIPrefix is the path every route of the API starts with.
const APIPrefix = "/v1"

// MaxPage is the largest n the server accepts on a list; the client pages past it.
const MaxPage = 1000

// Error codes of the API.
const (
	CodeNameUnknown       = "NAME_UNKNOWN"
	CodeManifestUnknown   = "MANIFEST_UNKNOWN"
	CodeBlobUnknown       = "BLOB_UNKNOWN"
	CodeNameInvalid       = "NAME_INVALID"
	CodeTagInvalid        = "TAG_INVALID"
	CodeDigestInvalid     = "DIGEST_INVALID"
	CodePaginationInvalid = "PAGINATION_INVALID"
	CodeBodyInvalid       = "BODY_INVALID"
	CodeUnavailable       = "UNAVAILABLE"
	CodeInternal          = "INTERNAL"
)

// ErrorBody is the JSON envelope of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is one error: a code from the list above and a human-readable message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RepositoryList is the body of GET /v1/repositories.
type RepositoryList struct {
	Repositories []string `json:"repositories"`
}

// TagList is the body of GET /v1/taglist/<repo>.
type TagList struct {
	Tags []string `json:"tags"`
}

// ManifestList is the body of GET /v1/manifestlist/<repo>: the digests of the manifests the
// repository records, tagged or not, in lexical order.
type ManifestList struct {
	Manifests []string `json:"manifests"`
}

// TagBody is the body of GET /v1/tags/<tag>/<repo>.
type TagBody struct {
	Digest core.Digest `json:"digest"`
}

// ReferrerList is the body of GET /v1/referrers/<digest>/<repo>.
type ReferrerList struct {
	Manifests []core.ManifestEntry `json:"manifests"`
}
