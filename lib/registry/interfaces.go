package registry

import (
	"context"
	"io"

	"github.com/docket-p2p/docket/core"
)

// The registry handler is wired to its storage through the small interfaces below, defined
// here by their consumer. The proxy implements them over the origin ring and the build-index
// (read-write); the agent over its own store, its Downloader and the build-index (read-only).
// Extra powers (uploads, direct puts, deletes, index writes) are optional interfaces found by
// type assertion: a Handler whose Blobs lacks BlobUploader answers pushes with UNSUPPORTED.
//
// Repositories are validated names (see names.go) by the time they reach these interfaces;
// digests are core.Digest values. Errors are matched with errors.Is against errors.go.

// Blobs reads content-addressed blobs. Blobs are shared by every repository; repo is passed
// for backend selection (namespaces) and logging.
type Blobs interface {
	// Stat returns the blob's size, or an error wrapping ErrBlobUnknown.
	Stat(ctx context.Context, repo string, d core.Digest) (int64, error)
	// Open returns the blob's content, seekable so the handler can serve Range requests. A
	// remote implementation may open lazily on first Read after a Seek.
	Open(ctx context.Context, repo string, d core.Digest) (io.ReadSeekCloser, error)
}

// ReadLimiter may be implemented by what Blobs.Open returns: after its Seek the handler calls
// LimitRead with the bytes it will read from there (a Range request's length), so a remote
// implementation asks for those bytes only instead of a stream to the blob's end.
type ReadLimiter interface {
	LimitRead(n int64)
}

// RangeWriter may be implemented by what Blobs.Open returns: after its Seek the handler has
// it write the n bytes from there to the response itself, for a body that can do better than
// Read (an agent's blob still downloading, sent from its file by sendfile as it verifies). It
// returns the bytes written and an error when fewer than n were.
type RangeWriter interface {
	WriteRange(w io.Writer, n int64) (int64, error)
}

// BlobUploader accepts resumable uploads (POST, PATCH, PUT of the distribution API).
type BlobUploader interface {
	// StartUpload opens an upload session and returns its id.
	StartUpload(ctx context.Context, repo string) (id string, err error)
	// AppendUpload writes r at offset, which must equal the bytes received so far (else
	// ErrRangeInvalid); it returns the new size. Unknown ids give ErrUploadUnknown.
	AppendUpload(ctx context.Context, repo, id string, offset int64, r io.Reader) (int64, error)
	// UploadSize returns the bytes received so far.
	UploadSize(ctx context.Context, repo, id string) (int64, error)
	// CommitUpload verifies the upload against d and publishes it under d. A mismatch gives
	// ErrDigestInvalid and publishes nothing.
	CommitUpload(ctx context.Context, repo, id string, d core.Digest) error
	// CancelUpload discards the session.
	CancelUpload(ctx context.Context, repo, id string) error
}

// BlobPutter stores a blob whose digest and size are known up front (manifests, monolithic
// uploads). The content is verified against d while it streams.
type BlobPutter interface {
	PutBlob(ctx context.Context, repo string, d core.Digest, size int64, r io.Reader) error
}

// BlobDeleter removes a blob from a repository's view (ErrBlobUnknown if it was not there).
// The content itself may still be referenced by other repositories; it is collected later.
type BlobDeleter interface {
	DeleteBlob(ctx context.Context, repo string, d core.Digest) error
}

// BlobMounter links a blob that repository from holds into repository to without moving any
// bytes (cross-repository mount). ErrBlobUnknown if from does not hold it. from may be "" for
// an automatic mount of content the registry holds anywhere.
type BlobMounter interface {
	MountBlob(ctx context.Context, from, to string, d core.Digest) error
}

// Index resolves tags and records which manifests each repository holds (the build-index).
type Index interface {
	// GetTag returns the digest a tag points at, or ErrManifestUnknown.
	GetTag(ctx context.Context, repo, tag string) (core.Digest, error)
	// ListTags returns up to n tags of repo in lexical order, starting after last ("" for the
	// first page). A repository that does not exist gives ErrNameUnknown.
	ListTags(ctx context.Context, repo, last string, n int) ([]string, error)
	// GetManifest returns repo's record of manifest d, or ErrManifestUnknown.
	GetManifest(ctx context.Context, repo string, d core.Digest) (core.ManifestEntry, error)
	// Referrers returns the records of repo's manifests whose subject is d.
	Referrers(ctx context.Context, repo string, d core.Digest) ([]core.ManifestEntry, error)
	// Repositories returns up to n repository names in lexical order after last.
	Repositories(ctx context.Context, last string, n int) ([]string, error)
}

// IndexWriter is the write half of the Index, present on the proxy only.
type IndexWriter interface {
	// PutManifest records manifest e in repo and, if tag is not "", points tag at it.
	PutManifest(ctx context.Context, repo string, e core.ManifestEntry, tag string) error
	// DeleteTag removes one tag (ErrManifestUnknown if absent).
	DeleteTag(ctx context.Context, repo, tag string) error
	// DeleteManifest removes manifest d from repo and every tag pointing at it.
	DeleteManifest(ctx context.Context, repo string, d core.Digest) error
}
