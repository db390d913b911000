package buildindex

import (
	"context"

	"github.com/docket-p2p/docket/core"
)

// ChangeKind says what a Change did.
type ChangeKind int

// The changes an Index makes.
const (
	// ChangeManifestPut recorded Entry in Repo and, if Tag is not "", pointed Tag at it; both
	// became visible together.
	ChangeManifestPut ChangeKind = iota + 1
	// ChangeTagDelete removed Tag from Repo.
	ChangeTagDelete
	// ChangeManifestDelete removed manifest Digest from Repo together with Tags, the tags
	// that pointed at it.
	ChangeManifestDelete
	// ChangeBlobLink recorded that Repo holds blob Digest.
	ChangeBlobLink
	// ChangeBlobUnlink removed blob Digest from Repo's view.
	ChangeBlobUnlink
)

var changeKindNames = map[ChangeKind]string{
	ChangeManifestPut:    "manifest_put",
	ChangeTagDelete:      "tag_delete",
	ChangeManifestDelete: "manifest_delete",
	ChangeBlobLink:       "blob_link",
	ChangeBlobUnlink:     "blob_unlink",
}

// String returns the kind's name, as used in logs and metric tags.
func (k ChangeKind) String() string {
	if s, ok := changeKindNames[k]; ok {
		return s
	}
	return "unknown"
}

// Change is one change to the index, described so that applying it to another build-index
// (through buildindex/client's writer methods) reproduces it there.
type Change struct {
	Kind ChangeKind
	Repo string
	// Tag is the tag put with the manifest (ChangeManifestPut, may be "") or deleted
	// (ChangeTagDelete).
	Tag string
	// Entry is the manifest record put (ChangeManifestPut).
	Entry core.ManifestEntry
	// Digest is the manifest or blob removed or linked (ChangeManifestDelete, ChangeBlobLink,
	// ChangeBlobUnlink).
	Digest core.Digest
	// Tags are the tags a ChangeManifestDelete removed with the manifest, in lexical order.
	Tags []string
}

// Observer is told of every change the index makes, after the change is durable in the
// backend and visible to readers. It is the seam for replication to other clusters and for
// the backend write-back queue: an observer hands the change to its own durable queue.
//
// Changed is called with the repository's writer lock held, so an observer sees the changes
// of one repository in the order they were made. It must return quickly (queue, don't
// transfer) and must not call the Index's writer methods. ctx carries the caller's values but
// not its cancellation: the change has happened whether or not the caller is still there.
type Observer interface {
	Changed(ctx context.Context, c Change)
}

// notify tells the observer, if any, of c.
func (x *Index) notify(ctx context.Context, c Change) {
	x.metrics.changes(c.Kind).Inc(1)
	if x.observer != nil {
		x.observer.Changed(context.WithoutCancel(ctx), c)
	}
}
