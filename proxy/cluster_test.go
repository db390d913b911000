package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/docket-p2p/docket/buildindex"
	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/membership"
	"github.com/docket-p2p/docket/lib/membership/membershiptest"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin"
	originclient "github.com/docket-p2p/docket/origin/client"
)

// stack is a proxy in front of real origins (sharing one fs backend) and a real build-index.
type stack struct {
	host string
	// stopOrigin[i] stops origin i before the test ends; it is safe to call more than once.
	stopOrigin  []func()
	origins     []*origin.Server
	proxy       *Server
	backendRoot string
	// teamRoot is the fs backend of namespaces matching ^team/ (a namespace row); every other
	// repository writes back to backendRoot.
	teamRoot string
	// originAddrs and indexAddr are where the origins and the build-index listen.
	originAddrs []string
	indexAddr   string
	// originSent counts the bytes the origins wrote to their HTTP connections.
	originSent *atomic.Int64
}

// countingListener counts the bytes written to the connections it accepts into sent.
type countingListener struct {
	net.Listener
	sent *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, sent: l.sent}, nil
}

type countingConn struct {
	net.Conn
	sent *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent.Add(int64(n))
	return n, err
}

// startStack starts n origins (ring replicas r), a build-index and a proxy on 127.0.0.1 and
// stops them all when the test ends.
func startStack(t *testing.T, n, r int) *stack { return startStackWith(t, n, r, nil, 0) }

// startStackWith is startStack with a clock shared by the origins and the proxy (nil:
// time.Now) and the proxy's GC grace period (0: the default).
func startStackWith(t *testing.T, n, r int, now func() time.Time, gcGrace time.Duration) *stack {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	ls := make([]net.Listener, n)
	addrs := make([]string, n)
	for i := range ls {
		ls[i] = listen(t)
		addrs[i] = ls[i].Addr().String()
	}
	backendRoot, teamRoot := t.TempDir(), t.TempDir()
	st := &stack{backendRoot: backendRoot, teamRoot: teamRoot, originAddrs: addrs, originSent: new(atomic.Int64)}
	for i, l := range ls {
		o, err := origin.New(origin.Config{Listen: addrs[i], PeerListen: "127.0.0.1:0", Tracker: origin.TrackerNone, Self: addrs[i], Cluster: addrs, Replicas: r,
			DataDir: t.TempDir(), Backend: origin.BackendConfig{Type: "fs", Root: backendRoot},
			Namespaces: []backends.NamespaceConfig{{Namespace: "^team/", Backend: origin.BackendConfig{Type: "fs", Root: teamRoot}}},
			Now:        now}, log, metrics.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		st.stopOrigin = append(st.stopOrigin, serveStoppable(t, countingListener{Listener: l, sent: st.originSent}, o))
		st.origins = append(st.origins, o)
	}
	bl := listen(t)
	bi, err := buildindex.New(buildindex.Config{Listen: bl.Addr().String(),
		Backend: buildindex.BackendConfig{Type: buildindex.BackendFS, Root: t.TempDir()}}, log, metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	serve(t, bl, bi)
	st.indexAddr = bl.Addr().String()
	pl := listen(t)
	p, err := New(Config{Listen: pl.Addr().String(), Ring: originclient.Ring{Origins: addrs, Replicas: r}, BuildIndex: bl.Addr().String(),
		Now: now, GCGrace: gcGrace}, log, metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	serve(t, pl, p)
	st.host, st.proxy = pl.Addr().String(), p
	return st
}

// serveStoppable serves s on l until the returned function is called or the test ends.
func serveStoppable(t *testing.T, l net.Listener, s server) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		s.Close()
	}
	t.Cleanup(stop)
	return stop
}

// do sends one request to the proxy and returns the status, headers and body.
func do(t *testing.T, method, url string, hdr map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestBlobsPerRepository checks what the proxy adds to the origins' content store: a blob
// is visible only in repositories it was pushed or mounted into, ranges download only their
// bytes (from the origins too), and deleting from one repository leaves the others' link
// alone.
func TestBlobsPerRepository(t *testing.T) {
	st := startStack(t, 3, 2)
	base := "http://" + st.host + "/v2/"
	blob := make([]byte, 8<<20)
	rand.Read(blob)
	d := core.SHA256Digest(blob)

	code, hdr, _ := do(t, http.MethodPost, base+"repo/a/blobs/uploads/?digest="+d.String(),
		map[string]string{"Content-Type": "application/octet-stream"}, blob)
	if code != http.StatusCreated || hdr.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("monolithic push: %d %v", code, hdr)
	}
	if code, _, body := do(t, http.MethodGet, base+"repo/b/blobs/"+d.String(), nil, nil); code != http.StatusNotFound || !bytes.Contains(body, []byte("BLOB_UNKNOWN")) {
		t.Fatalf("blob of repo/a in repo/b: %d %s", code, body)
	}
	for _, tc := range []struct {
		rng        string
		start, end int
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=1000-70000", 1000, 70000},
		{"bytes=-4096", len(blob) - 4096, len(blob) - 1},
		{"bytes=200000-", 200000, len(blob) - 1},
		{"bytes=4194304-4194815", 4 << 20, 4<<20 + 511},
	} {
		before := st.originSent.Load()
		code, hdr, body := do(t, http.MethodGet, base+"repo/a/blobs/"+d.String(), map[string]string{"Range": tc.rng}, nil)
		want := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, len(blob))
		if code != http.StatusPartialContent || hdr.Get("Content-Range") != want || !bytes.Equal(body, blob[tc.start:tc.end+1]) {
			t.Fatalf("Range %s: %d %q, %d bytes; want 206 %q", tc.rng, code, hdr.Get("Content-Range"), len(body), want)
		}
		// The range, plus headers of the proxy's requests (a stat, the download).
		if sent, most := st.originSent.Load()-before, int64(len(body))+8<<10; sent > most {
			t.Fatalf("Range %s: the origins sent %d bytes for %d, want at most %d", tc.rng, sent, len(body), most)
		}
	}
	if code, hdr, _ := do(t, http.MethodGet, base+"repo/a/blobs/"+d.String(), map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(blob))}, nil); code != http.StatusRequestedRangeNotSatisfiable ||
		hdr.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(blob)) {
		t.Fatalf("range past the end: %d %q", code, hdr.Get("Content-Range"))
	}

	code, hdr, _ = do(t, http.MethodPost, base+"repo/b/blobs/uploads/?mount="+d.String()+"&from=repo/a", nil, nil)
	if code != http.StatusCreated || hdr.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("mount: %d %v", code, hdr)
	}
	if code, _, _ := do(t, http.MethodDelete, base+"repo/a/blobs/"+d.String(), nil, nil); code != http.StatusAccepted {
		t.Fatalf("delete from repo/a: %d", code)
	}
	if code, _, _ := do(t, http.MethodHead, base+"repo/a/blobs/"+d.String(), nil, nil); code != http.StatusNotFound {
		t.Fatalf("HEAD in repo/a after delete: %d", code)
	}
	if code, _, body := do(t, http.MethodGet, base+"repo/b/blobs/"+d.String(), nil, nil); code != http.StatusOK || !bytes.Equal(body, blob) {
		t.Fatalf("GET in repo/b after repo/a's delete: %d, %d bytes", code, len(body))
	}
	// A mount from a repository that does not hold the blob opens an upload session instead.
	code, hdr, _ = do(t, http.MethodPost, base+"repo/c/blobs/uploads/?mount="+d.String()+"&from=repo/a", nil, nil)
	if code != http.StatusAccepted || hdr.Get("Location") == "" {
		t.Fatalf("mount from a repository without the blob: %d %v", code, hdr)
	}
}

