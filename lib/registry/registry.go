// Package registry serves the OCI distribution API (Docker Registry HTTP API V2) over small
// storage interfaces (interfaces.go). The proxy wires it read-write to the origin ring and the
// build-index; the agent wires it read-only to its verified cache.
//
// Routes (repository names contain slashes, so the path is parsed from the right):
//
//	GET  /v2/                                   ping (Docker-Distribution-API-Version)
//	GET  /v2/_catalog?n=&last=                  repositories, paginated with a Link header
//	GET  /v2/<name>/tags/list?n=&last=          tags, paginated with a Link header
//	HEAD|GET|DELETE /v2/<name>/blobs/<digest>   blobs, one byte range per request
//	POST /v2/<name>/blobs/uploads/              start; ?digest= monolithic; ?mount=&from= mount
//	GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<id>  status, chunk, complete, cancel
//	HEAD|GET|PUT|DELETE /v2/<name>/manifests/<tag|digest>  manifests (PUT takes ?tag=)
//	GET  /v2/<name>/referrers/<digest>?artifactType=     the referrers index
//
// Errors go out in the spec's JSON envelope with the codes of errcode.go. Manifests are
// validated before they are stored (errors in the manifest, references the repository does
// not hold, digests that do not match) and are served only if their bytes still match their
// digest. A Handler with ReadOnly set, or whose storage lacks a write interface, answers the
// write routes 405 UNSUPPORTED.
package registry

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/uber-go/tally/v4"
)

// Options wires a Handler to its storage.
type Options struct {
	// Blobs serves blob content; BlobUploader, BlobPutter, BlobDeleter and BlobMounter are
	// found on it by type assertion.
	Blobs Blobs
	// Index resolves tags and manifest records; IndexWriter is found on it by type assertion.
	Index Index
	// ReadOnly refuses every write (405 UNSUPPORTED) even when the storage could take it.
	ReadOnly bool
	// Log receives errors (default: discarded).
	Log *slog.Logger
	// Scope receives the API's counters (default: none): blobs_pulled, blobs_pushed,
	// manifests_pulled, manifests_pushed and upload_bytes. Request counts, errors, latency
	// and bytes per route come from the router (lib/httpserver).
	Scope tally.Scope
}

// Handler is the distribution API. Mount it so that it sees the full "/v2/..." path.
type Handler struct {
	blobs    Blobs
	uploader BlobUploader
	putter   BlobPutter
	deleter  BlobDeleter
	mounter  BlobMounter
	index    Index
	writer   IndexWriter
	log      *slog.Logger
	metrics  apiMetrics
}

type apiMetrics struct {
	blobsPulled, blobsPushed, manifestsPulled, manifestsPushed, uploadBytes tally.Counter
}

// New returns a Handler over o's storage.
func New(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Scope == nil {
		o.Scope = tally.NoopScope
	}
	h := &Handler{blobs: o.Blobs, index: o.Index, log: o.Log, metrics: apiMetrics{
		blobsPulled:     o.Scope.Counter("blobs_pulled"),
		blobsPushed:     o.Scope.Counter("blobs_pushed"),
		manifestsPulled: o.Scope.Counter("manifests_pulled"),
		manifestsPushed: o.Scope.Counter("manifests_pushed"),
		uploadBytes:     o.Scope.Counter("upload_bytes"),
	}}
	if !o.ReadOnly {
		h.uploader, _ = o.Blobs.(BlobUploader)
		h.putter, _ = o.Blobs.(BlobPutter)
		h.deleter, _ = o.Blobs.(BlobDeleter)
		h.mounter, _ = o.Blobs.(BlobMounter)
		h.writer, _ = o.Index.(IndexWriter)
	}
	return h
}

// route is one request's parsed path.
type route struct {
	name string // repository
	kind string // "ping", "catalog", "tags", "blob", "upload", "manifest", "referrers"
	arg  string // digest, reference or upload id
}

// parseRoute splits a /v2/ path. Repository names contain slashes, so the route is found from
// the right: the last "/blobs/uploads/", "/blobs/", "/manifests/", "/referrers/" or
// "/tags/list".
func parseRoute(path string) (route, bool) {
	if path == "/v2" || path == "/v2/" {
		return route{kind: "ping"}, true
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{}, false
	}
	if rest == "_catalog" {
		return route{kind: "catalog"}, true
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return route{name: name, kind: "tags"}, true
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads"); ok {
		return route{name: name, kind: "upload"}, true
	}
	if i := strings.LastIndex(rest, "/blobs/uploads/"); i >= 0 {
		arg := rest[i+len("/blobs/uploads/"):]
		if strings.Contains(arg, "/") {
			return route{}, false
		}
		return route{name: rest[:i], kind: "upload", arg: arg}, true
	}
	best, kind, sep := -1, "", ""
	for _, k := range []struct{ kind, sep string }{{"blob", "/blobs/"}, {"manifest", "/manifests/"}, {"referrers", "/referrers/"}} {
		if i := strings.LastIndex(rest, k.sep); i > best {
			best, kind, sep = i, k.kind, k.sep
		}
	}
	if best < 0 {
		return route{}, false
	}
	arg := rest[best+len(sep):]
	if arg == "" || strings.Contains(arg, "/") {
		return route{}, false
	}
	return route{name: rest[:best], kind: kind, arg: arg}, true
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		writeError(w, r, errorf(CodeNameUnknown, "no such route: %s", r.URL.Path))
		return
	}
	if rt.kind != "ping" && rt.kind != "catalog" && !ValidName(rt.name) {
		writeError(w, r, errorf(CodeNameInvalid, "invalid repository name %q", rt.name))
		return
	}
	if err := h.dispatch(w, r, rt); err != nil {
		e := writeError(w, r, err)
		if e.Code.Status >= 500 {
			h.log.Error("registry request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
}

func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, rt route) error {
	m := r.Method
	switch rt.kind {
	case "ping":
		if m == http.MethodGet || m == http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "2")
			w.WriteHeader(http.StatusOK)
			if m == http.MethodGet {
				_, _ = w.Write([]byte("{}"))
			}
			return nil
		}
	case "catalog":
		if m == http.MethodGet {
			return h.catalog(w, r)
		}
	case "tags":
		if m == http.MethodGet {
			return h.tags(w, r, rt.name)
		}
	case "referrers":
		if m == http.MethodGet {
			return h.referrers(w, r, rt.name, rt.arg)
		}
	case "blob":
		switch m {
		case http.MethodGet, http.MethodHead:
			return h.getBlob(w, r, rt.name, rt.arg)
		case http.MethodDelete:
			return h.deleteBlob(w, r, rt.name, rt.arg)
		}
	case "upload":
		return h.upload(w, r, rt)
	case "manifest":
		switch m {
		case http.MethodGet, http.MethodHead:
			return h.getManifest(w, r, rt.name, rt.arg)
		case http.MethodPut:
			return h.putManifest(w, r, rt.name, rt.arg)
		case http.MethodDelete:
			return h.deleteManifest(w, r, rt.name, rt.arg)
		}
	}
	return errorf(CodeUnsupported, "%s is not supported on %s", m, r.URL.Path)
}
