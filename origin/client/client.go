// Package client talks to origins: Client to one origin over HTTP, and (cluster.go) the
// hash-ring-aware client that proxies and agents use to reach the owners of a digest.
//
// It is the only way other components reach an origin; they never import origin's server.
package client

import (
	"context"
	"errors"
	"io"

	"github.com/docket-p2p/docket/core"
)

// Errors the origin's API reports, matched with errors.Is.
var (
	ErrBlobNotFound   = errors.New("origin: blob not found")
	ErrUploadNotFound = errors.New("origin: upload not found")
	ErrOffsetMismatch = errors.New("origin: upload offset mismatch")
	ErrDigestMismatch = errors.New("origin: content does not match digest")
	ErrUnavailable    = errors.New("origin: unavailable")
	ErrNoMetaInfo     = errors.New("origin: blob has no metainfo (it is empty)")
	ErrBadRequest     = errors.New("origin: bad request")
)

// Client is one origin's API. ns is the namespace (the repository name) a blob belongs to; the
// origin uses it to pick a storage backend. Every call can be cancelled through ctx.
type Client interface {
	// Addr is the origin's host:port, its identity on the hash ring.
	Addr() string
	// Stat returns the blob's size (ErrBlobNotFound if neither the origin nor its backend has it).
	Stat(ctx context.Context, ns string, d core.Digest) (int64, error)
	// Download streams length bytes of the blob from offset (length < 0: to the end). The
	// origin reads through to its backend on a miss.
	Download(ctx context.Context, ns string, d core.Digest, offset, length int64) (io.ReadCloser, error)
	// MetaInfo returns the blob's metainfo, computed once by the origin and kept beside it.
	MetaInfo(ctx context.Context, ns string, d core.Digest) (*core.MetaInfo, error)
	// Upload stores a blob of known digest and size in one request; the origin verifies it
	// while it streams (ErrDigestMismatch) and acknowledges once it is durable.
	Upload(ctx context.Context, ns string, d core.Digest, size int64, r io.Reader) error
	// StartUpload opens a resumable upload with a caller-chosen id (a UUID).
	StartUpload(ctx context.Context, ns, id string) error
	// PatchUpload appends r at offset (ErrOffsetMismatch unless offset is the current size)
	// and returns the new size.
	PatchUpload(ctx context.Context, ns, id string, offset int64, r io.Reader) (int64, error)
	// UploadSize returns how many bytes the upload holds (ErrUploadNotFound if none).
	UploadSize(ctx context.Context, ns, id string) (int64, error)
	// CommitUpload verifies the upload against d and publishes it; on success the blob is
	// durable on the digest's owners in the ring.
	CommitUpload(ctx context.Context, ns, id string, d core.Digest) error
	// CancelUpload discards an upload.
	CancelUpload(ctx context.Context, ns, id string) error
	// Delete removes a blob from the origin (and its backend).
	Delete(ctx context.Context, ns string, d core.Digest) error
}
