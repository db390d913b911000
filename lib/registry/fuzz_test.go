package registry

import (
	"strings"
	"testing"
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
		if p.mediaType == "" {
			t.Fatal("accepted manifest without a media type")
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
