package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/docket-p2p/docket/lib/backend"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/origin/client"
)

// errPageFull stops a store walk once a page of the blob list is full.
var errPageFull = errors.New("page full")

// listBlobs answers GET /blobs?after=D&n=N: up to N (client.ListPageMax) of the blobs on this
// origin's disk, in digest order, after digest D (the start when empty). Next in the answer is
// the digest to pass as after for the following page, empty on the last one. Peers page
// through it to learn what they should hold (repair.go). With source=backend it lists the
// blobs of every writable backend instead (the default and each namespace row's), Modified
// their latest upload time (the garbage collector's sweep).
func (s *Server) listBlobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after := q.Get("after")
	if after != "" {
		if _, err := core.ParseDigest(after); err != nil {
			return err
		}
	}
	n, err := pageSize(q, client.ListPageMax)
	if err != nil {
		return err
	}
	var page client.ListPage
	add := func(d core.Digest, size int64, mod time.Time) error {
		if d.String() <= after {
			return nil
		}
		if len(page.Blobs) == n {
			page.Next = page.Blobs[n-1].Digest
			return errPageFull
		}
		page.Blobs = append(page.Blobs, client.ListedBlob{Digest: d.String(), Size: size, Modified: mod.UTC()})
		return nil
	}
	if q.Get("source") == client.ListSourceBackend {
		// One more than the page, so a full page knows that another follows.
		err = s.walkBackends(r.Context(), after, n+1, add)
	} else {
		err = s.store.WalkInfo(r.Context(), func(d core.Digest, fi fs.FileInfo) error {
			return add(d, fi.Size(), fi.ModTime())
		})
	}
	if err != nil && !errors.Is(err, errPageFull) {
		return err
	}
	if page.Blobs == nil {
		page.Blobs = []client.ListedBlob{}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(page)
}

// pageSize reads a listing's page size from the query's n: at most max, which is also the
// default.
func pageSize(q url.Values, max int) (int, error) {
	v := q.Get("n")
	if v == "" {
		return max, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: bad page size n=%q", client.ErrBadRequest, v)
	}
	return min(n, max), nil
}

// backendBlob is one blob listed in the backends.
type backendBlob struct {
	d    core.Digest
	size int64
	mod  time.Time
}

// walkBackends calls fn, in digest order, for the first limit blobs after digest after that the
// origin's writable backends hold (the default and every namespace row's), with size and upload
// time. A blob in several backends is reported once, with its latest upload time: the
// collector spares it if any copy is young. Read-only backends hold nothing of ours.
func (s *Server) walkBackends(ctx context.Context, after string, limit int, fn func(d core.Digest, size int64, mod time.Time) error) error {
	found := map[core.Digest]backendBlob{}
	for _, be := range s.backends.All() {
		if backend.IsReadOnly(be) {
			continue
		}
		blobs, err := firstBackendBlobs(ctx, be, after, limit)
		if err != nil {
			return err
		}
		for _, b := range blobs {
			if prev, ok := found[b.d]; !ok || b.mod.After(prev.mod) {
				found[b.d] = b
			}
		}
	}
	merged := slices.SortedFunc(maps.Values(found), func(a, b backendBlob) int { return strings.Compare(a.d.String(), b.d.String()) })
	for _, b := range merged[:min(limit, len(merged))] {
		if err := fn(b.d, b.size, b.mod); err != nil {
			return err
		}
	}
	return nil
}

// firstBackendBlobs returns the first limit blobs of be after digest after, in name order
// (digest order within an algorithm), each with its size and upload time.
func firstBackendBlobs(ctx context.Context, be backend.Client, after string, limit int) ([]backendBlob, error) {
	var out []backendBlob
	err := be.List(ctx, "blobs/", func(name string) error {
		parts := strings.Split(name, "/")
		if len(parts) != 4 {
			return nil
		}
		d, err := core.ParseDigest(parts[1] + ":" + parts[3])
		if err != nil || blobName(d) != name || d.String() <= after {
			return nil // not a blob of ours, or before the page
		}
		info, err := be.Stat(ctx, name)
		if err != nil {
			if errors.Is(err, backend.ErrNotFound) {
				return nil // deleted meanwhile
			}
			return err
		}
		out = append(out, backendBlob{d: d, size: info.Size, mod: info.ModTime})
		if len(out) == limit {
			return errPageFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) && !errors.Is(err, backend.ErrReadOnly) {
		return nil, err
	}
	return out, nil
}
