package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
)

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/_catalog", "/v2/a/b/tags/list", "/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/abc",
		"/v2/a/manifests/latest", "/v2/a/b/blobs/sha256:00", "/v2/a/referrers/sha256:00", "/v2/a/../b/manifests/x", "/v2//manifests/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt, ok := parseRoute(path)
		if !ok {
			return
		}
		if rt.kind != "ping" && rt.kind != "catalog" && ValidName(rt.name) {
			for _, c := range strings.Split(rt.name, "/") {
				if c == "." || c == ".." || c == "" {
					t.Fatalf("valid name %q has component %q", rt.name, c)
				}
			}
		}
		if strings.Contains(rt.arg, "/") {
			t.Fatalf("argument %q contains a slash", rt.arg)
		}
	})
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"latest", "v1.0", "sha256:" + strings.Repeat("a", 64), "sha512:" + strings.Repeat("b", 128), "-x", "a:b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := parseReference(s)
		if err != nil {
			return
		}
		if ref.tag == "" && ref.digest.IsZero() {
			t.Fatalf("%q parsed to an empty reference", s)
		}
		if ref.tag != "" && (len(ref.tag) > 128 || strings.ContainsAny(ref.tag, "/:")) {
			t.Fatalf("%q accepted as tag", s)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-0", "0-1023", "bytes=5-10", "bytes 1-2", "10-5", "-1-3", "a-b", "99999999999999999999-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := parseContentRange(s)
		if err == nil && (start < 0 || end < start) {
			t.Fatalf("%q accepted as %d-%d", s, start, end)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:`+strings.Repeat("a", 64)+`","size":1},"layers":[]}`), "application/vnd.oci.image.manifest.v1+json")
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:`+strings.Repeat("b", 64)+`","size":2}]}`), "")
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:`+strings.Repeat("c", 64)+`","size":1,"data":"eA=="}}`), "")
	f.Add([]byte(`{`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		p, err := parseManifest(body, contentType)
		if err != nil {
			return
		}
		switch p.mediaType {
		case MediaTypeOCIManifest, MediaTypeDockerManifest:
			if p.isIndex || len(p.children) != 0 || len(p.blobs) == 0 {
				t.Fatalf("image manifest parsed as %+v", p)
			}
		case MediaTypeOCIIndex, MediaTypeDockerList:
			if !p.isIndex || len(p.blobs) != 0 {
				t.Fatalf("index parsed as %+v", p)
			}
		default:
			t.Fatalf("accepted media type %q", p.mediaType)
		}
		if p.entry.MediaType != p.mediaType || p.entry.Subject != p.subject {
			t.Fatalf("record %+v disagrees with the parse %+v", p.entry, p)
		}
		if ct, _, err := mime.ParseMediaType(contentType); err == nil && contentType != "" && ct != p.mediaType {
			var m struct {
				MediaType string `json:"mediaType"`
			}
			if json.Unmarshal(body, &m) == nil && m.MediaType != "" {
				t.Fatalf("Content-Type %q accepted for a %q body", contentType, m.MediaType)
			}
		}
		for _, d := range append(p.blobs, p.children...) {
			if d.IsZero() {
				t.Fatal("accepted a zero digest reference")
			}
		}
	})
}

func TestParseRoute(t *testing.T) {
	for _, c := range []struct {
		path string
		ok   bool
		want route
	}{
		{"/v2", true, route{kind: "ping"}},
		{"/v2/", true, route{kind: "ping"}},
		{"/v20/blobs/uploads/", false, route{}},
		{"/v2x/a/tags/list", false, route{}},
		{"/v2/_catalog", true, route{kind: "catalog"}},
		{"/v2/a/b/tags/list", true, route{name: "a/b", kind: "tags"}},
		{"/v2/a/blobs/uploads", true, route{name: "a", kind: "upload"}},
		{"/v2/a/blobs/uploads/", true, route{name: "a", kind: "upload"}},
		{"/v2/a/blobs/uploads/id1", true, route{name: "a", kind: "upload", arg: "id1"}},
		{"/v2/a/blobs/uploads//", false, route{}},
		{"/v2/blobs/blobs/sha256:00", true, route{name: "blobs", kind: "blob", arg: "sha256:00"}},
		{"/v2/a/manifests/b/manifests/latest", true, route{name: "a/manifests/b", kind: "manifest", arg: "latest"}},
		{"/v2/a/referrers/sha256:00", true, route{name: "a", kind: "referrers", arg: "sha256:00"}},
		{"/v2/a/manifests/", false, route{}},
		{"/v2/a/unknown", false, route{}},
	} {
		got, ok := parseRoute(c.path)
		if ok != c.ok || got != c.want {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

// FuzzBlobRange serves a blob with an arbitrary Range header: the answer is 200 with the
// whole blob, 206 with exactly the bytes its Content-Range names, or 416.
func FuzzBlobRange(f *testing.F) {
	for _, s := range []string{"", "bytes=0-0", "bytes=2-5", "bytes=-3", "bytes=4-", "bytes=100-200", "bytes=5-2", "bytes=0-1,3-4", "bytes=", "items=0-1", "bytes=99999999999999999999-"} {
		f.Add(s)
	}
	blob := []byte("0123456789abcdef")
	d := core.SHA256Digest(blob)
	h := New(Options{Blobs: staticBlobs{d: blob}, Index: nil})
	f.Fuzz(func(t *testing.T, rng string) {
		req := httptest.NewRequest(http.MethodGet, "/v2/r/blobs/"+d.String(), nil)
		if rng != "" {
			req.Header["Range"] = []string{rng}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		body := w.Body.Bytes()
		switch w.Code {
		case http.StatusOK:
			if !bytes.Equal(body, blob) {
				t.Fatalf("Range %q: 200 with %q", rng, body)
			}
		case http.StatusPartialContent:
			var start, end, size int64
			if _, err := fmt.Sscanf(w.Header().Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &size); err != nil {
				t.Fatalf("Range %q: Content-Range %q: %v", rng, w.Header().Get("Content-Range"), err)
			}
			if size != int64(len(blob)) || start < 0 || end >= size || start > end || !bytes.Equal(body, blob[start:end+1]) {
				t.Fatalf("Range %q: 206 %q with body %q", rng, w.Header().Get("Content-Range"), body)
			}
		case http.StatusRequestedRangeNotSatisfiable:
			if w.Header().Get("Content-Range") != fmt.Sprintf("bytes */%d", len(blob)) {
				t.Fatalf("Range %q: 416 with Content-Range %q", rng, w.Header().Get("Content-Range"))
			}
		default:
			t.Fatalf("Range %q: status %d", rng, w.Code)
		}
	})
}

// staticBlobs serves fixed blobs to every repository.
type staticBlobs map[core.Digest][]byte

type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }

func (s staticBlobs) Stat(_ context.Context, _ string, d core.Digest) (int64, error) {
	b, ok := s[d]
	if !ok {
		return 0, ErrBlobUnknown
	}
	return int64(len(b)), nil
}

func (s staticBlobs) Open(_ context.Context, _ string, d core.Digest) (io.ReadSeekCloser, error) {
	b, ok := s[d]
	if !ok {
		return nil, ErrBlobUnknown
	}
	return readSeekNopCloser{bytes.NewReader(b)}, nil
}

func TestParseRange(t *testing.T) {
	const size = 10
	for _, c := range []struct {
		h     string
		kind  rangeKind
		start int64
		n     int64
	}{
		{"bytes=0-0", rangePartial, 0, 1},
		{"bytes=2-5", rangePartial, 2, 4},
		{"bytes=4-", rangePartial, 4, 6},
		{"bytes=4-100", rangePartial, 4, 6},
		{"bytes=-3", rangePartial, 7, 3},
		{"bytes=-30", rangePartial, 0, 10},
		{"BYTES = 1-1", rangePartial, 1, 1},
		{"bytes=-0", rangeUnsatisfiable, 0, 0},
		{"bytes=10-", rangeUnsatisfiable, 0, 0},
		{"bytes=99999999999999999999-", rangeUnsatisfiable, 0, 0},
		{"bytes=5-2", rangeUnsatisfiable, 0, 0},
		{"bytes=0-1,3-4", rangeWhole, 0, 0},
		{"bytes=a-b", rangeWhole, 0, 0},
		{"bytes=+1-2", rangeWhole, 0, 0},
		{"items=0-1", rangeWhole, 0, 0},
		{"bytes=", rangeWhole, 0, 0},
	} {
		br, kind := parseRange(c.h, size)
		if kind != c.kind || (kind == rangePartial && (br.start != c.start || br.length != c.n)) {
			t.Errorf("parseRange(%q) = %+v, %v; want start %d length %d, %v", c.h, br, kind, c.start, c.n, c.kind)
		}
	}
	if _, kind := parseRange("bytes=0-", 0); kind != rangeUnsatisfiable {
		t.Errorf("a range of an empty blob is %v, want unsatisfiable", kind)
	}
}
