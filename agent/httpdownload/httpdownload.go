// Package httpdownload is the agent's Downloader over HTTP: it streams a blob from the origins
// that own it into the agent's store, which verifies the digest while the bytes arrive and
// publishes the blob only once it matches. Concurrent requests for one digest share one
// transfer. The same sharing, retrying and logging runs any other Fetch (NewFetching): the
// P2P downloader (agent/p2p) uses it with a fetch from peers that falls back to this one.
package httpdownload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
	"github.com/docket-p2p/docket/origin/client"
)

// maxAttempts bounds how often one transfer is retried after a failure mid-stream (the
// cluster client already fails over between owners when opening a download).
const maxAttempts = 3

// retryBackoff is the pause before the second attempt; it doubles for each further one.
const retryBackoff = 200 * time.Millisecond

// Source is where blobs come from: the origin cluster.
type Source interface {
	// Stat returns the blob's size, which caps what a download may write.
	Stat(ctx context.Context, ns string, d core.Digest) (int64, error)
	Download(ctx context.Context, ns string, d core.Digest, offset, length int64) (io.ReadCloser, error)
}

// Store is what the downloader needs of the agent's cache.
type Store interface {
	Stat(d core.Digest) (int64, error)
	Put(ctx context.Context, d core.Digest, size int64, r io.Reader) error
}

// Fetch makes one attempt at bringing d into the store; attrs, if any, are added to the line
// logged for the finished blob (where its bytes came from).
type Fetch func(ctx context.Context, repo string, d core.Digest) (attrs []any, err error)

// Downloader fetches blobs from a Source into a Store.
type Downloader struct {
	fetchOnce Fetch
	store     Store
	log       *slog.Logger
	metrics   downloadMetrics
	backoff   time.Duration // pause before the first retry (retryBackoff; tests shorten it)

	// base parents every transfer; Close cancels it and waits for the transfers to end.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	inflight map[core.Digest]*transfer
}

// transfer is one download shared by every caller waiting for the same digest. It runs on its
// own context, cancelled only when the last waiter gives up.
type transfer struct {
	done    chan struct{}
	err     error
	waiters int
	cancel  context.CancelFunc
}

// downloadMetrics are the downloader's counters: requests answered from the cache (hits) or
// not (misses), requests that joined a transfer already running (shared), finished transfers
// with their bytes and time, failed and cancelled ones.
type downloadMetrics struct {
	cacheHits, cacheMisses, shared        tally.Counter
	downloads, bytes, failures, cancelled tally.Counter
	downloadTime                          tally.Timer
}

// New returns a Downloader reporting its metrics to scope.
func New(src Source, st Store, log *slog.Logger, scope tally.Scope) *Downloader {
	return NewFetching(func(ctx context.Context, repo string, d core.Digest) ([]any, error) {
		return nil, fetchHTTP(ctx, src, st, repo, d)
	}, st, log, scope)
}

// NewFetching returns a Downloader whose transfers run fetch (retried, shared, logged).
func NewFetching(fetch Fetch, st Store, log *slog.Logger, scope tally.Scope) *Downloader {
	base, cancel := context.WithCancel(context.Background())
	return &Downloader{
		fetchOnce: fetch,
		store:     st,
		log:       log,
		metrics: downloadMetrics{
			cacheHits:    scope.Counter("cache_hits"),
			cacheMisses:  scope.Counter("cache_misses"),
			shared:       scope.Counter("shared"),
			downloads:    scope.Counter("downloads"),
			bytes:        scope.Counter("bytes"),
			failures:     scope.Counter("failures"),
			cancelled:    scope.Counter("cancelled"),
			downloadTime: scope.Timer("download_time"),
		},
		backoff:  retryBackoff,
		base:     base,
		cancel:   cancel,
		inflight: make(map[core.Digest]*transfer),
	}
}

// Close stops every transfer in progress and waits for them to end; their callers get an
// error. Download fails with ErrClosed afterwards.
func (dl *Downloader) Close() error {
	dl.mu.Lock()
	dl.closed = true
	dl.mu.Unlock()
	dl.cancel()
	dl.wg.Wait()
	return nil
}

