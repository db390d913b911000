package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
	"github.com/docket-p2p/docket/origin/client"
)

// blobLinks records which repositories hold which blobs (the build-index keeps them). Content
// is stored once on the origins whatever the number of repositories holding it; a repository
// sees a blob only once it was pushed or mounted there, and deleting it from one repository
// leaves every other repository's copy alone.
type blobLinks interface {
	// HasBlob returns nil if repo holds d, else an error wrapping registry.ErrBlobUnknown.
	HasBlob(ctx context.Context, repo string, d core.Digest) error
	LinkBlob(ctx context.Context, repo string, d core.Digest) error
	// UnlinkBlob returns an error wrapping registry.ErrBlobUnknown if repo does not hold d.
	UnlinkBlob(ctx context.Context, repo string, d core.Digest) error
}

// blobs serves the registry's blob interfaces from the origin ring. Layers and manifests alike
// are blobs on the origins that own their digest; an upload session lives on the origin its
// id hashes to, so every proxy replica routes a session's requests to the same origin.
type blobs struct {
	cluster *client.Cluster
	links   blobLinks
}

var (
	_ registry.Blobs        = (*blobs)(nil)
	_ registry.BlobUploader = (*blobs)(nil)
	_ registry.BlobPutter   = (*blobs)(nil)
	_ registry.BlobMounter  = (*blobs)(nil)
	_ registry.BlobDeleter  = (*blobs)(nil)
)

// uploadIDBytes is the entropy of an upload id (128 bits, hex-encoded).
const uploadIDBytes = 16

// originErr maps the origin client's sentinels to the registry's.
func originErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrBlobNotFound):
		return fmt.Errorf("%w: %w", registry.ErrBlobUnknown, err)
	case errors.Is(err, client.ErrUploadNotFound):
		return fmt.Errorf("%w: %w", registry.ErrUploadUnknown, err)
	case errors.Is(err, client.ErrOffsetMismatch):
		return fmt.Errorf("%w: %w", registry.ErrRangeInvalid, err)
	case errors.Is(err, client.ErrDigestMismatch):
		return fmt.Errorf("%w: %w", registry.ErrDigestInvalid, err)
	case errors.Is(err, client.ErrUnavailable):
		return fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
	}
	return err
}

func (b *blobs) Stat(ctx context.Context, repo string, d core.Digest) (int64, error) {
	if err := b.links.HasBlob(ctx, repo, d); err != nil {
		return 0, err
	}
	n, err := b.cluster.Stat(ctx, repo, d)
	return n, originErr(err)
}

func (b *blobs) Open(ctx context.Context, repo string, d core.Digest) (io.ReadSeekCloser, error) {
	size, err := b.Stat(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	return &remoteBlob{ctx: ctx, cluster: b.cluster, repo: repo, d: d, size: size}, nil
}

func (b *blobs) StartUpload(ctx context.Context, repo string) (string, error) {
	var raw [uploadIDBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw[:])
	if err := b.cluster.ForKey(id).StartUpload(ctx, repo, id); err != nil {
		return "", originErr(err)
	}
	return id, nil
}

func (b *blobs) AppendUpload(ctx context.Context, repo, id string, offset int64, r io.Reader) (int64, error) {
	n, err := b.cluster.ForKey(id).PatchUpload(ctx, repo, id, offset, r)
	return n, originErr(err)
}

func (b *blobs) UploadSize(ctx context.Context, repo, id string) (int64, error) {
	n, err := b.cluster.ForKey(id).UploadSize(ctx, repo, id)
	return n, originErr(err)
}

func (b *blobs) CommitUpload(ctx context.Context, repo, id string, d core.Digest) error {
	if err := b.cluster.ForKey(id).CommitUpload(ctx, repo, id, d); err != nil {
		return originErr(err)
	}
	return b.links.LinkBlob(ctx, repo, d)
}

func (b *blobs) CancelUpload(ctx context.Context, repo, id string) error {
	return originErr(b.cluster.ForKey(id).CancelUpload(ctx, repo, id))
}

func (b *blobs) PutBlob(ctx context.Context, repo string, d core.Digest, size int64, r io.Reader) error {
	if err := b.cluster.Upload(ctx, repo, d, size, r); err != nil {
		return originErr(err)
	}
	return b.links.LinkBlob(ctx, repo, d)
}

// MountBlob links d into repository to. With from == "" (automatic mount) any stored copy
// will do.
func (b *blobs) MountBlob(ctx context.Context, from, to string, d core.Digest) error {
	if from != "" {
		if err := b.links.HasBlob(ctx, from, d); err != nil {
			return err
		}
	}
	if _, err := b.cluster.Stat(ctx, to, d); err != nil {
		return originErr(err)
	}
	return b.links.LinkBlob(ctx, to, d)
}

// DeleteBlob unlinks d from repo; the content stays on the origins for other repositories
// and is garbage-collected once nothing references it.
func (b *blobs) DeleteBlob(ctx context.Context, repo string, d core.Digest) error {
	return b.links.UnlinkBlob(ctx, repo, d)
}

// remoteBlob is a seekable view of a blob on the origins. Seeking only records the offset; the
// first Read after a Seek opens a download from that offset, so http.ServeContent's size probe
// (Seek to the end and back) costs no request, and a download covers only the bytes the
// handler said it will read (LimitRead), so a Range request fetches only its range.
type remoteBlob struct {
	ctx     context.Context
	cluster *client.Cluster
	repo    string
	d       core.Digest
	size    int64
	off     int64
	limit   int64 // bytes the next download is to cover from off (LimitRead), 0 for all
	end     int64 // where the open download ends
	body    io.ReadCloser
}

var _ registry.ReadLimiter = (*remoteBlob)(nil)

// LimitRead makes the next download cover n bytes from the current offset.
func (r *remoteBlob) LimitRead(n int64) { r.limit = n }

func (r *remoteBlob) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		length := int64(-1)
		r.end = r.size
		if r.limit > 0 && r.off+r.limit < r.size {
			length, r.end = r.limit, r.off+r.limit
		}
		r.limit = 0
		body, err := r.cluster.Download(r.ctx, r.repo, r.d, r.off, length)
		if err != nil {
			return 0, originErr(err)
		}
		r.body = body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	if err == io.EOF {
		switch {
		case r.off < r.end:
			err = fmt.Errorf("blob %s: origin closed the stream at %d of %d bytes: %w", r.d, r.off, r.end, io.ErrUnexpectedEOF)
		case r.off < r.size:
			// The limited download is done; reading on opens another to the end.
			r.body.Close()
			r.body, err = nil, nil
		}
	}
	return n, err
}

func (r *remoteBlob) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("blob %s: bad whence %d", r.d, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("blob %s: negative offset %d", r.d, abs)
	}
	if abs != r.off {
		if r.body != nil {
			r.body.Close()
			r.body = nil
		}
		r.limit = 0
	}
	r.off = abs
	return abs, nil
}

func (r *remoteBlob) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
