package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
)

// fakePartial is a download in progress over data whose verified prefix the test moves.
type fakePartial struct {
	data    []byte
	mu      sync.Mutex
	n       int64
	ended   bool
	changed chan struct{}
}

func newFakePartial(data []byte) *fakePartial {
	return &fakePartial{data: data, changed: make(chan struct{})}
}

func (p *fakePartial) Size() int64 { return int64(len(p.data)) }

func (p *fakePartial) Verified() (int64, <-chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return p.n, nil, true
	}
	return p.n, p.changed, false
}

// set moves the verified prefix to n and ends the download if ended.
func (p *fakePartial) set(n int64, ended bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n, p.ended = n, ended
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *fakePartial) ReadAt(b []byte, off int64) (int, error) {
	return bytes.NewReader(p.data).ReadAt(b, off)
}

func (p *fakePartial) Section(off, n int64) (io.Reader, error) {
	return io.NewSectionReader(p, off, n), nil
}

func (p *fakePartial) Close() error { return nil }

// gatedDownloader's downloads end when the test sends their result (nil publishes the blob
// in the cache) or when their context ends; ctxs receives each download's context, and
// running counts those not returned yet.
type gatedDownloader struct {
	cache   fakeCache
	data    []byte
	result  chan error
	ctxs    chan context.Context
	running sync.WaitGroup
}

func (g *gatedDownloader) Download(ctx context.Context, _ string, d core.Digest) error {
	g.running.Add(1)
	defer g.running.Done()
	g.ctxs <- ctx
	select {
	case err := <-g.result:
		if err == nil {
			err = os.WriteFile(g.cache.path(d), g.data, 0o644)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// streamSetup returns blobs over an empty cache whose downloads of a 300-byte blob are
// gated, with a Partial view p once the download has started.
func streamSetup(t *testing.T) (*blobs, *gatedDownloader, *fakePartial, []byte, core.Digest) {
	t.Helper()
	data := bytes.Repeat([]byte("0123456789"), 30)
	cache := fakeCache{dir: t.TempDir()}
	g := &gatedDownloader{cache: cache, data: data, result: make(chan error, 1), ctxs: make(chan context.Context, 4)}
	// A download the pull left running publishes after the test's last step: the cache
	// directory is removed only once it has returned.
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { g.running.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("a download was still running 5 s after the test")
		}
	})
	p := newFakePartial(data)
	b := &blobs{cache: cache, dl: g, partial: func(core.Digest) partialBlob { return p }}
	return b, g, p, data, core.SHA256Digest(data)
}

// openAsync opens d in the background; Open waits for the download's first verified bytes.
func openAsync(b *blobs, d core.Digest) <-chan io.ReadSeekCloser {
	return openAsyncCtx(context.Background(), b, d)
}

// openAsyncCtx is openAsync for a request that ends with ctx.
func openAsyncCtx(ctx context.Context, b *blobs, d core.Digest) <-chan io.ReadSeekCloser {
	c := make(chan io.ReadSeekCloser, 1)
	go func() {
		rc, err := b.Open(ctx, "repo", d)
		if err != nil {
			rc = nil
		}
		c <- rc
	}()
	return c
}

// readN reads exactly n bytes from r, failing the test after a few seconds.
func readN(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(r, buf); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %d bytes within 5 s", n)
	}
	return buf
}

// A pull during the download gets the verified prefix as it grows and the end only once the
// whole blob is verified; having read it all, it leaves the download running to publish.
func TestStreamVerifiedPrefix(t *testing.T) {
	b, g, p, data, d := streamSetup(t)
	reqCtx, endRequest := context.WithCancel(context.Background())
	defer endRequest()
	opened := openAsyncCtx(reqCtx, b, d)
	dctx := <-g.ctxs
	select {
	case <-opened:
		t.Fatal("Open returned before any piece verified")
	case <-time.After(20 * time.Millisecond):
	}
	p.set(100, false)
	rc := <-opened
	if rc == nil {
		t.Fatal("Open failed")
	}
	if size, err := rc.Seek(0, io.SeekEnd); err != nil || size != int64(len(data)) {
		t.Fatalf("Seek(0, End) = %d, %v", size, err)
	}
	rc.Seek(0, io.SeekStart)
	if got := readN(t, rc, 100); !bytes.Equal(got, data[:100]) {
		t.Fatalf("prefix %q", got)
	}
	more := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(rc); more <- b }()
	p.set(250, false)
	p.set(300, false) // whole blob verified
	select {
	case got := <-more:
		if !bytes.Equal(got, data[100:]) {
			t.Fatalf("rest %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the rest did not come")
	}
	rc.Close()
	endRequest() // as net/http does when the handler returns
	time.Sleep(50 * time.Millisecond)
	if dctx.Err() != nil {
		t.Fatal("ending a pull that read the whole blob cancelled the download")
	}
	g.result <- nil
}

