package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/docket-p2p/docket/lib/backend"
	"io/fs"
	"net/http"
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
// default backend's blobs instead, Modified their upload time (the garbage collector's sweep).
func (s *Server) listBlobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after := q.Get("after")
	if after != "" {
		if _, err := core.ParseDigest(after); err != nil {
			return err
		}
	}
	n := client.ListPageMax
	if v := q.Get("n"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 {
			return fmt.Errorf("%w: bad page size n=%q", client.ErrBadRequest, v)
		}
		n = min(m, client.ListPageMax)
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
	var err error
	if q.Get("source") == client.ListSourceBackend {
		err = s.walkBackend(r.Context(), after, add)
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

// walkBackend calls fn for every blob of the default backend (namespace ""), in name order,
// with its size and upload time, skipping those at or before digest after. A read-only
// backend holds nothing of ours and lists nothing.
func (s *Server) walkBackend(ctx context.Context, after string, fn func(d core.Digest, size int64, mod time.Time) error) error {
	be := s.backendFor("")
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
		return fn(d, info.Size, info.ModTime)
	})
	if errors.Is(err, backend.ErrReadOnly) {
		return nil
	}
	return err
}
