package agent

import (
	"context"
	"io"
	"os"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
)

// cache is what the agent's registry view needs of its store.
type cache interface {
	Stat(d core.Digest) (int64, error)
	Open(d core.Digest) (*os.File, error)
	// Pin keeps d from eviction under the disk budget until unpin is called.
	Pin(d core.Digest) (unpin func())
}

// blobs serves the registry's read-only blob interface from the agent's cache, bringing a blob
// in through the Downloader first when it is missing. Nothing is served that the store has not
// verified against its digest.
type blobs struct {
	cache cache
	dl    Downloader
}

var _ registry.Blobs = (*blobs)(nil)

func (b *blobs) Stat(ctx context.Context, repo string, d core.Digest) (int64, error) {
	if n, err := b.cache.Stat(d); err == nil {
		return n, nil
	}
	if err := b.dl.Download(ctx, repo, d); err != nil {
		return 0, err
	}
	return b.cache.Stat(d)
}

// Open returns the cached file, an io.ReadSeekCloser that http.ServeContent serves with
// sendfile and Range support. The blob is pinned (never evicted) until the file is closed.
func (b *blobs) Open(ctx context.Context, repo string, d core.Digest) (io.ReadSeekCloser, error) {
	unpin := b.cache.Pin(d)
	f, err := b.cache.Open(d)
	if err != nil {
		if err = b.dl.Download(ctx, repo, d); err == nil {
			f, err = b.cache.Open(d)
		}
	}
	if err != nil {
		unpin()
		return nil, err
	}
	return &pinnedFile{File: f, unpin: unpin}, nil
}

// pinnedFile is a cached blob open for serving, unpinned when closed. The embedded *os.File
// keeps it a syscall.Conn, so it still goes out with sendfile.
type pinnedFile struct {
	*os.File
	unpin func()
}

func (p *pinnedFile) Close() error {
	defer p.unpin()
	return p.File.Close()
}
