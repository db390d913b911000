// Package client talks to the build-index over HTTP. Its Client implements lib/registry's Index
// and IndexWriter, and the blob links the proxy keeps per repository, so the registry handler
// of the proxy and of every agent reaches the build-index only through it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
)

// maxResponseBytes caps how much of a response body the client reads: a page of MaxPage
// entries with annotations stays far below it.
const maxResponseBytes = 16 << 20

// maxErrorBytes caps how much of an error body the client reads.
const maxErrorBytes = 64 << 10

// Timeouts of the default HTTP client's transport (every call is also bounded by its ctx).
const (
	dialTimeout           = 5 * time.Second
	responseHeaderTimeout = 30 * time.Second
	idleConnsPerHost      = 64
)

// Client is the build-index's HTTP client.
type Client struct {
	base string
	hc   *http.Client
}

var (
	_ registry.Index       = (*Client)(nil)
	_ registry.IndexWriter = (*Client)(nil)
)

// New returns a client for the build-index at addr (host:port, or a URL with a scheme). hc may
// be nil for a client with sensible timeouts and connection reuse.
func New(addr string, hc *http.Client) *Client {
	if hc == nil {
		hc = defaultHTTPClient()
	}
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: strings.TrimRight(base, "/") + APIPrefix, hc: hc}
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = responseHeaderTimeout
	t.MaxIdleConnsPerHost = idleConnsPerHost
	return &http.Client{Transport: t}
}

// escapeRepo escapes each component of a repository name, keeping its slashes.
func escapeRepo(repo string) string {
	parts := strings.Split(repo, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// GetTag implements registry.Index.
func (c *Client) GetTag(ctx context.Context, repo, tag string) (core.Digest, error) {
	var body TagBody
	if err := c.do(ctx, http.MethodGet, "/tags/"+url.PathEscape(tag)+"/"+escapeRepo(repo), nil, nil, &body); err != nil {
		return core.Digest{}, fmt.Errorf("get tag %s:%s: %w", repo, tag, err)
	}
	if body.Digest.IsZero() {
		return core.Digest{}, fmt.Errorf("get tag %s:%s: %w: no digest", repo, tag, ErrUnexpectedResponse)
	}
	return body.Digest, nil
}

// ListTags implements registry.Index. n < 0 lists every tag; n above MaxPage is served in
// several requests.
func (c *Client) ListTags(ctx context.Context, repo, last string, n int) ([]string, error) {
	tags, err := c.list(ctx, "/taglist/"+escapeRepo(repo), last, n, func(b []byte) ([]string, error) {
		var l TagList
		err := json.Unmarshal(b, &l)
		return l.Tags, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	return tags, nil
}

// ListManifests returns up to n digests of the manifests repo records (tagged or not), after
// last, paging like ListTags. The garbage collector marks from them.
func (c *Client) ListManifests(ctx context.Context, repo, last string, n int) ([]core.Digest, error) {
	names, err := c.list(ctx, "/manifestlist/"+escapeRepo(repo), last, n, func(b []byte) ([]string, error) {
		var l ManifestList
		err := json.Unmarshal(b, &l)
		return l.Manifests, err
	})
	if err != nil {
		return nil, fmt.Errorf("list manifests of %s: %w", repo, err)
	}
	ds := make([]core.Digest, len(names))
	for i, s := range names {
		if ds[i], err = core.ParseDigest(s); err != nil {
			return nil, fmt.Errorf("list manifests of %s: %w: %v", repo, ErrUnexpectedResponse, err)
		}
	}
	return ds, nil
}

// Repositories implements registry.Index, paging like ListTags.
func (c *Client) Repositories(ctx context.Context, last string, n int) ([]string, error) {
	repos, err := c.list(ctx, "/repositories", last, n, func(b []byte) ([]string, error) {
		var l RepositoryList
		err := json.Unmarshal(b, &l)
		return l.Repositories, err
	})
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	return repos, nil
}

// list fetches up to n names after last (all of them if n < 0), MaxPage per request.
func (c *Client) list(ctx context.Context, path, last string, n int, decode func([]byte) ([]string, error)) ([]string, error) {
	out := []string{}
	for n < 0 || len(out) < n {
		page := MaxPage
		if n >= 0 {
			page = min(page, n-len(out))
		}
		q := url.Values{"n": {strconv.Itoa(page)}}
		if last != "" {
			q.Set("last", last)
		}
		var raw json.RawMessage
		if err := c.do(ctx, http.MethodGet, path, q, nil, &raw); err != nil {
			return nil, err
		}
		names, err := decode(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
		}
		if len(names) > page {
			return nil, fmt.Errorf("%w: %d names for a page of %d", ErrUnexpectedResponse, len(names), page)
		}
		out = append(out, names...)
		if len(names) < page {
			break
		}
		last = names[len(names)-1]
	}
	return out, nil
}

// GetManifest implements registry.Index.
func (c *Client) GetManifest(ctx context.Context, repo string, d core.Digest) (core.ManifestEntry, error) {
	var e core.ManifestEntry
	if err := c.do(ctx, http.MethodGet, "/manifests/"+d.String()+"/"+escapeRepo(repo), nil, nil, &e); err != nil {
		return core.ManifestEntry{}, fmt.Errorf("get manifest %s@%s: %w", repo, d, err)
	}
	if e.Digest != d {
		return core.ManifestEntry{}, fmt.Errorf("get manifest %s@%s: %w: entry names %s", repo, d, ErrUnexpectedResponse, e.Digest)
	}
	return e, nil
}

// Referrers implements registry.Index.
func (c *Client) Referrers(ctx context.Context, repo string, d core.Digest) ([]core.ManifestEntry, error) {
	var l ReferrerList
	if err := c.do(ctx, http.MethodGet, "/referrers/"+d.String()+"/"+escapeRepo(repo), nil, nil, &l); err != nil {
		return nil, fmt.Errorf("referrers of %s@%s: %w", repo, d, err)
	}
	if l.Manifests == nil {
		l.Manifests = []core.ManifestEntry{}
	}
	return l.Manifests, nil
}

// PutManifest implements registry.IndexWriter.
func (c *Client) PutManifest(ctx context.Context, repo string, e core.ManifestEntry, tag string) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("put manifest %s@%s: %w", repo, e.Digest, err)
	}
	var q url.Values
	if tag != "" {
		q = url.Values{"tag": {tag}}
	}
	if err := c.do(ctx, http.MethodPut, "/manifests/"+e.Digest.String()+"/"+escapeRepo(repo), q, b, nil); err != nil {
		return fmt.Errorf("put manifest %s@%s: %w", repo, e.Digest, err)
	}
	return nil
}

// DeleteTag implements registry.IndexWriter.
func (c *Client) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := c.do(ctx, http.MethodDelete, "/tags/"+url.PathEscape(tag)+"/"+escapeRepo(repo), nil, nil, nil); err != nil {
		return fmt.Errorf("delete tag %s:%s: %w", repo, tag, err)
	}
	return nil
}

// DeleteManifest implements registry.IndexWriter.
func (c *Client) DeleteManifest(ctx context.Context, repo string, d core.Digest) error {
	if err := c.do(ctx, http.MethodDelete, "/manifests/"+d.String()+"/"+escapeRepo(repo), nil, nil, nil); err != nil {
		return fmt.Errorf("delete manifest %s@%s: %w", repo, d, err)
	}
	return nil
}

// HasBlob returns nil if repo holds blob d, else an error wrapping registry.ErrBlobUnknown.
func (c *Client) HasBlob(ctx context.Context, repo string, d core.Digest) error {
	if err := c.do(ctx, http.MethodHead, "/blobs/"+d.String()+"/"+escapeRepo(repo), nil, nil, nil); err != nil {
		return fmt.Errorf("blob %s@%s: %w", repo, d, err)
	}
	return nil
}

// LinkBlob records that repo holds blob d.
func (c *Client) LinkBlob(ctx context.Context, repo string, d core.Digest) error {
	if err := c.do(ctx, http.MethodPut, "/blobs/"+d.String()+"/"+escapeRepo(repo), nil, nil, nil); err != nil {
		return fmt.Errorf("link blob %s@%s: %w", repo, d, err)
	}
	return nil
}

// UnlinkBlob removes blob d from repo's view; registry.ErrBlobUnknown if repo did not hold it.
func (c *Client) UnlinkBlob(ctx context.Context, repo string, d core.Digest) error {
	if err := c.do(ctx, http.MethodDelete, "/blobs/"+d.String()+"/"+escapeRepo(repo), nil, nil, nil); err != nil {
		return fmt.Errorf("unlink blob %s@%s: %w", repo, d, err)
	}
	return nil
}

// do sends one request and decodes a 2xx JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
		}
		if len(b) > maxResponseBytes {
			return fmt.Errorf("%w: body over %d bytes", ErrUnexpectedResponse, maxResponseBytes)
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
		}
		return nil
	}
	return responseError(resp)
}