// Download makes sure d is in the store, verified. It returns at once if it already is.
func (dl *Downloader) Download(ctx context.Context, repo string, d core.Digest) error {
	if _, err := dl.store.Stat(d); err == nil {
		dl.metrics.cacheHits.Inc(1)
		return nil
	}
	dl.metrics.cacheMisses.Inc(1)
	dl.mu.Lock()
	if dl.closed {
		dl.mu.Unlock()
		return ErrClosed
	}
	t, ok := dl.inflight[d]
	if !ok {
		tctx, cancel := context.WithCancel(dl.base)
		t = &transfer{done: make(chan struct{}), cancel: cancel}
		dl.inflight[d] = t
		dl.wg.Add(1)
		go dl.run(tctx, t, repo, d)
	} else {
		dl.metrics.shared.Inc(1)
	}
	t.waiters++
	dl.mu.Unlock()

	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
		dl.mu.Lock()
		t.waiters--
		if t.waiters == 0 {
			// Nobody wants this transfer any more: stop it, and let the next caller start a
			// fresh one rather than join one that is winding down.
			t.cancel()
			if dl.inflight[d] == t {
				delete(dl.inflight, d)
			}
		}
		dl.mu.Unlock()
		return ctx.Err()
	}
}

func (dl *Downloader) run(ctx context.Context, t *transfer, repo string, d core.Digest) {
	defer dl.wg.Done()
	start := time.Now()
	size, attrs, err := dl.fetch(ctx, repo, d)
	elapsed := time.Since(start)
	switch {
	case errors.Is(err, context.Canceled):
		dl.metrics.cancelled.Inc(1)
		dl.log.Info("blob download cancelled", "digest", d, "repo", repo, "duration", elapsed)
	case err != nil:
		dl.metrics.failures.Inc(1)
		dl.log.Warn("blob download failed", "digest", d, "repo", repo, "duration", elapsed, "err", err)
	default:
		dl.metrics.downloads.Inc(1)
		dl.metrics.bytes.Inc(size)
		dl.metrics.downloadTime.Record(elapsed)
		dl.log.Info("blob downloaded", append([]any{"digest", d, "repo", repo, "bytes", size,
			"seconds", fmt.Sprintf("%.3f", elapsed.Seconds()),
			"mib_per_s", fmt.Sprintf("%.1f", float64(size)/(1<<20)/max(elapsed.Seconds(), 1e-6))}, attrs...)...)
	}
	dl.mu.Lock()
	t.err = err
	if dl.inflight[d] == t {
		delete(dl.inflight, d)
	}
	dl.mu.Unlock()
	t.cancel()
	close(t.done)
}

// fetch streams d into the store, retrying failed transfers; the store discards every
// attempt that does not match the digest.
func (dl *Downloader) fetch(ctx context.Context, repo string, d core.Digest) (int64, []any, error) {
	backoff := dl.backoff
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var attrs []any
		if attrs, err = dl.fetchOnce(ctx, repo, d); err == nil {
			size, err := dl.store.Stat(d)
			return size, attrs, err
		}
		if errors.Is(err, registry.ErrBlobUnknown) {
			return 0, nil, err
		}
		if errors.Is(err, client.ErrBlobNotFound) {
			return 0, nil, fmt.Errorf("%w: %w", registry.ErrBlobUnknown, err)
		}
		if ctx.Err() != nil || attempt == maxAttempts {
			break
		}
		dl.log.Info("retrying blob download", "digest", d, "attempt", attempt, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
		backoff *= 2
	}
	if ctx.Err() != nil {
		return 0, nil, ctx.Err()
	}
	if errors.Is(err, registry.ErrUnavailable) {
		return 0, nil, err
	}
	// Every other failure (origins down, a stream cut short, content that does not match its
	// digest) is the source's fault and worth retrying later: the registry answers 503.
	return 0, nil, fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
}

// fetchHTTP streams d from src into st. The size the origin reports bounds the transfer, so a
// source sending endless bytes fails at the size, not when the disk is full.
func fetchHTTP(ctx context.Context, src Source, st Store, repo string, d core.Digest) error {
	size, err := src.Stat(ctx, repo, d)
	if err != nil {
		return err
	}
	body, err := src.Download(ctx, repo, d, 0, -1)
	if err != nil {
		return err
	}
	defer body.Close()
	return st.Put(ctx, d, size, body)
}
