package backend

import (
	"fmt"
	"strings"

	"github.com/docket-p2p/docket/core"
)

// BlobName is blob d's object name: "blobs/<algorithm>/<first two hex digits>/<hex>".
func BlobName(d core.Digest) string {
	return "blobs/" + d.Algorithm() + "/" + d.Hex()[:2] + "/" + d.Hex()
}

// ParseBlobName returns the digest of a name made by BlobName, or an error wrapping
// ErrNotFound for any other name (a backend that holds only blobs has no such object).
func ParseBlobName(name string) (core.Digest, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "blobs" || len(parts[3]) < 2 || parts[2] != parts[3][:2] {
		return core.Digest{}, fmt.Errorf("%w: %q is not a blob name", ErrNotFound, name)
	}
	d, err := core.ParseDigest(parts[1] + ":" + parts[3])
	if err != nil {
		return core.Digest{}, fmt.Errorf("%w: %q: %w", ErrNotFound, name, err)
	}
	return d, nil
}
