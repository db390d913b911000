// Package httpserver holds what every Docket HTTP server shares: the router with health and
// metrics routes, per-route metrics and access logs, and a listener that stops with a context.
package httpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/lib/metrics"
)

// shutdownGrace bounds how long Serve waits for in-flight requests once its context ends.
const shutdownGrace = 5 * time.Second

// readHeaderTimeout bounds how long a client may take to send request headers.
const readHeaderTimeout = 30 * time.Second

// NewRouter returns a chi router with GET /health, GET /metrics, panic recovery, per-route
// metrics (requests, errors, latency, bytes in and out, tagged by route pattern, method and
// status class) and a debug-level access log.
func NewRouter(reg *metrics.Registry, log *slog.Logger) chi.Router {
	r := chi.NewRouter()
	r.Use(instrument(reg.Scope.SubScope("http"), log))
	r.Get("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	r.Handle("/metrics", reg.Handler)
	return r
}

// Listen opens a TCP listener on addr (":0" picks a free port).
func Listen(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

// Serve serves h on l until ctx ends, then shuts down gracefully. It returns nil after a
// shutdown caused by ctx.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's sendfile fast path for file downloads.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

// Flush lets streaming handlers flush through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

func instrument(scope tally.Scope, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			start := time.Now()
			rec := &recorder{ResponseWriter: w}
			body := &countingBody{ReadCloser: req.Body}
			req.Body = body
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic serving request", "method", req.Method, "path", req.URL.Path, "panic", p)
					if rec.status == 0 {
						http.Error(rec, "internal error", http.StatusInternalServerError)
					}
				}
				status := rec.status
				if status == 0 {
					status = http.StatusOK
				}
				route := chi.RouteContext(req.Context()).RoutePattern()
				if route == "" {
					route = "unmatched"
				}
				s := scope.Tagged(map[string]string{
					"route":  route,
					"method": req.Method,
					"status": strconv.Itoa(status/100) + "xx",
				})
				s.Counter("requests").Inc(1)
				if status >= 500 {
					s.Counter("errors").Inc(1)
				}
				s.Timer("latency").Record(time.Since(start))
				s.Counter("bytes_in").Inc(body.n)
				s.Counter("bytes_out").Inc(rec.bytes)
				log.Debug("http", "method", req.Method, "path", req.URL.Path, "status", status,
					"bytes_out", rec.bytes, "duration", time.Since(start))
			}()
			next.ServeHTTP(rec, req)
		})
	}
}
