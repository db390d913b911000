package registry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/docket-p2p/docket/core"
)

func parseDigest(s string) (core.Digest, error) {
	d, err := core.ParseDigest(s)
	if err != nil {
		return core.Digest{}, errorf(CodeDigestInvalid, "invalid digest %q: %v", s, err)
	}
	return d, nil
}

// getBlob serves GET and HEAD of a blob, with Range support through http.ServeContent.
func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request, name, arg string) error {
	d, err := parseDigest(arg)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		size, err := h.blobs.Stat(r.Context(), name, d)
		if err != nil {
			return err
		}
		hd := w.Header()
		hd.Set("Content-Length", strconv.FormatInt(size, 10))
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Docker-Content-Digest", d.String())
		hd.Set("Accept-Ranges", "bytes")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	f, err := h.blobs.Open(r.Context(), name, d)
	if err != nil {
		return err
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("ETag", `"`+d.String()+`"`)
	hd.Set("Cache-Control", "max-age=31536000")
	h.metrics.blobsPulled.Inc(1)
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

func (h *Handler) deleteBlob(w http.ResponseWriter, r *http.Request, name, arg string) error {
	if h.deleter == nil {
		return errorf(CodeUnsupported, "blob deletion is not supported here")
	}
	d, err := parseDigest(arg)
	if err != nil {
		return err
	}
	if err := h.deleter.DeleteBlob(r.Context(), name, d); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
