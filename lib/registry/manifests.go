package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/docket-p2p/docket/core"
)

// resolve turns a reference into the manifest's record in repo.
func (h *Handler) resolve(r *http.Request, name string, ref reference) (core.ManifestEntry, error) {
	d := ref.digest
	if ref.tag != "" {
		var err error
		if d, err = h.index.GetTag(r.Context(), name, ref.tag); err != nil {
			return core.ManifestEntry{}, err
		}
	}
	return h.index.GetManifest(r.Context(), name, d)
}

func (h *Handler) getManifest(w http.ResponseWriter, r *http.Request, name, arg string) error {
	ref, err := parseReference(arg)
	if err != nil {
		return err
	}
	e, err := h.resolve(r, name, ref)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		// HEAD checks that the manifest's bytes are still held without fetching them.
		size, err := h.blobs.Stat(r.Context(), name, e.Digest)
		if err != nil {
			if errors.Is(err, ErrBlobUnknown) {
				return &Error{Code: CodeManifestUnknown, Err: err}
			}
			return err
		}
		if size != e.Size {
			return errorf(CodeUnknown, "stored manifest %s holds %d bytes, its record says %d", e.Digest, size, e.Size)
		}
		writeManifestHeaders(w, e)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	f, err := h.blobs.Open(r.Context(), name, e.Digest)
	if err != nil {
		if errors.Is(err, ErrBlobUnknown) {
			return &Error{Code: CodeManifestUnknown, Err: err}
		}
		return err
	}
	body, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	f.Close()
	if err != nil {
		return err
	}
	// Served bytes are checked against their digest, whatever the storage.
	if got, err := digestOf(e.Digest.Algorithm(), body); err != nil || got != e.Digest || int64(len(body)) != e.Size {
		return errorf(CodeUnknown, "stored manifest %s does not match its digest", e.Digest)
	}
	writeManifestHeaders(w, e)
	w.WriteHeader(http.StatusOK)
	h.metrics.manifestsPulled.Inc(1)
	_, _ = w.Write(body)
	return nil
}

// writeManifestHeaders sets the headers of a manifest response from its record.
func writeManifestHeaders(w http.ResponseWriter, e core.ManifestEntry) {
	hd := w.Header()
	hd.Set("Content-Type", e.MediaType)
	hd.Set("Content-Length", strconv.FormatInt(e.Size, 10))
	hd.Set("Docker-Content-Digest", e.Digest.String())
	hd.Set("ETag", `"`+e.Digest.String()+`"`)
}

func (h *Handler) putManifest(w http.ResponseWriter, r *http.Request, name, arg string) error {
	if h.putter == nil || h.writer == nil {
		return errorf(CodeUnsupported, "pushing is not supported here")
	}
	ref, err := parseReference(arg)
	if err != nil {
		return err
	}
	tags := r.URL.Query()["tag"]
	for _, t := range tags {
		if !ValidTag(t) {
			return errorf(CodeTagInvalid, "invalid tag %q", t)
		}
	}
	if ref.tag != "" {
		tags = append(tags, ref.tag)
	}
	if r.ContentLength > maxManifestSize {
		return errorf(CodeManifestTooLarge, "manifest of %d bytes exceeds %d", r.ContentLength, maxManifestSize)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestSize+1))
	if err != nil {
		return errorf(CodeManifestInvalid, "reading manifest: %v", err)
	}
	if len(body) > maxManifestSize {
		return errorf(CodeManifestTooLarge, "manifest exceeds %d bytes", maxManifestSize)
	}
	alg := core.SHA256
	if !ref.digest.IsZero() {
		alg = ref.digest.Algorithm()
	}
	d, err := digestOf(alg, body)
	if err != nil {
		return errorf(CodeDigestInvalid, "%v", err)
	}
	if !ref.digest.IsZero() && d != ref.digest {
		return errorf(CodeDigestInvalid, "manifest digest is %s, reference says %s", d, ref.digest)
	}
	p, err := parseManifest(body, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if err := h.checkReferences(r.Context(), name, p); err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.putter.PutBlob(ctx, name, d, int64(len(body)), bytes.NewReader(body)); err != nil {
		return err
	}
	p.entry.Digest = d
	p.entry.Size = int64(len(body))
	if len(tags) == 0 {
		tags = []string{""}
	}
	for _, t := range tags {
		if err := h.writer.PutManifest(ctx, name, p.entry, t); err != nil {
			return err
		}
	}
	hd := w.Header()
	hd.Set("Location", "/v2/"+name+"/manifests/"+d.String())
	hd.Set("Docker-Content-Digest", d.String())
	if !p.subject.IsZero() {
		hd.Set("OCI-Subject", p.subject.String())
	}
	for _, t := range tags {
		if t != "" {
			hd.Add("OCI-Tag", t)
		}
	}
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	h.metrics.manifestsPushed.Inc(1)
	return nil
}

func (h *Handler) deleteManifest(w http.ResponseWriter, r *http.Request, name, arg string) error {
	if h.writer == nil {
		return errorf(CodeUnsupported, "deleting is not supported here")
	}
	ref, err := parseReference(arg)
	if err != nil {
		return err
	}
	if ref.tag != "" {
		err = h.writer.DeleteTag(r.Context(), name, ref.tag)
	} else {
		err = h.writer.DeleteManifest(r.Context(), name, ref.digest)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// maxParallelChecks bounds the existence checks one manifest PUT runs at once (a blob Stat
// may be a round trip to an origin; an image can have a hundred layers).
const maxParallelChecks = 8

// checkReferences verifies that everything manifest p references is held by repo: the
// config and layers of an image as blobs, the children of an index as manifests. The first
// missing reference (in manifest order) is reported.
func (h *Handler) checkReferences(ctx context.Context, name string, p *parsedManifest) error {
	type check struct {
		d     core.Digest
		child bool
	}
	checks := make([]check, 0, len(p.blobs)+len(p.children))
	for _, b := range p.blobs {
		checks = append(checks, check{d: b})
	}
	for _, c := range p.children {
		checks = append(checks, check{d: c, child: true})
	}
	errs := make([]error, len(checks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelChecks)
	for i, c := range checks {
		g.Go(func() error {
			var err error
			if c.child {
				_, err = h.index.GetManifest(gctx, name, c.d)
			} else {
				_, err = h.blobs.Stat(gctx, name, c.d)
			}
			switch {
			case err == nil:
				return nil
			case errors.Is(err, ErrBlobUnknown), errors.Is(err, ErrManifestUnknown):
				errs[i] = &Error{Code: CodeManifestBlobUnknown, Err: err, Detail: map[string]string{"digest": c.d.String()}}
				return nil // keep checking: the report names the first missing one
			}
			errs[i] = err
			return err
		})
	}
	_ = g.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
