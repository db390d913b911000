package origin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/store"
	"github.com/docket-p2p/docket/origin/client"
)

// handle adapts a handler that returns an error; the error becomes the API's JSON error body
// with the status from client.CodeFor.
func (s *Server) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		if err == nil {
			return
		}
		err = storeErr(err)
		code, status := client.CodeFor(err)
		if status >= 500 {
			s.log.Error("origin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "code": code})
	}
}

// storeErr maps the store's sentinels to the API's.
func storeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", client.ErrBlobNotFound, err)
	case errors.Is(err, store.ErrUploadNotFound):
		return fmt.Errorf("%w: %w", client.ErrUploadNotFound, err)
	case errors.Is(err, store.ErrOffsetMismatch):
		return fmt.Errorf("%w: %w", client.ErrOffsetMismatch, err)
	case errors.Is(err, store.ErrDigestMismatch), errors.Is(err, store.ErrSizeMismatch):
		return fmt.Errorf("%w: %w", client.ErrDigestMismatch, err)
	case errors.Is(err, store.ErrInvalidUploadID), errors.Is(err, store.ErrUploadExists),
		errors.Is(err, core.ErrInvalidDigest), errors.Is(err, core.ErrUnsupportedAlgorithm):
		return fmt.Errorf("%w: %w", client.ErrBadRequest, err)
	case errors.Is(err, metainfo.ErrEmpty):
		return fmt.Errorf("%w: %w", client.ErrNoMetaInfo, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The request body ended before its Content-Length: the client's fault, not ours.
		return fmt.Errorf("%w: request body truncated: %w", client.ErrBadRequest, err)
	}
	return err
}

func digestParam(r *http.Request) (core.Digest, error) {
	return core.ParseDigest(chi.URLParam(r, "digest"))
}

