package buildindex

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/core"
)

// maxEntryBytes caps a manifest record's JSON (a descriptor whose annotations come from a
// manifest of at most 4 MiB).
const maxEntryBytes = 4 << 20

// api serves the build-index's HTTP API (described in buildindex/client/wire.go) over an
// Index.
type api struct {
	index *Index
	log   *slog.Logger
}

// mount adds the API's routes to r.
func (a *api) mount(r chi.Router) {
	r.Route(client.APIPrefix, func(r chi.Router) {
		r.Get("/repositories", a.handle(a.repositories))
		r.Get("/taglist/*", a.handle(a.listTags))
		r.Get("/manifestlist/*", a.handle(a.listManifests))
		r.Get("/tags/{tag}/*", a.handle(a.getTag))
		r.Delete("/tags/{tag}/*", a.handle(a.deleteTag))
		r.Get("/manifests/{digest}/*", a.handle(a.getManifest))
		r.Put("/manifests/{digest}/*", a.handle(a.putManifest))
		r.Delete("/manifests/{digest}/*", a.handle(a.deleteManifest))
		r.Get("/referrers/{digest}/*", a.handle(a.referrers))
		r.Head("/blobs/{digest}/*", a.handle(a.hasBlob))
		r.Put("/blobs/{digest}/*", a.handle(a.linkBlob))
		r.Delete("/blobs/{digest}/*", a.handle(a.unlinkBlob))
	})
}

// handle turns a handler that returns an error into an http.HandlerFunc that writes the
// error's envelope.
func (a *api) handle(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// errorCodes maps the package's sentinels to the API's codes and statuses, in match order.
var errorCodes = []struct {
	err    error
	code   string
	status int
}{
	{ErrNameInvalid, client.CodeNameInvalid, http.StatusBadRequest},
	{ErrTagInvalid, client.CodeTagInvalid, http.StatusBadRequest},
	{core.ErrInvalidDigest, client.CodeDigestInvalid, http.StatusBadRequest},
	{core.ErrUnsupportedAlgorithm, client.CodeDigestInvalid, http.StatusBadRequest},
	{ErrPaginationInvalid, client.CodePaginationInvalid, http.StatusBadRequest},
	{ErrEntryInvalid, client.CodeBodyInvalid, http.StatusBadRequest},
	{ErrNameUnknown, client.CodeNameUnknown, http.StatusNotFound},
	{ErrTagUnknown, client.CodeManifestUnknown, http.StatusNotFound},
	{ErrManifestUnknown, client.CodeManifestUnknown, http.StatusNotFound},
	{ErrBlobUnknown, client.CodeBlobUnknown, http.StatusNotFound},
	{ErrBackend, client.CodeUnavailable, http.StatusServiceUnavailable},
}

func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, status := client.CodeInternal, http.StatusInternalServerError
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			code, status = c.code, c.status
			break
		}
	}
	if r.Context().Err() != nil {
		return // the caller is gone
	}
	if status >= 500 {
		a.log.Error("build-index request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	b, _ := json.Marshal(client.ErrorBody{Error: client.ErrorDetail{Code: code, Message: err.Error()}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
	return nil
}

// repoParam returns the repository named by the route's trailing wildcard, validated.
func repoParam(r *http.Request) (string, error) {
	repo := chi.URLParam(r, "*")
	return repo, CheckRepo(repo)
}

func digestParam(r *http.Request) (core.Digest, error) {
	return core.ParseDigest(chi.URLParam(r, "digest"))
}

// pageParams parses last and n. n defaults to client.MaxPage and may not exceed it.
func pageParams(r *http.Request) (string, int, error) {
	q := r.URL.Query()
	n := client.MaxPage
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > client.MaxPage {
			return "", 0, fmt.Errorf("%w: n=%q: want 0 to %d", ErrPaginationInvalid, s, client.MaxPage)
		}
		n = v
	}
	return q.Get("last"), n, nil
}

func (a *api) repositories(w http.ResponseWriter, r *http.Request) error {
	last, n, err := pageParams(r)
	if err != nil {
		return err
	}
	repos := a.index.Repositories(last, n)
	if repos == nil {
		repos = []string{}
	}
	return writeJSON(w, client.RepositoryList{Repositories: repos})
}

func (a *api) listTags(w http.ResponseWriter, r *http.Request) error {
	return a.listOfRepo(w, r, a.index.ListTags, func(names []string) any { return client.TagList{Tags: names} })
}

func (a *api) listManifests(w http.ResponseWriter, r *http.Request) error {
	return a.listOfRepo(w, r, a.index.ListManifests, func(names []string) any { return client.ManifestList{Manifests: names} })
}

// listOfRepo answers a paged list of one repository's names (tags, manifest digests).
func (a *api) listOfRepo(w http.ResponseWriter, r *http.Request, list func(repo, last string, n int) ([]string, error), body func([]string) any) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	last, n, err := pageParams(r)
	if err != nil {
		return err
	}
	names, err := list(repo, last, n)
	if err != nil {
		return err
	}
	if names == nil {
		names = []string{}
	}
	return writeJSON(w, body(names))
}

func (a *api) getTag(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	tag := chi.URLParam(r, "tag")
	if err := CheckTag(tag); err != nil {
		return err
	}
	d, err := a.index.GetTag(repo, tag)
	if err != nil {
		return err
	}
	return writeJSON(w, client.TagBody{Digest: d})
}

func (a *api) deleteTag(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	if err := a.index.DeleteTag(r.Context(), repo, chi.URLParam(r, "tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) getManifest(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	e, err := a.index.GetManifest(repo, d)
	if err != nil {
		return err
	}
	return writeJSON(w, e)
}

func (a *api) putManifest(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxEntryBytes+1))
	if err != nil {
		return fmt.Errorf("%w: reading body: %v", ErrEntryInvalid, err)
	}
	if len(b) > maxEntryBytes {
		return fmt.Errorf("%w: over %d bytes", ErrEntryInvalid, maxEntryBytes)
	}
	e, err := decodeEntry(b)
	if err != nil {
		return err
	}
	if e.Digest != d {
		return fmt.Errorf("%w: entry of %s put at %s", ErrEntryInvalid, e.Digest, d)
	}
	if err := a.index.PutManifest(r.Context(), repo, e, r.URL.Query().Get("tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) deleteManifest(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	if err := a.index.DeleteManifest(r.Context(), repo, d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) referrers(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	return writeJSON(w, client.ReferrerList{Manifests: a.index.Referrers(repo, d)})
}

func (a *api) hasBlob(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	if err := a.index.HasBlob(repo, d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *api) linkBlob(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	if err := a.index.LinkBlob(r.Context(), repo, d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) unlinkBlob(w http.ResponseWriter, r *http.Request) error {
	repo, err := repoParam(r)
	if err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	if err := a.index.UnlinkBlob(r.Context(), repo, d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