// responseError turns an error response into the matching sentinel.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var eb ErrorBody
	_ = json.Unmarshal(b, &eb)
	code, msg := eb.Error.Code, eb.Error.Message
	if msg == "" {
		msg = resp.Status
	}
	if code == "" && resp.Request != nil && resp.Request.Method == http.MethodHead && resp.StatusCode == http.StatusNotFound {
		code = CodeBlobUnknown // a HEAD answer has no body
	}
	var sentinel error
	switch {
	case code == CodeManifestUnknown:
		sentinel = registry.ErrManifestUnknown
	case code == CodeNameUnknown:
		sentinel = registry.ErrNameUnknown
	case code == CodeBlobUnknown:
		sentinel = registry.ErrBlobUnknown
	case code == CodeDigestInvalid:
		sentinel = fmt.Errorf("%w: %w", registry.ErrDigestInvalid, ErrBadRequest)
	case code == CodeUnavailable || resp.StatusCode == http.StatusServiceUnavailable ||
		resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout:
		sentinel = registry.ErrUnavailable
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		sentinel = ErrBadRequest
	default:
		sentinel = ErrUnexpectedResponse
	}
	if code == "" {
		return fmt.Errorf("%w: %s", sentinel, msg)
	}
	return fmt.Errorf("%w: %s: %s", sentinel, code, msg)
}

// IsNotFound reports whether err means the tag, manifest, repository or blob does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, registry.ErrManifestUnknown) || errors.Is(err, registry.ErrNameUnknown) ||
		errors.Is(err, registry.ErrBlobUnknown)
}
