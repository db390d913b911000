package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

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
// in through the Downloader first when it is missing. A pull of a blob being downloaded is
// served while the download runs, from its verified prefix (partial), which holds the blob's
// last piece back until the whole blob has matched its digest: no response completes with
// content that has not been verified.
type blobs struct {
	cache cache
	dl    Downloader
	// partial, if set, returns a view of d's download in progress, or nil when none runs.
	partial func(d core.Digest) partialBlob
}

// partialBlob is a download in progress (scheduler.Partial): bytes [0, n) of the blob, with
// n from Verified, are verified pieces and may be read, and n reaches the blob's size only once
// the whole blob matched its digest; changed is closed when n grows or the download ends.
type partialBlob interface {
	Size() int64
	Verified() (n int64, changed <-chan struct{}, ended bool)
	blobSource
	io.Closer
}

// blobSource is where a pull's bytes come from: a download's file or the published blob's.
// Section returns n bytes from off, as a reader that a socket takes by sendfile when it can
// (the file, at that offset; it moves the handle's offset, so one reader at a time).
type blobSource interface {
	io.ReaderAt
	Section(off, n int64) (io.Reader, error)
}

// partialPoll is how often a pull waiting for a download looks for its verified prefix (from
// when the transfer starts until the download has its metainfo and file).
const partialPoll = 5 * time.Millisecond

var (
	_ registry.Blobs       = (*blobs)(nil)
	_ registry.RangeWriter = (*streamingBlob)(nil)
)

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
// A missing blob is downloaded; with partial set, what Open returns then reads the download
// as it verifies (streamingBlob).
func (b *blobs) Open(ctx context.Context, repo string, d core.Digest) (io.ReadSeekCloser, error) {
	unpin := b.cache.Pin(d)
	f, err := b.cache.Open(d)
	if err == nil {
		return &pinnedFile{File: f, unpin: unpin}, nil
	}
	if b.partial != nil {
		rc, err := b.stream(ctx, repo, d, unpin)
		if err != nil {
			unpin()
		}
		return rc, err
	}
	if err = b.dl.Download(ctx, repo, d); err == nil {
		f, err = b.cache.Open(d)
	}
	if err != nil {
		unpin()
		return nil, err
	}
	return &pinnedFile{File: f, unpin: unpin}, nil
}

// stream starts d's download and waits for it to end or to verify its first piece: the
// published blob in the first case, a streamingBlob in the second. Until a piece has verified
// the blob may not exist at all (the tracker still knows a deleted blob's metainfo), and the
// pull must still be able to answer 404. The result owns unpin, unless stream fails.
func (b *blobs) stream(ctx context.Context, repo string, d core.Digest, unpin func()) (io.ReadSeekCloser, error) {
	// The download outlives a pull that has read the whole blob (it still publishes it), and
	// ends with one that gives up first, unless other pulls wait for it.
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	s := &streamingBlob{b: b, d: d, done: make(chan error, 1), detach: stop, cancel: func() { stop(); cancel() }, unpin: unpin}
	go func() { s.done <- b.dl.Download(dctx, repo, d) }()
	tick := time.NewTicker(partialPoll)
	defer tick.Stop()
	for {
		if s.part == nil {
			s.part = b.partial(d)
		}
		poll := tick.C
		var changed <-chan struct{}
		if s.part != nil {
			n, ch, ended := s.part.Verified()
			if n > 0 {
				s.size = s.part.Size()
				return s, nil
			}
			if ended {
				s.part.Close()
				s.part = nil
			} else {
				changed, poll = ch, nil
			}
		}
		select {
		case err := <-s.done:
			s.cancel()
			if s.part != nil {
				s.part.Close()
			}
			if err != nil {
				return nil, err
			}
			f, err := b.cache.Open(d)
			if err != nil {
				return nil, err
			}
			return &pinnedFile{File: f, unpin: unpin}, nil
		case <-changed:
		case <-poll:
		}
	}
}

// streamingBlob is a pull of a blob served while its download runs: bytes come from the
// download's verified prefix, and from the published blob when the download succeeded with
// none (a retry, the HTTP fallback). A failed download fails the read, which cuts the response
// short.
type streamingBlob struct {
	b      *blobs
	d      core.Digest
	size   int64
	off    int64
	part   partialBlob // the download's prefix, while it runs
	pub    *publishedBlob
	done   chan error // the download's result; received once (finished)
	cancel context.CancelFunc
	detach func() bool // stops the pull's context from cancelling the download
	unpin  func()

	finished bool
	// readToEnd is set once the blob's last byte was read from the download.
	readToEnd bool
}

