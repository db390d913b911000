package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/docket-p2p/docket/core"
)

// Code is an error code of the distribution spec, with the HTTP status it is sent with.
type Code struct {
	Name    string
	Status  int
	Message string
}

// The one table of error codes. Handlers return *Error values built from these (or storage
// sentinels, mapped by toError); one writer turns them into the spec's JSON envelope.
var (
	CodeBlobUnknown         = Code{"BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"}
	CodeBlobUploadInvalid   = Code{"BLOB_UPLOAD_INVALID", http.StatusBadRequest, "blob upload invalid"}
	CodeBlobUploadUnknown   = Code{"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound, "blob upload unknown to registry"}
	CodeDigestInvalid       = Code{"DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content"}
	CodeManifestBlobUnknown = Code{"MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest, "manifest references a manifest or blob unknown to registry"}
	CodeManifestInvalid     = Code{"MANIFEST_INVALID", http.StatusBadRequest, "manifest invalid"}
	CodeManifestTooLarge    = Code{"MANIFEST_INVALID", http.StatusRequestEntityTooLarge, "manifest too large"}
	CodeManifestUnknown     = Code{"MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown to registry"}
	CodeNameInvalid         = Code{"NAME_INVALID", http.StatusBadRequest, "invalid repository name"}
	CodeNameUnknown         = Code{"NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"}
	CodeSizeInvalid         = Code{"SIZE_INVALID", http.StatusBadRequest, "provided length did not match content length"}
	CodeTagInvalid          = Code{"TAG_INVALID", http.StatusBadRequest, "manifest tag did not match URI"}
	CodeUnauthorized        = Code{"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"}
	CodeDenied              = Code{"DENIED", http.StatusForbidden, "requested access to the resource is denied"}
	CodeUnsupported         = Code{"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"}
	CodeTooManyRequests     = Code{"TOOMANYREQUESTS", http.StatusTooManyRequests, "too many requests"}
	CodePaginationInvalid   = Code{"PAGINATION_NUMBER_INVALID", http.StatusBadRequest, "invalid number of results requested"}
	CodeRangeInvalid        = Code{"BLOB_UPLOAD_INVALID", http.StatusRequestedRangeNotSatisfiable, "upload chunk out of order"}
	CodeRangeNotSatisfiable = Code{"RANGE_INVALID", http.StatusRequestedRangeNotSatisfiable, "requested range not satisfiable"}
	CodeUnavailable         = Code{"UNAVAILABLE", http.StatusServiceUnavailable, "service unavailable"}
	CodeUnknown             = Code{"UNKNOWN", http.StatusInternalServerError, "unknown error"}
)

// sentinelCodes maps the storage interfaces' sentinels (errors.go) to codes.
var sentinelCodes = []struct {
	err  error
	code Code
}{
	{ErrBlobUnknown, CodeBlobUnknown},
	{ErrUploadUnknown, CodeBlobUploadUnknown},
	{ErrRangeInvalid, CodeRangeInvalid},
	{ErrDigestInvalid, CodeDigestInvalid},
	{ErrSizeInvalid, CodeSizeInvalid},
	{ErrManifestUnknown, CodeManifestUnknown},
	{ErrNameUnknown, CodeNameUnknown},
	{ErrUnsupported, CodeUnsupported},
	{ErrDenied, CodeDenied},
	{ErrUnauthorized, CodeUnauthorized},
	{ErrTooManyRequests, CodeTooManyRequests},
	{ErrUnavailable, CodeUnavailable},
	{core.ErrInvalidDigest, CodeDigestInvalid},
	{core.ErrUnsupportedAlgorithm, CodeDigestInvalid},
}

// Error is a registry error: a code, a message for people and an optional detail.
type Error struct {
	Code   Code
	Detail any
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code.Name + ": " + e.Err.Error()
	}
	return e.Code.Name + ": " + e.Code.Message
}

func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error of code c whose message is formatted.
func errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Err: fmt.Errorf(format, args...)}
}

// toError maps any error to an *Error: *Error values pass through, storage sentinels become
// their codes, anything else is UNKNOWN (500).
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return &Error{Code: s.code, Err: err}
		}
	}
	return &Error{Code: CodeUnknown, Err: err}
}

// writeError writes err as the spec's envelope: {"errors":[{"code","message","detail"}]}.
func writeError(w http.ResponseWriter, r *http.Request, err error) *Error {
	e := toError(err)
	msg := e.Code.Message
	if e.Err != nil {
		msg = e.Err.Error()
	}
	type item struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Detail  any    `json:"detail,omitempty"`
	}
	body, _ := json.Marshal(struct {
		Errors []item `json:"errors"`
	}{[]item{{Code: e.Code.Name, Message: msg, Detail: e.Detail}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(e.Code.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return e
}
