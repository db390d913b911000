package registry

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/docket-p2p/docket/core"
)

func parseDigest(s string) (core.Digest, error) {
	d, err := core.ParseDigest(s)
	if err != nil {
		return core.Digest{}, errorf(CodeDigestInvalid, "invalid digest %q: %v", s, err)
	}
	return d, nil
}

// blobCacheControl lets caches keep a blob forever: its URL names its content.
const blobCacheControl = "max-age=31536000, immutable"

// getBlob serves GET and HEAD of a blob, with Range support.
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
		hd.Set("ETag", `"`+d.String()+`"`)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	f, err := h.blobs.Open(r.Context(), name, d)
	if err != nil {
		return err
	}
	defer f.Close()
	return h.serveBlob(w, r, d, f)
}

// serveBlob writes blob d from f: whole, one range (206), 416, or 304 for a matching
// If-None-Match. Content is addressed by digest, so the digest is a strong ETag.
func (h *Handler) serveBlob(w http.ResponseWriter, r *http.Request, d core.Digest, f io.ReadSeeker) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	etag := `"` + d.String() + `"`
	hd := w.Header()
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("ETag", etag)
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Cache-Control", blobCacheControl)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	br, kind := byteRange{length: size}, rangeWhole
	if rh := r.Header.Get("Range"); rh != "" {
		if ir := r.Header.Get("If-Range"); ir == "" || ir == etag {
			br, kind = parseRange(rh, size)
		}
	}
	status := http.StatusOK
	switch kind {
	case rangeUnsatisfiable:
		hd.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		return errorf(CodeRangeNotSatisfiable, "range %q is outside the blob's %d bytes", r.Header.Get("Range"), size)
	case rangePartial:
		status = http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", br.start, br.start+br.length-1, size))
	default:
		br = byteRange{length: size}
	}
	if _, err := f.Seek(br.start, io.SeekStart); err != nil {
		return err
	}
	if l, ok := f.(ReadLimiter); ok {
		l.LimitRead(br.length)
	}
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", strconv.FormatInt(br.length, 10))
	w.WriteHeader(status)
	h.metrics.blobsPulled.Inc(1)
	// A body that writes its range itself (RangeWriter) does; otherwise a *os.File behind f
	// goes out with sendfile: io.CopyN hands the ResponseWriter an *io.LimitedReader, which
	// net/http unwraps.
	var n int64
	if rw, ok := f.(RangeWriter); ok {
		n, err = rw.WriteRange(w, br.length)
	} else {
		n, err = io.CopyN(w, f, br.length)
	}
	if err != nil {
		// The status is out; all that is left is to cut the response short and say why.
		h.log.Warn("blob response cut short", "digest", d, "sent", n, "of", br.length, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// etagMatch reports whether an If-None-Match header names etag (or is "*").
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
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
