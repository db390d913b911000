package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/docket-p2p/docket/core"
)

func TestErrorTable(t *testing.T) {
	for _, c := range []struct {
		err    error
		code   string
		status int
	}{
		{fmt.Errorf("stat: %w", ErrBlobUnknown), "BLOB_UNKNOWN", 404},
		{fmt.Errorf("patch: %w", ErrUploadUnknown), "BLOB_UPLOAD_UNKNOWN", 404},
		{fmt.Errorf("patch: %w", ErrRangeInvalid), "BLOB_UPLOAD_INVALID", 416},
		{fmt.Errorf("commit: %w", ErrDigestInvalid), "DIGEST_INVALID", 400},
		{fmt.Errorf("put: %w", ErrSizeInvalid), "SIZE_INVALID", 400},
		{fmt.Errorf("tag: %w", ErrManifestUnknown), "MANIFEST_UNKNOWN", 404},
		{fmt.Errorf("tags: %w", ErrNameUnknown), "NAME_UNKNOWN", 404},
		{fmt.Errorf("x: %w", ErrUnsupported), "UNSUPPORTED", 405},
		{fmt.Errorf("x: %w", ErrDenied), "DENIED", 403},
		{fmt.Errorf("x: %w", ErrUnauthorized), "UNAUTHORIZED", 401},
		{fmt.Errorf("x: %w", ErrTooManyRequests), "TOOMANYREQUESTS", 429},
		{fmt.Errorf("origin: %w", ErrUnavailable), "UNAVAILABLE", 503},
		{fmt.Errorf("parse: %w", core.ErrInvalidDigest), "DIGEST_INVALID", 400},
		{errorf(CodePaginationInvalid, "n"), "PAGINATION_NUMBER_INVALID", 400},
		{errors.New("disk on fire"), "UNKNOWN", 500},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest(method, "/v2/", nil), c.err)
			if w.Code != c.status {
				t.Errorf("%v: status %d, want %d", c.err, w.Code, c.status)
			}
			if method == http.MethodHead {
				if w.Body.Len() != 0 {
					t.Errorf("%v: HEAD answer has a body", c.err)
				}
				continue
			}
			var env struct {
				Errors []struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || len(env.Errors) != 1 {
				t.Fatalf("%v: envelope %s: %v", c.err, w.Body.Bytes(), err)
			}
			if env.Errors[0].Code != c.code || env.Errors[0].Message == "" {
				t.Errorf("%v: envelope %+v, want code %s", c.err, env.Errors[0], c.code)
			}
			if w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%v: Content-Type %q", c.err, w.Header().Get("Content-Type"))
			}
		}
	}
}
