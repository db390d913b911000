package registry_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
	"github.com/docket-p2p/docket/lib/registry/registrytest"
)

func newServer(t *testing.T, readOnly bool) (*httptest.Server, *registrytest.Memory) {
	t.Helper()
	mem := registrytest.NewMemory()
	srv := httptest.NewServer(registry.New(registry.Options{Blobs: mem, Index: mem, ReadOnly: readOnly}))
	t.Cleanup(srv.Close)
	return srv, mem
}

type call struct {
	name        string
	method, url string
	header      map[string]string
	body        string
	wantStatus  int
	wantCode    string
	wantHeader  map[string]string
	wantBody    string
}

func (c call) run(t *testing.T, base string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.url, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != c.wantStatus {
		t.Fatalf("%s: %s %s: status %d, want %d (body %s)", c.name, c.method, c.url, resp.StatusCode, c.wantStatus, body)
	}
	if c.wantCode != "" {
		var env struct {
			Errors []struct{ Code string } `json:"errors"`
		}
		if err := json.Unmarshal(body, &env); err != nil || len(env.Errors) == 0 || env.Errors[0].Code != c.wantCode {
			t.Fatalf("%s: error body %s, want code %s", c.name, body, c.wantCode)
		}
	}
	for k, v := range c.wantHeader {
		if got := resp.Header.Get(k); got != v {
			t.Fatalf("%s: header %s = %q, want %q", c.name, k, got, v)
		}
	}
	if c.wantBody != "" && string(body) != c.wantBody {
		t.Fatalf("%s: body %q, want %q", c.name, body, c.wantBody)
	}
	return resp
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

func TestCalls(t *testing.T) {
	srv, _ := newServer(t, false)
	blob := "hello blob"
	bd := core.SHA256Digest([]byte(blob))
	cfg := `{"architecture":"amd64","os":"linux"}`
	cd := core.SHA256Digest([]byte(cfg))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		ociManifest, cd, len(cfg), bd, len(blob))
	md := core.SHA256Digest([]byte(manifest))
	referrer := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":%d},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		ociManifest, cd, len(cfg), ociManifest, md, len(manifest))
	wrong := core.SHA256Digest([]byte("nope"))

	for _, c := range []call{
		{name: "ping", method: "GET", url: "/v2/", wantStatus: 200, wantHeader: map[string]string{"Docker-Distribution-API-Version": "registry/2.0"}},
		{name: "monolithic post", method: "POST", url: "/v2/a/b/blobs/uploads/?digest=" + bd.String(), body: blob, wantStatus: 201,
			wantHeader: map[string]string{"Docker-Content-Digest": bd.String(), "Location": "/v2/a/b/blobs/" + bd.String()}},
		{name: "config", method: "POST", url: "/v2/a/b/blobs/uploads/?digest=" + cd.String(), body: cfg, wantStatus: 201},
		{name: "wrong digest", method: "POST", url: "/v2/a/b/blobs/uploads/?digest=" + wrong.String(), body: blob, wantStatus: 400, wantCode: "DIGEST_INVALID"},
		{name: "bad digest", method: "POST", url: "/v2/a/b/blobs/uploads/?digest=sha256:zz", body: blob, wantStatus: 400, wantCode: "DIGEST_INVALID"},
		{name: "head blob", method: "HEAD", url: "/v2/a/b/blobs/" + bd.String(), wantStatus: 200,
			wantHeader: map[string]string{"Content-Length": fmt.Sprint(len(blob)), "Docker-Content-Digest": bd.String()}},
		{name: "range", method: "GET", url: "/v2/a/b/blobs/" + bd.String(), header: map[string]string{"Range": "bytes=6-9"}, wantStatus: 206, wantBody: "blob",
			wantHeader: map[string]string{"Content-Range": fmt.Sprintf("bytes 6-9/%d", len(blob))}},
		{name: "bad range", method: "GET", url: "/v2/a/b/blobs/" + bd.String(), header: map[string]string{"Range": "bytes=100-200"}, wantStatus: 416,
			wantHeader: map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", len(blob))}},
		{name: "suffix range", method: "GET", url: "/v2/a/b/blobs/" + bd.String(), header: map[string]string{"Range": "bytes=-4"}, wantStatus: 206, wantBody: "blob"},
		{name: "stale If-Range", method: "GET", url: "/v2/a/b/blobs/" + bd.String(), header: map[string]string{"Range": "bytes=-4", "If-Range": `"sha256:00"`}, wantStatus: 200, wantBody: blob},
		{name: "not modified", method: "GET", url: "/v2/a/b/blobs/" + bd.String(), header: map[string]string{"If-None-Match": `"` + bd.String() + `"`}, wantStatus: 304},
		{name: "blob in other repo", method: "HEAD", url: "/v2/other/blobs/" + bd.String(), wantStatus: 404},
		{name: "mount", method: "POST", url: "/v2/other/blobs/uploads/?mount=" + bd.String() + "&from=a/b", wantStatus: 201},
		{name: "mount missing", method: "POST", url: "/v2/other/blobs/uploads/?mount=" + wrong.String() + "&from=a/b", wantStatus: 202},
		{name: "missing blob manifest", method: "PUT", url: "/v2/a/b/manifests/x", header: map[string]string{"Content-Type": ociManifest},
			body: strings.ReplaceAll(manifest, bd.String(), wrong.String()), wantStatus: 400, wantCode: "MANIFEST_BLOB_UNKNOWN"},
		{name: "content-type mismatch", method: "PUT", url: "/v2/a/b/manifests/x", header: map[string]string{"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
			body: manifest, wantStatus: 400, wantCode: "MANIFEST_INVALID"},
		{name: "not json", method: "PUT", url: "/v2/a/b/manifests/x", header: map[string]string{"Content-Type": ociManifest}, body: "{", wantStatus: 400, wantCode: "MANIFEST_INVALID"},
		{name: "digest mismatch", method: "PUT", url: "/v2/a/b/manifests/" + wrong.String(), header: map[string]string{"Content-Type": ociManifest},
			body: manifest, wantStatus: 400, wantCode: "DIGEST_INVALID"},
		{name: "put manifest", method: "PUT", url: "/v2/a/b/manifests/v1", header: map[string]string{"Content-Type": ociManifest}, body: manifest, wantStatus: 201,
			wantHeader: map[string]string{"Docker-Content-Digest": md.String()}},
		{name: "get by tag", method: "GET", url: "/v2/a/b/manifests/v1", wantStatus: 200, wantBody: manifest,
			wantHeader: map[string]string{"Content-Type": ociManifest, "Docker-Content-Digest": md.String()}},
		{name: "head by digest", method: "HEAD", url: "/v2/a/b/manifests/" + md.String(), wantStatus: 200},
		{name: "put referrer", method: "PUT", url: "/v2/a/b/manifests/sig", header: map[string]string{"Content-Type": ociManifest}, body: referrer, wantStatus: 201,
			wantHeader: map[string]string{"OCI-Subject": md.String()}},
		{name: "tags", method: "GET", url: "/v2/a/b/tags/list", wantStatus: 200, wantBody: `{"name":"a/b","tags":["sig","v1"]}`},
		{name: "tags page", method: "GET", url: "/v2/a/b/tags/list?n=1", wantStatus: 200, wantBody: `{"name":"a/b","tags":["sig"]}`,
			wantHeader: map[string]string{"Link": `</v2/a/b/tags/list?last=sig&n=1>; rel="next"`}},
		{name: "tags n negative", method: "GET", url: "/v2/a/b/tags/list?n=-1", wantStatus: 400, wantCode: "PAGINATION_NUMBER_INVALID"},
		{name: "tags n text", method: "GET", url: "/v2/a/b/tags/list?n=x", wantStatus: 400, wantCode: "PAGINATION_NUMBER_INVALID"},
		{name: "tags n overflow", method: "GET", url: "/v2/a/b/tags/list?n=99999999999999999999", wantStatus: 400, wantCode: "PAGINATION_NUMBER_INVALID"},
		{name: "tags unknown repo", method: "GET", url: "/v2/nope/tags/list", wantStatus: 404, wantCode: "NAME_UNKNOWN"},
		{name: "catalog", method: "GET", url: "/v2/_catalog", wantStatus: 200, wantBody: `{"repositories":["a/b"]}`},
		{name: "referrers filtered", method: "GET", url: "/v2/a/b/referrers/" + md.String() + "?artifactType=application/vnd.example.sig", wantStatus: 200,
			wantHeader: map[string]string{"OCI-Filters-Applied": "artifactType", "Content-Type": "application/vnd.oci.image.index.v1+json"}},
		{name: "referrers bad digest", method: "GET", url: "/v2/a/b/referrers/sha256:xyz", wantStatus: 400, wantCode: "DIGEST_INVALID"},
		{name: "invalid name", method: "GET", url: "/v2/A/b/tags/list", wantStatus: 400, wantCode: "NAME_INVALID"},
		{name: "dot dot", method: "GET", url: "/v2/a/../b/manifests/v1", wantStatus: 400, wantCode: "NAME_INVALID"},
		{name: "long name", method: "GET", url: "/v2/" + strings.Repeat("a", 256) + "/tags/list", wantStatus: 400, wantCode: "NAME_INVALID"},
		{name: "bad tag", method: "GET", url: "/v2/a/b/manifests/-x", wantStatus: 400, wantCode: "MANIFEST_INVALID"},
		{name: "delete tag", method: "DELETE", url: "/v2/a/b/manifests/sig", wantStatus: 202},
		{name: "deleted tag", method: "GET", url: "/v2/a/b/manifests/sig", wantStatus: 404, wantCode: "MANIFEST_UNKNOWN"},
		{name: "delete manifest", method: "DELETE", url: "/v2/a/b/manifests/" + md.String(), wantStatus: 202},
		{name: "deleted manifest's tag", method: "GET", url: "/v2/a/b/manifests/v1", wantStatus: 404, wantCode: "MANIFEST_UNKNOWN"},
		{name: "delete blob", method: "DELETE", url: "/v2/a/b/blobs/" + bd.String(), wantStatus: 202},
		{name: "deleted blob", method: "GET", url: "/v2/a/b/blobs/" + bd.String(), wantStatus: 404, wantCode: "BLOB_UNKNOWN"},
		{name: "mounted copy survives", method: "HEAD", url: "/v2/other/blobs/" + bd.String(), wantStatus: 200},
	} {
		c.run(t, srv.URL)
	}
}

func TestChunkedUpload(t *testing.T) {
	srv, mem := newServer(t, false)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	d := core.SHA256Digest(data)
	resp := call{name: "start", method: "POST", url: "/v2/r/blobs/uploads/", wantStatus: 202, wantHeader: map[string]string{"Range": "0-0"}}.run(t, srv.URL)
	loc := resp.Header.Get("Location")
	id := resp.Header.Get("Docker-Upload-UUID")
	call{name: "chunk 1", method: "PATCH", url: loc, header: map[string]string{"Content-Range": "0-4999"}, body: string(data[:5000]),
		wantStatus: 202, wantHeader: map[string]string{"Range": "0-4999"}}.run(t, srv.URL)
	call{name: "out of order", method: "PATCH", url: loc, header: map[string]string{"Content-Range": "6000-6999"}, body: string(data[6000:7000]),
		wantStatus: 416, wantHeader: map[string]string{"Range": "0-4999"}}.run(t, srv.URL)
	call{name: "status", method: "GET", url: loc, wantStatus: 204, wantHeader: map[string]string{"Range": "0-4999"}}.run(t, srv.URL)
	call{name: "stream rest", method: "PATCH", url: loc, body: string(data[5000:9000]), wantStatus: 202}.run(t, srv.URL)
	call{name: "final out of order", method: "PUT", url: loc + "?digest=" + d.String(), header: map[string]string{"Content-Range": "9500-9999"},
		body: string(data[9500:]), wantStatus: 416}.run(t, srv.URL)
	call{name: "finish", method: "PUT", url: loc + "?digest=" + d.String(), body: string(data[9000:]), wantStatus: 201}.run(t, srv.URL)
	call{name: "get", method: "GET", url: "/v2/r/blobs/" + d.String(), wantStatus: 200, wantBody: string(data)}.run(t, srv.URL)
	if mem.HasUpload(id) {
		t.Fatal("upload session survives its commit")
	}
	// A failed commit discards the session.
	resp = call{name: "start 2", method: "POST", url: "/v2/r/blobs/uploads/", wantStatus: 202}.run(t, srv.URL)
	call{name: "bad commit", method: "PUT", url: resp.Header.Get("Location") + "?digest=" + core.SHA256Digest(nil).String(), body: "x",
		wantStatus: 400, wantCode: "DIGEST_INVALID"}.run(t, srv.URL)
	if mem.HasUpload(resp.Header.Get("Docker-Upload-UUID")) {
		t.Fatal("failed upload was kept")
	}
}

func TestReadOnly(t *testing.T) {
	srv, _ := newServer(t, true)
	for _, c := range []call{
		{name: "post", method: "POST", url: "/v2/a/blobs/uploads/", wantStatus: 405, wantCode: "UNSUPPORTED"},
		{name: "put manifest", method: "PUT", url: "/v2/a/manifests/x", body: "{}", wantStatus: 405, wantCode: "UNSUPPORTED"},
		{name: "delete", method: "DELETE", url: "/v2/a/manifests/x", wantStatus: 405, wantCode: "UNSUPPORTED"},
		{name: "delete blob", method: "DELETE", url: "/v2/a/blobs/" + core.SHA256Digest(nil).String(), wantStatus: 405, wantCode: "UNSUPPORTED"},
		{name: "get", method: "GET", url: "/v2/a/manifests/x", wantStatus: 404, wantCode: "MANIFEST_UNKNOWN"},
	} {
		c.run(t, srv.URL)
	}
}

// TestGGCR pushes and pulls random images and an index with go-containerregistry.
func TestGGCR(t *testing.T) {
	srv, _ := newServer(t, false)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/ggcr/img:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(32<<10, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	iref, _ := name.ParseReference(host+"/ggcr/idx:v1", name.Insecure)
	if err := remote.WriteIndex(iref, idx); err != nil {
		t.Fatal(err)
	}
	gotIdx, err := remote.Index(iref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(gotIdx); err != nil {
		t.Fatal(err)
	}
}

// rawRequest sends head and body over a fresh connection, half-closes it (so the server sees
// the body end early) and returns the response.
func rawRequest(t *testing.T, base, head, body string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestTruncatedUpload: a client that sends less than its Content-Length gets
// BLOB_UPLOAD_INVALID, and neither the session nor a blob is left behind.
func TestTruncatedUpload(t *testing.T) {
	srv, mem := newServer(t, false)
	data := strings.Repeat("x", 100)
	d := core.SHA256Digest([]byte(data))
	resp := call{name: "start", method: "POST", url: "/v2/r/blobs/uploads/", wantStatus: 202}.run(t, srv.URL)
	id := resp.Header.Get("Docker-Upload-UUID")
	head := fmt.Sprintf("PUT %s?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n", resp.Header.Get("Location"), d)
	got, body := rawRequest(t, srv.URL, head, data[:10])
	if got.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "BLOB_UPLOAD_INVALID") {
		t.Fatalf("truncated final PUT: %d %s", got.StatusCode, body)
	}
	if mem.HasUpload(id) {
		t.Fatal("truncated upload's session survives")
	}
	head = fmt.Sprintf("POST /v2/r/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n", d)
	got, body = rawRequest(t, srv.URL, head, data[:50])
	if got.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "BLOB_UPLOAD_INVALID") {
		t.Fatalf("truncated monolithic POST: %d %s", got.StatusCode, body)
	}
	call{name: "nothing stored", method: "HEAD", url: "/v2/r/blobs/" + d.String(), wantStatus: 404}.run(t, srv.URL)
	if n := mem.Uploads(); n != 0 {
		t.Fatalf("%d upload sessions left behind", n)
	}
}

// TestChunkShorterThanRange: a chunked-encoded PATCH whose body is shorter than its
// Content-Range gets 416 with the upload's real Range, and the upload can resume from there.
func TestChunkShorterThanRange(t *testing.T) {
	srv, _ := newServer(t, false)
	data := []byte(strings.Repeat("abcdefghij", 10))
	d := core.SHA256Digest(data)
	resp := call{name: "start", method: "POST", url: "/v2/r/blobs/uploads/", wantStatus: 202}.run(t, srv.URL)
	loc := resp.Header.Get("Location")
	req, err := http.NewRequest("PATCH", srv.URL+loc, io.MultiReader(bytes.NewReader(data[:30]))) // unknown length: chunked
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Range", "0-49")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestedRangeNotSatisfiable || res.Header.Get("Range") != "0-29" {
		t.Fatalf("short chunk: %d Range %q", res.StatusCode, res.Header.Get("Range"))
	}
	call{name: "resume", method: "PATCH", url: loc, header: map[string]string{"Content-Range": "30-99"}, body: string(data[30:]),
		wantStatus: 202, wantHeader: map[string]string{"Range": "0-99"}}.run(t, srv.URL)
	call{name: "finish", method: "PUT", url: loc + "?digest=" + d.String(), wantStatus: 201}.run(t, srv.URL)
	call{name: "get", method: "GET", url: "/v2/r/blobs/" + d.String(), wantStatus: 200, wantBody: string(data)}.run(t, srv.URL)
}

func TestMetrics(t *testing.T) {
	mem := registrytest.NewMemory()
	scope := tally.NewTestScope("", nil)
	srv := httptest.NewServer(registry.New(registry.Options{Blobs: mem, Index: mem, Scope: scope}))
	t.Cleanup(srv.Close)
	d := pushBlob(t, srv.URL, "r", "twelve bytes")
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":12},"layers":[]}`, ociManifest, d)
	call{name: "push", method: "PUT", url: "/v2/r/manifests/v1", header: map[string]string{"Content-Type": ociManifest}, body: m, wantStatus: 201}.run(t, srv.URL)
	call{name: "pull", method: "GET", url: "/v2/r/manifests/v1", wantStatus: 200}.run(t, srv.URL)
	call{name: "head", method: "HEAD", url: "/v2/r/manifests/v1", wantStatus: 200}.run(t, srv.URL)
	call{name: "blob", method: "GET", url: "/v2/r/blobs/" + d.String(), wantStatus: 200}.run(t, srv.URL)
	counters := scope.Snapshot().Counters()
	for name, want := range map[string]int64{"blobs_pushed": 1, "blobs_pulled": 1, "manifests_pushed": 1, "manifests_pulled": 1, "upload_bytes": 12} {
		c, ok := counters[name+"+"]
		if !ok || c.Value() != want {
			t.Errorf("counter %s = %v, want %d", name, c, want)
		}
	}
}
