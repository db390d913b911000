package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docket-p2p/docket/buildindex"
	biclient "github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin"
	originclient "github.com/docket-p2p/docket/origin/client"
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

var discard = slog.New(slog.DiscardHandler)

// testOrigin is a real origin on 127.0.0.1 behind a handler that counts blob GETs per digest.
type testOrigin struct {
	addr string
	srv  *origin.Server
	hs   *http.Server

	mu   sync.Mutex
	gets map[string]int
}

func startOrigin(t *testing.T) *testOrigin {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &testOrigin{addr: l.Addr().String(), gets: make(map[string]int)}
	o.srv, err = origin.New(origin.Config{Listen: o.addr, PeerListen: "127.0.0.1:0", Tracker: origin.TrackerNone, DataDir: t.TempDir(), Replicas: 1}, discard, metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	h := o.srv.Handler()
	o.hs = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			if i := strings.Index(r.URL.Path, "/blobs/"); i >= 0 {
				o.mu.Lock()
				o.gets[r.URL.Path[i+len("/blobs/"):]]++
				o.mu.Unlock()
			}
		}
		h.ServeHTTP(w, r)
	})}
	go o.hs.Serve(l)
	t.Cleanup(o.stop)
	return o
}

func (o *testOrigin) stop() {
	o.hs.Close()
	o.srv.Close()
}

func (o *testOrigin) downloads(d core.Digest) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gets[d.String()]
}