// publishedBlob is the blob once in the store, and its size.
type publishedBlob struct {
	*os.File
	size int64
}

func (p *publishedBlob) Section(off, n int64) (io.Reader, error) {
	if _, err := p.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return &io.LimitedReader{R: p.File, N: n}, nil
}

func (s *streamingBlob) openPublished() error {
	f, err := s.b.cache.Open(s.d)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.pub = &publishedBlob{File: f, size: fi.Size()}
	return nil
}

func (s *streamingBlob) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	src, k, err := s.ready(int64(len(p)))
	if err != nil {
		return 0, err
	}
	n, err := src.ReadAt(p[:k], s.off)
	s.moved(int64(n))
	if err == io.EOF && int64(n) == k {
		err = nil
	}
	return n, err
}

// WriteRange writes the n bytes from the offset to w (registry.RangeWriter): each stretch
// that is there to read goes in one copy from the file, which a socket takes by sendfile,
// instead of a read(2) and a write(2) per buffer.
func (s *streamingBlob) WriteRange(w io.Writer, n int64) (int64, error) {
	var sent int64
	for sent < n {
		if s.off >= s.size {
			return sent, io.ErrUnexpectedEOF
		}
		src, k, err := s.ready(n - sent)
		if err != nil {
			return sent, err
		}
		r, err := src.Section(s.off, k)
		if err != nil {
			return sent, err
		}
		m, err := io.Copy(w, r)
		s.moved(m)
		sent += m
		if err == nil && m < k {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// ready waits until the bytes at the offset can be read and returns where from, with how many
// of them (at most max) are there: the download's verified prefix while it runs, else the
// published blob.
func (s *streamingBlob) ready(max int64) (blobSource, int64, error) {
	for {
		if s.pub != nil {
			return s.pub, min(max, s.size-s.off), nil
		}
		var changed <-chan struct{}
		if s.part != nil {
			n, ch, ended := s.part.Verified()
			if s.off < n {
				return s.part, min(max, n-s.off), nil
			}
			if ended {
				// This attempt is over; a retry may start another, or the download is done.
				s.part.Close()
				s.part = nil
			}
			changed = ch
		}
		if err := s.wait(changed); err != nil {
			return nil, 0, err
		}
	}
}

// moved advances the offset past n bytes read or sent.
func (s *streamingBlob) moved(n int64) {
	s.off += n
	s.readToEnd = s.pub == nil && s.off == s.size
}

// wait returns when changed is closed, or, with changed nil, after partialPoll (having looked
// for a new attempt's prefix), or when the download has ended: an error if it failed, else
// with the published blob open.
func (s *streamingBlob) wait(changed <-chan struct{}) error {
	var poll <-chan time.Time
	if changed == nil {
		t := time.NewTimer(partialPoll)
		defer t.Stop()
		poll = t.C
	}
	select {
	case <-changed:
	case <-poll:
		if s.part = s.b.partial(s.d); s.part != nil && s.part.Size() != s.size {
			return fmt.Errorf("agent: %s: download restarted with %d bytes, was %d", s.d, s.part.Size(), s.size)
		}
	case err := <-s.done:
		s.finished = true
		if err != nil {
			return err
		}
		if err := s.openPublished(); err != nil {
			return err
		}
		if s.pub.size != s.size {
			return fmt.Errorf("agent: %s: published with %d bytes, its download said %d", s.d, s.pub.size, s.size)
		}
	}
	return nil
}

func (s *streamingBlob) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, fmt.Errorf("agent: seek: whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("agent: seek to %d", offset)
	}
	s.off = offset
	return offset, nil
}

// Close releases the files and the pin. A pull that stops short also stops the download,
// unless other pulls wait for it, and waits for it to return.
func (s *streamingBlob) Close() error {
	switch {
	case s.finished:
		s.cancel()
	case s.readToEnd:
		// Read to its end (the verified prefix reaches the end only once the blob matched its
		// digest): the download goes on to publish and seed the blob.
		s.detach()
		go func() {
			<-s.done
			s.cancel()
		}()
	default:
		s.cancel()
		<-s.done
		s.finished = true
	}
	if s.part != nil {
		s.part.Close()
	}
	if s.pub != nil {
		s.pub.Close()
	}
	s.unpin()
	return nil
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