// TestPullWithOriginDown pushes an image through the proxy and pulls it with one of three
// origins stopped: every blob and manifest has a second owner on the ring (replicas 2), so
// the cluster client fails over and the pull succeeds, byte for byte.
func TestPullWithOriginDown(t *testing.T) {
	st := startStack(t, 3, 2)
	img, err := random.Image(128<<10, 5)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(st.host+"/failover/img:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	st.stopOrigin[0]()
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pull with an origin down: %v", err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("pull with an origin down: %v", err)
	}
}

// TestOriginsFromDNS: a proxy that takes the origin ring from DNS (origins_dns) pushes where a
// proxy with the static list finds the image.
func TestOriginsFromDNS(t *testing.T) {
	st := startStack(t, 1, 1)
	_, port, err := net.SplitHostPort(st.originAddrs[0])
	if err != nil {
		t.Fatal(err)
	}
	dns := membershiptest.StartDNS(t)
	dns.SetA("origins.test.", "127.0.0.1")
	pl := listen(t)
	p, err := New(Config{Listen: pl.Addr().String(), BuildIndex: st.indexAddr,
		Ring: originclient.Ring{Replicas: 1, OriginsDNS: membership.Source{DNS: "origins.test.:" + port, Resolver: dns.Resolver()}}},
		slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	serve(t, pl, p)
	img, err := random.Image(8<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	push, err := name.ParseReference(pl.Addr().String()+"/dns/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(push, img); err != nil {
		t.Fatalf("push through the DNS-configured proxy: %v", err)
	}
	pullRef, err := name.ParseReference(st.host+"/dns/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(pullRef)
	if err != nil {
		t.Fatalf("pull through the static proxy: %v", err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatal(err)
	}
}
