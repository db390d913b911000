package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/origin/client"
)

// streamThrough serves a whole-blob GET for a blob missing on disk while it is being read
// through from the backend, so the first caller receives bytes as they arrive instead of
// waiting for the whole blob. The fetch is the same shared, detached one ensureLocal starts:
// concurrent misses still cause one backend read (callers other than the one that started it
// are served from disk once it is done). The bytes are verified on their way into the store;
// the last byte is withheld until the digest matches, so a client never receives a complete
// response for content that failed verification — it sees a truncated body instead.
//
// It reports whether it wrote a response; if not, the caller serves from disk (or the error).
func (s *Server) streamThrough(w http.ResponseWriter, r *http.Request, ns string, d core.Digest, peers bool) (bool, error) {
	ctx := r.Context()
	sink := &responseSink{w: w, d: d}
	ch := s.fetches.DoChan(s.fetchKey(ns, d, peers), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readThroughTimeout)
		defer cancel()
		err := s.fetchBackendStreaming(fctx, ns, d, sink)
		if err == nil {
			s.metrics.readThroughHits.Inc(1)
			return nil, nil
		}
		if sink.wasStarted() || !errors.Is(err, client.ErrBlobNotFound) && !errors.Is(err, errNotStarted) {
			return nil, err
		}
		return nil, s.fetch(fctx, ns, d, peers)
	})
	select {
	case <-ctx.Done():
		sink.detach()
		return sink.wasStarted(), ctx.Err()
	case res := <-ch:
		if !sink.wasStarted() {
			return false, res.Err
		}
		if res.Err != nil {
			s.log.Warn("read-through failed while streaming", "digest", d, "err", res.Err)
			// Headers and most of the body are out: break the connection.
			panic(http.ErrAbortHandler)
		}
		return true, nil
	}
}

// errNotStarted: the backend read failed before any byte reached the client, so another
// source may still be tried.
var errNotStarted = errors.New("read-through not started")

// fetchBackendStreaming copies d from namespace ns's backend into the store, teeing it to sink.
func (s *Server) fetchBackendStreaming(ctx context.Context, ns string, d core.Digest, sink *responseSink) error {
	name := blobName(d)
	be := s.backendFor(ns)
	info, err := be.Stat(ctx, name)
	if err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return fmt.Errorf("%w: %s", client.ErrBlobNotFound, d)
		}
		return fmt.Errorf("%w: %w: backend: %w", errNotStarted, client.ErrUnavailable, err)
	}
	sink.start(info.Size)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(be.Download(ctx, name, pw)) }()
	teed := &countingWriter{w: sink}
	err = s.store.Put(ctx, d, info.Size, io.TeeReader(pr, teed))
	pr.CloseWithError(errors.New("read-through finished"))
	if err != nil {
		return fmt.Errorf("origin: read-through %s from the backend: %w", d, err)
	}
	if teed.n < info.Size {
		// Put found the blob already stored (published meanwhile) and read nothing more:
		// send the rest from disk.
		f, err := s.store.Open(d)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.Seek(teed.n, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(sink, f); err != nil {
			return err
		}
	}
	sink.finish()
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// responseSink tees a read-through into one HTTP response. It never fails the fill: once the
// client is gone (a write error, or detach when its request ends) it drops further bytes.
// It withholds the last byte received until finish, which the fill calls only after the
// content verified.
type responseSink struct {
	w http.ResponseWriter
	d core.Digest

	mu       sync.Mutex
	started  bool
	detached bool
	failed   bool
	held     []byte // at most one byte, withheld until finish
}

func (rs *responseSink) start(size int64) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.detached {
		return
	}
	rs.started = true
	h := rs.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Docker-Content-Digest", rs.d.String())
	rs.w.WriteHeader(http.StatusOK)
}

func (rs *responseSink) Write(p []byte) (int, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(p) == 0 || rs.detached || rs.failed || !rs.started {
		return len(p), nil
	}
	out := append(rs.held, p[:len(p)-1]...)
	if len(out) > 0 {
		if _, err := rs.w.Write(out); err != nil {
			rs.failed = true
		}
	}
	rs.held = append(rs.held[:0], p[len(p)-1])
	return len(p), nil
}

// finish sends the withheld byte: the content verified.
func (rs *responseSink) finish() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.detached || rs.failed || !rs.started || len(rs.held) == 0 {
		return
	}
	if _, err := rs.w.Write(rs.held); err != nil {
		rs.failed = true
	}
	rs.held = nil
}

// detach stops all writes to the response: its handler is returning.
func (rs *responseSink) detach() {
	rs.mu.Lock()
	rs.detached = true
	rs.mu.Unlock()
}

func (rs *responseSink) wasStarted() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.started
}
