package origin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/origin/client"
)

// errPageFull stops a store walk once a page of the blob list is full.
var errPageFull = errors.New("page full")

// listBlobs answers GET /blobs?after=D&n=N: up to N (client.ListPageMax) of the blobs on this
// origin's disk, in digest order, after digest D (the start when empty). Next in the answer is
// the digest to pass as after for the following page, empty on the last one. Peers page
// through it to learn what they should hold (repair.go).
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
	err := s.store.WalkInfo(r.Context(), func(d core.Digest, fi fs.FileInfo) error {
		if d.String() <= after {
			return nil
		}
		if len(page.Blobs) == n {
			page.Next = page.Blobs[n-1].Digest
			return errPageFull
		}
		page.Blobs = append(page.Blobs, client.ListedBlob{Digest: d.String(), Size: fi.Size(), Modified: fi.ModTime().UTC()})
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return err
	}
	if page.Blobs == nil {
		page.Blobs = []client.ListedBlob{}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(page)
}
