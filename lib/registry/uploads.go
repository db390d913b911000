package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/docket-p2p/docket/core"
)

// requestBody wraps a request body and remembers a failure to read it, so a client that
// hangs up mid-chunk or sends less than its Content-Length gets BLOB_UPLOAD_INVALID rather
// than a storage error.
type requestBody struct {
	r   io.Reader
	err error
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// appendBody appends r's body to upload id at offset. It returns the new size and, on a
// failure, an error that says whose fault it was: the client's body (BLOB_UPLOAD_INVALID),
// the offset (416), or the storage.
func (h *Handler) appendBody(r *http.Request, name, id string, offset int64) (int64, error) {
	body := &requestBody{r: r.Body}
	n, err := h.uploader.AppendUpload(r.Context(), name, id, offset, body)
	if n > offset {
		h.metrics.uploadBytes.Inc(n - offset)
	}
	switch {
	case body.err != nil:
		return n, errorf(CodeBlobUploadInvalid, "reading the request body: %v", body.err)
	case err == nil:
		return n, nil
	case errors.Is(err, ErrRangeInvalid):
		return n, &Error{Code: CodeRangeInvalid, Err: err}
	}
	return n, err
}

func uploadLocation(name, id string) string { return "/v2/" + name + "/blobs/uploads/" + id }

// uploadRange is the Range header of an upload holding size bytes: "0-<last byte>", and "0-0"
// while empty, as distribution answers.
func uploadRange(size int64) string { return fmt.Sprintf("0-%d", max(size-1, 0)) }

func (h *Handler) writeUploadStatus(w http.ResponseWriter, name, id string, size int64, status int) {
	hd := w.Header()
	hd.Set("Location", uploadLocation(name, id))
	hd.Set("Range", uploadRange(size))
	hd.Set("Docker-Upload-UUID", id)
	hd.Set("Content-Length", "0")
	w.WriteHeader(status)
}

func (h *Handler) blobCreated(w http.ResponseWriter, name string, d core.Digest) {
	hd := w.Header()
	hd.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	h.metrics.blobsPushed.Inc(1)
}

// upload serves the upload routes: POST starts (or mounts, or uploads monolithically), PATCH
// appends, PUT completes, GET reports progress, DELETE cancels.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request, rt route) error {
	if h.uploader == nil {
		return errorf(CodeUnsupported, "pushing is not supported here")
	}
	if r.Method == http.MethodPost {
		if rt.arg != "" {
			return errorf(CodeUnsupported, "POST to an upload session")
		}
		return h.startUpload(w, r, rt.name)
	}
	id := rt.arg
	if !uploadIDPattern.MatchString(id) {
		return errorf(CodeBlobUploadUnknown, "invalid upload id %q", id)
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		size, err := h.uploader.UploadSize(ctx, rt.name, id)
		if err != nil {
			return err
		}
		h.writeUploadStatus(w, rt.name, id, size, http.StatusNoContent)
		return nil
	case http.MethodPatch:
		return h.patchUpload(w, r, rt.name, id)
	case http.MethodPut:
		return h.finishUpload(w, r, rt.name, id)
	case http.MethodDelete:
		if err := h.uploader.CancelUpload(ctx, rt.name, id); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return errorf(CodeUnsupported, "%s on an upload", r.Method)
}

func (h *Handler) startUpload(w http.ResponseWriter, r *http.Request, name string) error {
	ctx := r.Context()
	q := r.URL.Query()
	if mount := q.Get("mount"); mount != "" && h.mounter != nil {
		d, err := core.ParseDigest(mount)
		if err == nil {
			from := q.Get("from")
			if from != "" && !ValidName(from) {
				return errorf(CodeNameInvalid, "invalid repository name %q", from)
			}
			err = h.mounter.MountBlob(ctx, from, name, d)
			if err == nil {
				h.blobCreated(w, name, d)
				return nil
			}
			if !errors.Is(err, ErrBlobUnknown) {
				return err
			}
		}
		// The blob cannot be mounted: fall back to a new upload session, as the spec asks.
	}
	var want core.Digest
	if ds := q.Get("digest"); ds != "" {
		d, err := parseDigest(ds)
		if err != nil {
			return err
		}
		want = d
	}
	id, err := h.uploader.StartUpload(ctx, name)
	if err != nil {
		return err
	}
	if want.IsZero() {
		h.writeUploadStatus(w, name, id, 0, http.StatusAccepted)
		return nil
	}
	// Monolithic upload: the body is the whole blob.
	if err := h.completeUpload(r, name, id, 0, want); err != nil {
		return err
	}
	h.blobCreated(w, name, want)
	return nil
}

// parseContentRange reads a chunk's Content-Range, "<start>-<end>" (a "bytes " or "bytes="
// prefix is tolerated).
func parseContentRange(s string) (start, end int64, err error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "bytes="), "bytes ")
	a, b, ok := strings.Cut(s, "-")
	if ok {
		start, err = strconv.ParseInt(a, 10, 64)
		if err == nil {
			end, err = strconv.ParseInt(b, 10, 64)
		}
	}
	if !ok || err != nil || start < 0 || end < start {
		return 0, 0, fmt.Errorf("invalid Content-Range %q", s)
	}
	return start, end, nil
}