func (o *testOrigin) put(t *testing.T, b []byte) core.Digest {
	t.Helper()
	d := core.SHA256Digest(b)
	if err := o.srv.Store().Put(context.Background(), d, int64(len(b)), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return d
}

// startBuildIndex runs a real build-index on the fs backend.
func startBuildIndex(t *testing.T) string {
	t.Helper()
	s, err := buildindex.New(buildindex.Config{
		Listen:  "127.0.0.1:0",
		Backend: buildindex.BackendConfig{Type: buildindex.BackendFS, Root: t.TempDir()},
	}, discard, metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// closedAddr is an address nothing listens on: these agents have no tracker, so every pull
// falls back to the origin over HTTP.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startAgent runs an agent with its cache in dataDir and returns its base URL; opts adjust
// its configuration.
func startAgent(t *testing.T, dataDir, originAddr, indexAddr string, opts ...func(*Config)) string {
	t.Helper()
	cfg := Config{
		Listen:     "127.0.0.1:0",
		DataDir:    dataDir,
		Ring:       originclient.Ring{Origins: []string{originAddr}, Replicas: 1},
		BuildIndex: indexAddr,
		PeerListen: "127.0.0.1:0",
		Tracker:    closedAddr(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := New(cfg, discard, metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(a.Handler())
	t.Cleanup(func() { ts.Close(); a.Close() })
	return ts.URL
}

// image is a one-layer OCI image seeded on the origin and tagged in the build-index.
type image struct {
	manifest, config, layer []byte
	md, cd, ld              core.Digest
}

func seedImage(t *testing.T, o *testOrigin, indexAddr, repo, tag string, layerSize int) image {
	t.Helper()
	var img image
	img.layer = make([]byte, layerSize)
	if _, err := rand.Read(img.layer); err != nil {
		t.Fatal(err)
	}
	img.config = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	img.ld, img.cd = o.put(t, img.layer), o.put(t, img.config)
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.cd, "size": len(img.config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": img.ld, "size": len(img.layer)}},
	}
	var err error
	if img.manifest, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	img.md = o.put(t, img.manifest)
	e := core.ManifestEntry{Descriptor: core.Descriptor{MediaType: ociManifest, Digest: img.md, Size: int64(len(img.manifest))}}
	if err := biclient.New(indexAddr, nil).PutManifest(context.Background(), repo, e, tag); err != nil {
		t.Fatal(err)
	}
	return img
}

// get fetches url and returns the status, the body and the Docker-Content-Digest header.
func get(t *testing.T, url string) (int, []byte, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", ociManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header.Get("Docker-Content-Digest")
}

// pull fetches the image by tag and every blob it names, checking each against its digest.
func pull(t *testing.T, agentURL, repo, tag string, img image) {
	t.Helper()
	status, b, dcd := get(t, agentURL+"/v2/"+repo+"/manifests/"+tag)
	if status != http.StatusOK || !bytes.Equal(b, img.manifest) || dcd != img.md.String() {
		t.Fatalf("manifest %s:%s: status %d, digest %q, %d bytes", repo, tag, status, dcd, len(b))
	}
	for _, blob := range []struct {
		d    core.Digest
		want []byte
	}{{img.cd, img.config}, {img.ld, img.layer}} {
		status, b, _ := get(t, agentURL+"/v2/"+repo+"/blobs/"+blob.d.String())
		if status != http.StatusOK || core.SHA256Digest(b) != blob.d {
			t.Fatalf("blob %s: status %d, %d bytes of %d", blob.d, status, len(b), len(blob.want))
		}
	}
}

// TestPullThenServeFromDisk: the first pull fetches every blob from the origin once; with the
// origin gone a second pull is served from the agent's disk.
func TestPullThenServeFromDisk(t *testing.T) {
	o := startOrigin(t)
	index := startBuildIndex(t)
	img := seedImage(t, o, index, "library/app", "v1", 3<<20)
	agentURL := startAgent(t, t.TempDir(), o.addr, index)

	pull(t, agentURL, "library/app", "v1", img)
	for _, d := range []core.Digest{img.md, img.cd, img.ld} {
		if n := o.downloads(d); n != 1 {
			t.Fatalf("%s downloaded %d times from the origin, want 1", d, n)
		}
	}
	o.stop()
	pull(t, agentURL, "library/app", "v1", img)
	// A Range request is served from the cached file too.
	req, _ := http.NewRequest(http.MethodGet, agentURL+"/v2/library/app/blobs/"+img.ld.String(), nil)
	req.Header.Set("Range", "bytes=10-19")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, img.layer[10:20]) {
		t.Fatalf("range: %s, %q", resp.Status, b)
	}
}

// TestConcurrentPullsShareOneDownload: many clients pulling one blob at once cause a single
// origin download.
func TestConcurrentPullsShareOneDownload(t *testing.T) {
	o := startOrigin(t)
	index := startBuildIndex(t)
	img := seedImage(t, o, index, "app", "latest", 16<<20)
	agentURL := startAgent(t, t.TempDir(), o.addr, index)

	const clients = 12
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(agentURL + "/v2/app/blobs/" + img.ld.String())
			if err != nil {
				failed.Add(1)
				return
			}
			defer resp.Body.Close()
			d, n, err := core.DigestReader(core.SHA256, resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK || d != img.ld || n != int64(len(img.layer)) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d pulls failed", n, clients)
	}
	if n := o.downloads(img.ld); n != 1 {
		t.Fatalf("%d origin downloads for %d concurrent pulls, want 1", n, clients)
	}
}

// TestCorruptOrigin: an origin that serves the wrong bytes gets an error to the client and
// leaves nothing in the agent's store.
func TestCorruptOrigin(t *testing.T) {
	good := make([]byte, 1<<20)
	if _, err := rand.Read(good); err != nil {
		t.Fatal(err)
	}
	d := core.SHA256Digest(good)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0xff
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(bad)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(bad)
		}
	}))
	t.Cleanup(fake.Close)
	index := startBuildIndex(t)
	dataDir := t.TempDir()
	agentURL := startAgent(t, dataDir, fake.Listener.Addr().String(), index)

	status, _, _ := get(t, agentURL+"/v2/app/blobs/"+d.String())
	if status != http.StatusServiceUnavailable {
		t.Fatalf("corrupt blob: status %d, want 503 (the source failed, retry later)", status)
	}
	var files []string
	_ = filepath.WalkDir(filepath.Join(dataDir, "blobs"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("corrupt download left %v", files)
	}
}

// TestUnknownBlobAndTag: what neither the origin nor the build-index knows is a 404.
func TestUnknownBlobAndTag(t *testing.T) {
	o := startOrigin(t)
	index := startBuildIndex(t)
	agentURL := startAgent(t, t.TempDir(), o.addr, index)
	if status, _, _ := get(t, agentURL+"/v2/app/blobs/"+core.SHA256Digest([]byte("none")).String()); status != http.StatusNotFound {
		t.Fatalf("unknown blob: status %d", status)
	}
	if status, _, _ := get(t, agentURL+"/v2/app/manifests/nope"); status != http.StatusNotFound {
		t.Fatalf("unknown tag: status %d", status)
	}
}

// TestBuildIndexDown: without the build-index tags cannot resolve (503, retryable), while
// blobs, which need only the origin, are still served.
func TestBuildIndexDown(t *testing.T) {
	o := startOrigin(t)
	s, err := buildindex.New(buildindex.Config{
		Listen:  "127.0.0.1:0",
		Backend: buildindex.BackendConfig{Type: buildindex.BackendFS, Root: t.TempDir()},
	}, discard, metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	index := ts.Listener.Addr().String()
	img := seedImage(t, o, index, "app", "v1", 64<<10)
	agentURL := startAgent(t, t.TempDir(), o.addr, index)
	ts.Close()

	if status, _, _ := get(t, agentURL+"/v2/app/manifests/v1"); status != http.StatusServiceUnavailable {
		t.Fatalf("tag with the build-index down: status %d, want 503", status)
	}
	if status, b, _ := get(t, agentURL+"/v2/app/blobs/"+img.ld.String()); status != http.StatusOK || !bytes.Equal(b, img.layer) {
		t.Fatalf("blob with the build-index down: status %d", status)
	}
}

// TestMetrics: a pull shows up on /metrics as downloads, bytes and cache misses, and a second
// pull as cache hits.
func TestMetrics(t *testing.T) {
	o := startOrigin(t)
	index := startBuildIndex(t)
	img := seedImage(t, o, index, "app", "v1", 128<<10)
	reg := metrics.New("agent")
	t.Cleanup(func() { reg.Close() })
	a, err := New(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Ring: originclient.Ring{Origins: []string{o.addr}, Replicas: 1}, BuildIndex: index,
		PeerListen: "127.0.0.1:0", Tracker: closedAddr(t)}, discard, reg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(a.Handler())
	t.Cleanup(func() { ts.Close(); a.Close() })
	pull(t, ts.URL, "app", "v1", img)
	pull(t, ts.URL, "app", "v1", img)

	want := []string{
		"docket_agent_download_downloads 3",
		"docket_agent_download_cache_misses 3",
		"docket_agent_download_cache_hits",
		"docket_agent_download_bytes " + strconv.Itoa(len(img.manifest)+len(img.config)+len(img.layer)),
		"docket_agent_download_download_time",
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b, _ := get(t, ts.URL+"/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
