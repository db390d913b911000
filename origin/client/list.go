package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/docket-p2p/docket/core"
)

// ListPageMax is the most blobs one page of an origin's blob list holds.
const ListPageMax = 1000

// maxListBody bounds a list page's JSON: ListPageMax entries of a digest and a size.
const maxListBody = ListPageMax * 256

// ListPage is one page of the blobs an origin holds on its disk, in digest order.
type ListPage struct {
	Blobs []ListedBlob `json:"blobs"`
	// Next is the digest to list after for the following page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// ListedBlob is one blob of a ListPage.
type ListedBlob struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Modified is the blob's last write or use on the origin, by its clock: the garbage
	// collector never takes a blob younger than its grace period.
	Modified time.Time `json:"modified,omitzero"`
}

// ListSourceBackend is the source= value of GET /blobs that lists the origin's default
// backend instead of its disk.
const ListSourceBackend = "backend"

// Lister is the optional power of a Client to page through the blobs an origin holds.
type Lister interface {
	List(ctx context.Context, after string, n int) (ListPage, error)
}

// BackendLister is the optional power of a Client to page through the blobs of the origin's
// writable backends (the default and each namespace's), each with its latest upload time as
// Modified; the garbage collector sweeps them.
type BackendLister interface {
	ListBackend(ctx context.Context, after string, n int) (ListPage, error)
}

// List returns up to n blobs (at most ListPageMax) held on the origin's disk after digest
// after ("" for the first page).
func (c *httpClient) List(ctx context.Context, after string, n int) (ListPage, error) {
	return c.list(ctx, after, n, "")
}

// ListBackend is List of the origin's writable backends.
func (c *httpClient) ListBackend(ctx context.Context, after string, n int) (ListPage, error) {
	return c.list(ctx, after, n, ListSourceBackend)
}

func (c *httpClient) list(ctx context.Context, after string, n int, source string) (ListPage, error) {
	q := url.Values{"n": {strconv.Itoa(n)}}
	if after != "" {
		q.Set("after", after)
	}
	if source != "" {
		q.Set("source", source)
	}
	var page ListPage
	if err := c.getJSON(ctx, "/blobs", q, maxListBody, "list", &page); err != nil {
		return ListPage{}, err
	}
	for _, b := range page.Blobs {
		if _, err := core.ParseDigest(b.Digest); err != nil || b.Size < 0 {
			return ListPage{}, fmt.Errorf("origin %s: bad list entry %+v: %v", c.addr, b, err)
		}
	}
	return page, nil
}

// TombstonePageMax is the most records one page of an origin's deletions holds.
const TombstonePageMax = 1000

// maxTombstoneBody bounds a deletions page's JSON: TombstonePageMax records of a digest and a
// time.
const maxTombstoneBody = TombstonePageMax * 256

// Tombstone records a blob deleted on an origin, by the origin's clock.
type Tombstone struct {
	Digest  string    `json:"digest"`
	Deleted time.Time `json:"deleted"`
}

// TombstonePage is one page of an origin's deletions, oldest first.
type TombstonePage struct {
	Deleted []Tombstone `json:"deleted"`
	// More says that records after the page's last follow: ask again from its time.
	More bool `json:"more,omitempty"`
}

// DeletionLister is the optional power of a Client to page through the blobs an origin
// deleted (GET /deleted), so an agent can drop them from its cache.
type DeletionLister interface {
	Deleted(ctx context.Context, since time.Time, n int) (TombstonePage, error)
}

// Deleted returns up to n (at most TombstonePageMax) records of blobs deleted at or after
// since (the zero time: from the first record the origin keeps).
func (c *httpClient) Deleted(ctx context.Context, since time.Time, n int) (TombstonePage, error) {
	q := url.Values{"n": {strconv.Itoa(n)}}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	var page TombstonePage
	if err := c.getJSON(ctx, "/deleted", q, maxTombstoneBody, "deletions", &page); err != nil {
		return TombstonePage{}, err
	}
	for _, t := range page.Deleted {
		if _, err := core.ParseDigest(t.Digest); err != nil {
			return TombstonePage{}, fmt.Errorf("origin %s: bad deletion record %+v: %v", c.addr, t, err)
		}
	}
	return page, nil
}

// getJSON decodes the JSON answer of GET path?q, at most limit bytes of it, into v; what names
// the answer in the error of one that does not decode.
func (c *httpClient) getJSON(ctx context.Context, path string, q url.Values, limit int64, what string, v any) error {
	req, err := c.newRequest(ctx, http.MethodGet, c.url(path, "", q), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(v); err != nil {
		return fmt.Errorf("%w: %s from %s: %w", ErrUnavailable, what, c.addr, err)
	}
	return nil
}