func (h *Handler) patchUpload(w http.ResponseWriter, r *http.Request, name, id string) error {
	ctx := r.Context()
	size, err := h.uploader.UploadSize(ctx, name, id)
	if err != nil {
		return err
	}
	offset, chunkLen := size, int64(-1)
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, err := parseContentRange(cr)
		if err != nil {
			return h.rangeInvalid(w, name, id, size, err)
		}
		if start != size {
			return h.rangeInvalid(w, name, id, size, fmt.Errorf("chunk starts at %d, upload holds %d bytes", start, size))
		}
		if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
			return h.rangeInvalid(w, name, id, size, fmt.Errorf("Content-Range %q disagrees with Content-Length %d", cr, r.ContentLength))
		}
		offset, chunkLen = start, end-start+1
	}
	n, err := h.appendBody(r, name, id, offset)
	if err != nil {
		if e := toError(err); e.Code == CodeRangeInvalid {
			return h.rangeInvalid(w, name, id, n, err)
		}
		return err
	}
	if chunkLen >= 0 && n-offset != chunkLen {
		// The body disagreed with its Content-Range: report what the upload really holds.
		return h.rangeInvalid(w, name, id, n, fmt.Errorf("Content-Range announced %d bytes, body had %d", chunkLen, n-offset))
	}
	h.writeUploadStatus(w, name, id, n, http.StatusAccepted)
	return nil
}

// rangeInvalid answers 416 with the upload's real state, so the client can resume.
func (h *Handler) rangeInvalid(w http.ResponseWriter, name, id string, size int64, cause error) error {
	w.Header().Set("Location", uploadLocation(name, id))
	w.Header().Set("Range", uploadRange(size))
	w.Header().Set("Docker-Upload-UUID", id)
	return &Error{Code: CodeRangeInvalid, Err: cause}
}

func (h *Handler) finishUpload(w http.ResponseWriter, r *http.Request, name, id string) error {
	d, err := parseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		return err
	}
	size, err := h.uploader.UploadSize(r.Context(), name, id)
	if err != nil {
		return err
	}
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, _, err := parseContentRange(cr)
		if err != nil {
			return h.rangeInvalid(w, name, id, size, err)
		}
		if start != size {
			return h.rangeInvalid(w, name, id, size, fmt.Errorf("final chunk starts at %d, upload holds %d bytes", start, size))
		}
	}
	if err := h.completeUpload(r, name, id, size, d); err != nil {
		return err
	}
	h.blobCreated(w, name, d)
	return nil
}

// cleanupTimeout bounds the cancellation of a failed upload, which runs even when the client
// has gone (its request context is then done).
const cleanupTimeout = 30 * time.Second

// discardUpload cancels upload id after a failed completion so no partial blob lingers.
func (h *Handler) discardUpload(r *http.Request, name, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), cleanupTimeout)
	defer cancel()
	if err := h.uploader.CancelUpload(ctx, name, id); err != nil && !errors.Is(err, ErrUploadUnknown) {
		h.log.Warn("discarding a failed upload", "repo", name, "upload", id, "err", err)
	}
}

// completeUpload appends the request body (if any) at offset and commits the upload as d.
// A failure discards the upload: a truncated or mismatched blob never lingers.
func (h *Handler) completeUpload(r *http.Request, name, id string, offset int64, d core.Digest) error {
	ctx := r.Context()
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		n, err := h.appendBody(r, name, id, offset)
		if err != nil {
			h.discardUpload(r, name, id)
			return err
		}
		if r.ContentLength > 0 && n-offset != r.ContentLength {
			h.discardUpload(r, name, id)
			return errorf(CodeSizeInvalid, "got %d bytes, Content-Length said %d", n-offset, r.ContentLength)
		}
	}
	if err := h.uploader.CommitUpload(ctx, name, id, d); err != nil {
		if errors.Is(err, ErrDigestInvalid) {
			return &Error{Code: CodeDigestInvalid, Err: err}
		}
		return err
	}
	return nil
}
