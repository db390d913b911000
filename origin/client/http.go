package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metainfo"
)

// Timeouts of the default transport. There is no overall request timeout and no response
// header timeout: blob bodies are large, and an origin reading a blob through from its backend
// answers a GET only once it has it; the caller's context bounds both.
const (
	dialTimeout     = 5 * time.Second
	maxErrorBody    = 64 << 10
	maxMetaInfoBody = 64 << 20
)

// Retries of idempotent reads (Stat, Download, MetaInfo, UploadSize) when the origin is
// unavailable (connection refused or reset, 5xx): attempts in all, and the first backoff,
// doubled after each attempt.
const (
	readAttempts     = 3
	readRetryBackoff = 100 * time.Millisecond
)

// DefaultHTTPClient is shared by clients created with a nil *http.Client.
var DefaultHTTPClient = &http.Client{Transport: &http.Transport{
	Proxy:               nil,
	DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     90 * time.Second,
	WriteBufferSize:     256 << 10,
	ReadBufferSize:      256 << 10,
}}

type httpClient struct {
	addr     string
	hc       *http.Client
	peer     bool
	attempts int // tries of an idempotent read
}

// New returns a client of the origin at addr (host:port). hc nil means DefaultHTTPClient.
func New(addr string, hc *http.Client) Client {
	if hc == nil {
		hc = DefaultHTTPClient
	}
	return &httpClient{addr: addr, hc: hc, attempts: readAttempts}
}

// newSingleAttempt returns a client that does not retry reads: the Cluster fails over to the
// next owner instead of spending retries (and dial timeouts) on one that is down.
func newSingleAttempt(addr string, hc *http.Client) *httpClient {
	c := New(addr, hc).(*httpClient)
	c.attempts = 1
	return c
}

// NewPeer returns the client one origin uses to reach another: its requests carry
// HeaderNoPeers, so the receiver never asks its own peers on a miss.
func NewPeer(addr string, hc *http.Client) Client {
	c := New(addr, hc).(*httpClient)
	c.peer = true
	return c
}

// retry calls fn up to attempts times while it fails with ErrUnavailable and ctx lasts.
func retry[T any](ctx context.Context, attempts int, fn func() (T, error)) (T, error) {
	wait := readRetryBackoff
	for attempt := 1; ; attempt++ {
		v, err := fn()
		if err == nil || attempt >= attempts || !errors.Is(err, ErrUnavailable) {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
		wait *= 2
	}
}

func (c *httpClient) Addr() string { return c.addr }

func (c *httpClient) url(path, ns string, extra url.Values) string {
	q := url.Values{}
	if ns != "" {
		q.Set("ns", ns)
	}
	for k, v := range extra {
		q[k] = v
	}
	u := "http://" + c.addr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends a request and returns the response if its status is one of ok; otherwise it maps
// the error body to a sentinel and closes the body.
func (c *httpClient) do(req *http.Request, ok ...int) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, req.Method, c.addr, err)
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	_ = json.Unmarshal(body, &e)
	if sentinel, known := codeErrors[e.Code]; known {
		return nil, fmt.Errorf("%w: %s", sentinel, e.Error)
	}
	if req.Method == http.MethodHead && resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s", ErrBlobNotFound, req.URL.Path)
	}
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("%w: %s %s: status %d: %s", ErrUnavailable, req.Method, c.addr, resp.StatusCode, body)
	}
	return nil, fmt.Errorf("origin %s: %s %s: status %d: %s", c.addr, req.Method, req.URL.Path, resp.StatusCode, body)
}

func (c *httpClient) newRequest(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("origin client: %w", err)
	}
	if c.peer {
		req.Header.Set(HeaderNoPeers, "true")
	}
	return req, nil
}

func (c *httpClient) Stat(ctx context.Context, ns string, d core.Digest) (int64, error) {
	return retry(ctx, c.attempts, func() (int64, error) { return c.statOnce(ctx, ns, d) })
}

// StatLocal is Stat answered from the origin's own disk only (HeaderLocalOnly): whether that
// origin holds the blob, not whether it could get it.
func (c *httpClient) StatLocal(ctx context.Context, ns string, d core.Digest) (int64, error) {
	return retry(ctx, c.attempts, func() (int64, error) { return c.stat(ctx, ns, d, true) })
}

func (c *httpClient) statOnce(ctx context.Context, ns string, d core.Digest) (int64, error) {
	return c.stat(ctx, ns, d, false)
}

func (c *httpClient) stat(ctx context.Context, ns string, d core.Digest, localOnly bool) (int64, error) {
	req, err := c.newRequest(ctx, http.MethodHead, c.url("/blobs/"+d.String(), ns, nil), nil)
	if err != nil {
		return 0, err
	}
	if localOnly {
		req.Header.Set(HeaderLocalOnly, "true")
	}
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.ContentLength, nil
}

