package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/docket-p2p/docket/core"
)

func writeJSON(w http.ResponseWriter, r *http.Request, contentType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
	return nil
}

// page fetches up to n+1 entries to learn whether a next page exists, and sets the Link
// header pointing at it.
func page(w http.ResponseWriter, path string, n int, list func(n int) ([]string, error)) ([]string, error) {
	if n == 0 {
		return []string{}, nil
	}
	items, err := list(n + 1)
	if err != nil {
		return nil, err
	}
	if len(items) > n {
		items = items[:n]
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {items[n-1]}}
		w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
	}
	if items == nil {
		items = []string{}
	}
	return items, nil
}

func (h *Handler) tags(w http.ResponseWriter, r *http.Request, name string) error {
	last, n, err := parsePage(r.URL.Query())
	if err != nil {
		return err
	}
	tags, err := page(w, "/v2/"+name+"/tags/list", n, func(n int) ([]string, error) {
		return h.index.ListTags(r.Context(), name, last, n)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, r, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, tags})
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) error {
	last, n, err := parsePage(r.URL.Query())
	if err != nil {
		return err
	}
	repos, err := page(w, "/v2/_catalog", n, func(n int) ([]string, error) {
		return h.index.Repositories(r.Context(), last, n)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, r, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{repos})
}

func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, name, arg string) error {
	d, err := parseDigest(arg)
	if err != nil {
		return err
	}
	entries, err := h.index.Referrers(r.Context(), name, d)
	if err != nil && !errors.Is(err, ErrNameUnknown) && !errors.Is(err, ErrManifestUnknown) {
		return err
	}
	// An unknown repository or subject has no referrers: the spec answers an empty index.
	filter := r.URL.Query().Get("artifactType")
	out := make([]core.Descriptor, 0, len(entries))
	for _, e := range entries {
		if filter != "" && e.ArtifactType != filter {
			continue
		}
		out = append(out, e.Descriptor)
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(w, r, MediaTypeOCIIndex, struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     []core.Descriptor `json:"manifests"`
	}{2, MediaTypeOCIIndex, out})
}