func (s *Server) statBlob(w http.ResponseWriter, r *http.Request) error {
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	local := r.Header.Get(client.HeaderLocalOnly) != ""
	var n int64
	if local {
		n, err = s.store.Stat(d) // a peer's check (repair, replication) is not a use
	} else {
		// A registry's HEAD is a use: a push that finds the blob here and skips its upload
		// keeps it young to the garbage collector until its manifest refers to it.
		n, err = s.store.Touch(d)
	}
	if err != nil && local {
		return err
	}
	if err != nil {
		// A stat never fetches: proxies stat every layer before pushing it.
		if n, err = s.statRemote(r.Context(), r.URL.Query().Get("ns"), d, allowPeers(r)); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) error {
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	ns := r.URL.Query().Get("ns")
	defer s.store.Pin(d)() // not evicted while served
	if _, err := s.store.Stat(d); err != nil && r.Header.Get("Range") == "" {
		// A whole-blob miss streams while it is read through; a range waits for the blob.
		written, err := s.streamThrough(w, r, ns, d, allowPeers(r))
		if written {
			return nil
		}
		if err != nil {
			return err
		}
	}
	if err := s.ensureLocal(r.Context(), ns, d, allowPeers(r)); err != nil {
		return err
	}
	f, err := s.store.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", d.String())
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

// putBlob stores a blob of known digest in one request. Unless the request is itself a
// replica from another origin, the blob is then pushed to the digest's other owners before
// the 201; either way it is queued for write-back.
func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) error {
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	if r.ContentLength < 0 {
		return fmt.Errorf("%w: Content-Length is required", client.ErrBadRequest)
	}
	if err := s.store.Put(r.Context(), d, r.ContentLength, r.Body); err != nil {
		return err
	}
	if r.Header.Get(client.HeaderReplica) == "" {
		if err := s.settle(r, d); err != nil {
			return err
		}
	} else {
		// An owner receiving a replica writes it back too, so the blob reaches the backend
		// even if the origin that took the commit dies with its in-memory queue.
		s.tombstones.remove(d)
		if err := s.writeBack.enqueue(r.URL.Query().Get("ns"), d); err != nil {
			return fmt.Errorf("%w: %w", client.ErrUnavailable, err)
		}
		s.precomputeMetaInfo(d)
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// settle makes a newly committed blob durable on its owners and schedules its write-back.
func (s *Server) settle(r *http.Request, d core.Digest) error {
	s.tombstones.remove(d) // pushed again after a delete: agents keep their copies
	// Queued first: even if no owner can take the blob now (the commit then fails), the copy
	// on this disk still reaches the backend.
	if err := s.writeBack.enqueue(r.URL.Query().Get("ns"), d); err != nil {
		return fmt.Errorf("%w: %w", client.ErrUnavailable, err)
	}
	if err := s.replicate(r.Context(), r.URL.Query().Get("ns"), d); err != nil {
		return err
	}
	s.precomputeMetaInfo(d)
	return nil
}

// deleteBlob removes a blob from this origin, every backend and (unless the request comes from
// a peer) every other origin. Deleting a missing blob succeeds.
func (s *Server) deleteBlob(w http.ResponseWriter, r *http.Request) error {
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	if err := s.store.Delete(d); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.seeder.forget(d)
	if err := s.tombstones.add(d); err != nil {
		return err
	}
	// Blobs are content: a deleted one goes from every backend, whichever namespace wrote it,
	// or a read-through in another namespace would bring it back. A read-only backend
	// (another registry, a web server) is not ours to delete from. A backend that fails does
	// not keep the peers' copies: the delete goes on everywhere it can, and fails (to be
	// retried) for what it could not do.
	var errs []error
	for _, be := range s.backends.All() {
		if err := be.Delete(r.Context(), blobName(d)); err != nil && !errors.Is(err, backend.ErrReadOnly) {
			errs = append(errs, fmt.Errorf("backend: %w", err))
		}
	}
	if allowPeers(r) {
		// Every origin may hold a copy (owners, the origin that took the commit, any that
		// read it through): remove them all, or a read-through would bring the blob back.
		for _, p := range s.peersNow() {
			if err := p.Delete(r.Context(), r.URL.Query().Get("ns"), d); err != nil {
				errs = append(errs, fmt.Errorf("peer: %w", err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: deleting %s: %w", client.ErrUnavailable, d, errors.Join(errs...))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getMetaInfo(w http.ResponseWriter, r *http.Request) error {
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	if err := s.ensureLocal(r.Context(), r.URL.Query().Get("ns"), d, allowPeers(r)); err != nil {
		return err
	}
	m, err := s.store.MetaInfo(r.Context(), d)
	if err != nil {
		return err
	}
	s.seeder.holdAndAnnounce(r.Context(), m)
	b, err := metainfo.Marshal(m)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-bittorrent")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err = w.Write(b)
	return err
}

func (s *Server) startUpload(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.CreateUpload(chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (s *Server) patchUpload(w http.ResponseWriter, r *http.Request) error {
	off, err := strconv.ParseInt(r.Header.Get(client.HeaderOffset), 10, 64)
	if err != nil || off < 0 {
		return fmt.Errorf("%w: bad %s header %q", client.ErrBadRequest, client.HeaderOffset, r.Header.Get(client.HeaderOffset))
	}
	n, err := s.store.AppendUpload(chi.URLParam(r, "id"), off, r.Body)
	w.Header().Set(client.HeaderOffset, strconv.FormatInt(n, 10))
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) uploadSize(w http.ResponseWriter, r *http.Request) error {
	n, err := s.store.UploadSize(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	w.Header().Set(client.HeaderOffset, strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) commitUpload(w http.ResponseWriter, r *http.Request) error {
	d, err := core.ParseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		return err
	}
	if err := s.store.CommitUpload(r.Context(), chi.URLParam(r, "id"), d); err != nil {
		return err
	}
	if err := s.settle(r, d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (s *Server) cancelUpload(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.CancelUpload(chi.URLParam(r, "id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