// WriteRange (how the registry handler sends a streaming body) writes a range as the
// verified prefix reaches it, and stops with an error, short, when the download fails.
func TestStreamWriteRange(t *testing.T) {
	b, g, p, data, d := streamSetup(t)
	opened := openAsync(b, d)
	<-g.ctxs
	p.set(100, false)
	rc := (<-opened).(*streamingBlob)
	defer rc.Close()
	rc.Seek(50, io.SeekStart)
	type result struct {
		n   int64
		err error
	}
	var buf bytes.Buffer
	done := make(chan result, 1)
	go func() { n, err := rc.WriteRange(&buf, 200); done <- result{n, err} }()
	p.set(180, false)
	p.set(300, false)
	select {
	case r := <-done:
		if r.err != nil || r.n != 200 || !bytes.Equal(buf.Bytes(), data[50:250]) {
			t.Fatalf("WriteRange = %d, %v; wrote %d bytes, equal to the range: %v", r.n, r.err, buf.Len(), bytes.Equal(buf.Bytes(), data[50:250]))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteRange did not return")
	}

	b, g, p, _, d = streamSetup(t)
	opened = openAsync(b, d)
	<-g.ctxs
	p.set(100, false)
	rc2 := (<-opened).(*streamingBlob)
	defer rc2.Close()
	buf.Reset()
	go func() { n, err := rc2.WriteRange(&buf, 300); done <- result{n, err} }()
	mismatch := errors.New("digest mismatch")
	p.set(100, true)
	g.result <- mismatch
	select {
	case r := <-done:
		if !errors.Is(r.err, mismatch) || r.n != 100 || buf.Len() != 100 {
			t.Fatalf("WriteRange after a failed download = %d, %v (wrote %d)", r.n, r.err, buf.Len())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteRange did not return after the download failed")
	}
}

// A download that fails after a verified prefix (the whole blob did not match) fails the
// read: the response is cut short, never completed.
func TestStreamDownloadFails(t *testing.T) {
	b, g, p, data, d := streamSetup(t)
	opened := openAsync(b, d)
	<-g.ctxs
	p.set(100, false)
	rc := <-opened
	defer rc.Close()
	if got := readN(t, rc, 100); !bytes.Equal(got, data[:100]) {
		t.Fatalf("prefix %q", got)
	}
	p.set(100, true)
	mismatch := errors.New("digest mismatch")
	g.result <- mismatch
	if _, err := io.ReadAll(rc); !errors.Is(err, mismatch) {
		t.Fatalf("read after the failure: %v, want %v", err, mismatch)
	}
}

// Before any piece verified the blob may not exist: a download that finds none answers the
// pull with ErrBlobUnknown (404), not a cut 200.
func TestStreamUnknownBlob(t *testing.T) {
	b, g, _, _, d := streamSetup(t)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Open(context.Background(), "repo", d)
		errc <- err
	}()
	<-g.ctxs
	g.result <- registry.ErrBlobUnknown
	if err := <-errc; !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("Open = %v, want ErrBlobUnknown", err)
	}
}

// When the download's attempt ends short of the whole blob and the blob is published another
// way (a retry, the HTTP fallback), the pull goes on from the published blob.
func TestStreamFromPublished(t *testing.T) {
	b, g, p, data, d := streamSetup(t)
	opened := openAsync(b, d)
	<-g.ctxs
	p.set(100, false)
	rc := <-opened
	defer rc.Close()
	if got := readN(t, rc, 100); !bytes.Equal(got, data[:100]) {
		t.Fatalf("prefix %q", got)
	}
	p.set(100, true)
	g.result <- nil
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data[100:]) {
		t.Fatalf("rest %q, %v", got, err)
	}
}

// A pull that stops early stops the download it started (no other pull waits for it).
func TestStreamPullGivesUp(t *testing.T) {
	b, g, p, data, d := streamSetup(t)
	opened := openAsync(b, d)
	dctx := <-g.ctxs
	p.set(100, false)
	rc := <-opened
	if got := readN(t, rc, 50); !bytes.Equal(got, data[:50]) {
		t.Fatalf("prefix %q", got)
	}
	rc.Close()
	if dctx.Err() == nil {
		t.Fatal("the download goes on after the only pull gave up")
	}
}