// Download retries opening the blob; once the body is flowing, a failure is the caller's to
// handle (it knows how far it got and can ask for the rest with offset).
func (c *httpClient) Download(ctx context.Context, ns string, d core.Digest, offset, length int64) (io.ReadCloser, error) {
	return retry(ctx, c.attempts, func() (io.ReadCloser, error) { return c.downloadOnce(ctx, ns, d, offset, length) })
}

func (c *httpClient) downloadOnce(ctx context.Context, ns string, d core.Digest, offset, length int64) (io.ReadCloser, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.url("/blobs/"+d.String(), ns, nil), nil)
	if err != nil {
		return nil, err
	}
	if offset > 0 || length >= 0 {
		if length >= 0 {
			if length == 0 {
				return io.NopCloser(eofReader{}), nil
			}
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
		} else {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
	}
	resp, err := c.do(req, http.StatusOK, http.StatusPartialContent)
	if err != nil {
		return nil, err
	}
	if req.Header.Get("Range") != "" && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		return nil, fmt.Errorf("origin %s: range request for %s answered with status %d", c.addr, d, resp.StatusCode)
	}
	return resp.Body, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func (c *httpClient) MetaInfo(ctx context.Context, ns string, d core.Digest) (*core.MetaInfo, error) {
	return retry(ctx, c.attempts, func() (*core.MetaInfo, error) { return c.metaInfoOnce(ctx, ns, d) })
}

func (c *httpClient) metaInfoOnce(ctx context.Context, ns string, d core.Digest) (*core.MetaInfo, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.url("/blobs/"+d.String()+"/metainfo", ns, nil), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetaInfoBody))
	if err != nil {
		return nil, fmt.Errorf("%w: metainfo %s: %w", ErrUnavailable, d, err)
	}
	m, err := metainfo.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("origin %s: metainfo %s: %w", c.addr, d, err)
	}
	if m.Digest != d {
		return nil, fmt.Errorf("origin %s: metainfo for %s names %s", c.addr, d, m.Digest)
	}
	return m, nil
}

func (c *httpClient) Upload(ctx context.Context, ns string, d core.Digest, size int64, r io.Reader) error {
	return c.upload(ctx, ns, d, size, r, false)
}

// Replicate uploads a blob as a replica: the receiving origin stores it without fanning out.
func (c *httpClient) Replicate(ctx context.Context, ns string, d core.Digest, size int64, r io.Reader) error {
	return c.upload(ctx, ns, d, size, r, true)
}

func (c *httpClient) upload(ctx context.Context, ns string, d core.Digest, size int64, r io.Reader, replica bool) error {
	req, err := c.newRequest(ctx, http.MethodPut, c.url("/blobs/"+d.String(), ns, nil), r)
	if err != nil {
		return err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	if replica {
		req.Header.Set(HeaderReplica, "true")
	}
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *httpClient) StartUpload(ctx context.Context, ns, id string) error {
	req, err := c.newRequest(ctx, http.MethodPost, c.url("/uploads/"+url.PathEscape(id), ns, nil), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *httpClient) PatchUpload(ctx context.Context, ns, id string, offset int64, r io.Reader) (int64, error) {
	req, err := c.newRequest(ctx, http.MethodPatch, c.url("/uploads/"+url.PathEscape(id), ns, nil), r)
	if err != nil {
		return 0, err
	}
	req.Header.Set(HeaderOffset, strconv.FormatInt(offset, 10))
	resp, err := c.do(req, http.StatusAccepted)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return parseOffset(resp)
}

func parseOffset(resp *http.Response) (int64, error) {
	n, err := strconv.ParseInt(resp.Header.Get(HeaderOffset), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("origin: bad %s header %q", HeaderOffset, resp.Header.Get(HeaderOffset))
	}
	return n, nil
}

func (c *httpClient) UploadSize(ctx context.Context, ns, id string) (int64, error) {
	return retry(ctx, c.attempts, func() (int64, error) { return c.uploadSizeOnce(ctx, ns, id) })
}

func (c *httpClient) uploadSizeOnce(ctx context.Context, ns, id string) (int64, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.url("/uploads/"+url.PathEscape(id), ns, nil), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return parseOffset(resp)
}

func (c *httpClient) CommitUpload(ctx context.Context, ns, id string, d core.Digest) error {
	req, err := c.newRequest(ctx, http.MethodPut, c.url("/uploads/"+url.PathEscape(id), ns, url.Values{"digest": {d.String()}}), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *httpClient) CancelUpload(ctx context.Context, ns, id string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, c.url("/uploads/"+url.PathEscape(id), ns, nil), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusNoContent)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *httpClient) Delete(ctx context.Context, ns string, d core.Digest) error {
	req, err := c.newRequest(ctx, http.MethodDelete, c.url("/blobs/"+d.String(), ns, nil), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusNoContent)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// IsUnavailable reports whether err means the origin could not be reached or failed, so that
// another owner should be tried.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
