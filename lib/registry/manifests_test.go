package registry_test

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
)

const (
	ociIndex     = "application/vnd.oci.image.index.v1+json"
	dockerV2     = "application/vnd.docker.distribution.manifest.v2+json"
	dockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	emptyJSONCfg = "application/vnd.oci.empty.v1+json"
)

// pushBlob uploads content monolithically to repo and returns its digest.
func pushBlob(t *testing.T, base, repo, content string) core.Digest {
	t.Helper()
	d := core.SHA256Digest([]byte(content))
	call{name: "blob " + d.String(), method: "POST", url: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: content, wantStatus: 201}.run(t, base)
	return d
}

func TestManifestValidation(t *testing.T) {
	srv, _ := newServer(t, false)
	cfg := `{"architecture":"arm64","os":"linux"}`
	cd := pushBlob(t, srv.URL, "m", cfg)
	ld := pushBlob(t, srv.URL, "m", "layer")
	empty := pushBlob(t, srv.URL, "m", "{}")
	missing := core.SHA256Digest([]byte("missing"))
	image := func(mt, cfgType string, layers ...core.Digest) string {
		ls := make([]string, len(layers))
		for i, l := range layers {
			ls[i] = fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":5}`, l)
		}
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[%s]}`,
			mt, cfgType, cd, len(cfg), strings.Join(ls, ","))
	}
	img := image(ociManifest, "application/vnd.oci.image.config.v1+json", ld)
	imgD := core.SHA256Digest([]byte(img))
	docker := image(dockerV2, "application/vnd.docker.container.image.v1+json", ld)
	dockerD := core.SHA256Digest([]byte(docker))
	index := func(mt string, children ...core.Digest) string {
		cs := make([]string, len(children))
		for i, c := range children {
			cs[i] = fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":1,"platform":{"architecture":"arm64","os":"linux"}}`, ociManifest, c)
		}
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[%s]}`, mt, strings.Join(cs, ","))
	}
	sum := sha512.Sum512([]byte(img))
	img512 := "sha512:" + hex.EncodeToString(sum[:])
	artifact := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.example.sbom","config":{"mediaType":%q,"digest":%q,"size":2,"data":%q},"layers":[{"mediaType":"text/plain","digest":%q,"size":5}],"subject":{"mediaType":%q,"digest":%q,"size":%d},"annotations":{"org.example":"yes"}}`,
		ociManifest, emptyJSONCfg, empty, base64.StdEncoding.EncodeToString([]byte("{}")), ld, ociManifest, imgD, len(img))
	artifactD := core.SHA256Digest([]byte(artifact))
	badData := strings.Replace(artifact, base64.StdEncoding.EncodeToString([]byte("{}")), base64.StdEncoding.EncodeToString([]byte("[]")), 1)
	tooBig := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","annotations":{"x":"` + strings.Repeat("a", 4<<20) + `"}}`
	ct := func(v string) map[string]string { return map[string]string{"Content-Type": v} }

	for _, c := range []call{
		{name: "oci image", method: "PUT", url: "/v2/m/manifests/img", header: ct(ociManifest), body: img, wantStatus: 201},
		{name: "docker image", method: "PUT", url: "/v2/m/manifests/docker", header: ct(dockerV2), body: docker, wantStatus: 201},
		{name: "docker image served as pushed", method: "GET", url: "/v2/m/manifests/docker", wantStatus: 200, wantBody: docker,
			wantHeader: map[string]string{"Content-Type": dockerV2, "Docker-Content-Digest": dockerD.String()}},
		{name: "oci index", method: "PUT", url: "/v2/m/manifests/idx", header: ct(ociIndex), body: index(ociIndex, imgD, dockerD), wantStatus: 201},
		{name: "docker list", method: "PUT", url: "/v2/m/manifests/list", header: ct(dockerList), body: index(dockerList, imgD), wantStatus: 201},
		{name: "index with missing child", method: "PUT", url: "/v2/m/manifests/idx2", header: ct(ociIndex), body: index(ociIndex, imgD, missing),
			wantStatus: 400, wantCode: "MANIFEST_BLOB_UNKNOWN"},
		{name: "index child from another repo", method: "PUT", url: "/v2/other/manifests/idx", header: ct(ociIndex), body: index(ociIndex, imgD),
			wantStatus: 400, wantCode: "MANIFEST_BLOB_UNKNOWN"},
		{name: "config missing", method: "PUT", url: "/v2/other/manifests/img", header: ct(ociManifest), body: img, wantStatus: 400, wantCode: "MANIFEST_BLOB_UNKNOWN"},
		{name: "by sha512", method: "PUT", url: "/v2/m/manifests/" + img512, header: ct(ociManifest), body: img, wantStatus: 201,
			wantHeader: map[string]string{"Docker-Content-Digest": img512}},
		{name: "get by sha512", method: "GET", url: "/v2/m/manifests/" + img512, wantStatus: 200, wantBody: img},
		{name: "sha512 mismatch", method: "PUT", url: "/v2/m/manifests/" + img512, header: ct(ociManifest), body: docker, wantStatus: 400, wantCode: "DIGEST_INVALID"},
		{name: "schema 1", method: "PUT", url: "/v2/m/manifests/old", header: ct(ociManifest), body: strings.Replace(img, `"schemaVersion":2`, `"schemaVersion":1`, 1),
			wantStatus: 400, wantCode: "MANIFEST_INVALID"},
		{name: "unknown media type", method: "PUT", url: "/v2/m/manifests/x", header: ct("application/vnd.example+json"), body: `{"schemaVersion":2}`,
			wantStatus: 400, wantCode: "MANIFEST_INVALID"},
		{name: "trailing garbage", method: "PUT", url: "/v2/m/manifests/x", header: ct(ociManifest), body: img + "{}", wantStatus: 400, wantCode: "MANIFEST_INVALID"},
		{name: "too large", method: "PUT", url: "/v2/m/manifests/big", header: ct(ociManifest), body: tooBig, wantStatus: 413, wantCode: "MANIFEST_INVALID"},
		{name: "bad embedded data", method: "PUT", url: "/v2/m/manifests/x", header: ct(ociManifest), body: badData, wantStatus: 400, wantCode: "MANIFEST_INVALID"},
		{name: "artifact with subject and tag params", method: "PUT", url: "/v2/m/manifests/" + artifactD.String() + "?tag=sbom&tag=sbom-1", header: ct(ociManifest),
			body: artifact, wantStatus: 201, wantHeader: map[string]string{"OCI-Subject": imgD.String()}},
		{name: "tag param resolves", method: "GET", url: "/v2/m/manifests/sbom-1", wantStatus: 200, wantBody: artifact},
		{name: "bad tag param", method: "PUT", url: "/v2/m/manifests/" + artifactD.String() + "?tag=-bad", header: ct(ociManifest), body: artifact, wantStatus: 400, wantCode: "TAG_INVALID"},
		{name: "head", method: "HEAD", url: "/v2/m/manifests/img", wantStatus: 200,
			wantHeader: map[string]string{"Content-Length": fmt.Sprint(len(img)), "Content-Type": ociManifest, "Docker-Content-Digest": imgD.String()}},
		{name: "unknown tag", method: "GET", url: "/v2/m/manifests/nope", wantStatus: 404, wantCode: "MANIFEST_UNKNOWN"},
		{name: "unknown digest", method: "HEAD", url: "/v2/m/manifests/" + missing.String(), wantStatus: 404},
		{name: "delete unknown tag", method: "DELETE", url: "/v2/m/manifests/nope", wantStatus: 404, wantCode: "MANIFEST_UNKNOWN"},
		{name: "referrers of nothing", method: "GET", url: "/v2/m/referrers/" + missing.String(), wantStatus: 200,
			wantBody: `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[]}`},
		{name: "referrers of unknown repo", method: "GET", url: "/v2/nope/referrers/" + imgD.String(), wantStatus: 200,
			wantBody: `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[]}`},
		{name: "referrers filter without match", method: "GET", url: "/v2/m/referrers/" + imgD.String() + "?artifactType=application/other", wantStatus: 200,
			wantBody: `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[]}`, wantHeader: map[string]string{"OCI-Filters-Applied": "artifactType"}},
	} {
		resp := c.run(t, srv.URL)
		if c.name == "artifact with subject and tag params" {
			if got := resp.Header.Values("OCI-Tag"); strings.Join(got, ",") != "sbom,sbom-1" {
				t.Fatalf("OCI-Tag headers %q", got)
			}
		}
	}

	// The referrers index lists the artifact with its artifactType and annotations.
	resp, err := http.Get(srv.URL + "/v2/m/referrers/" + imgD.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var idx struct {
		MediaType string            `json:"mediaType"`
		Manifests []core.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatalf("referrers body %s: %v", body, err)
	}
	if len(idx.Manifests) != 1 {
		t.Fatalf("referrers: %s", body)
	}
	got := idx.Manifests[0]
	if got.Digest != artifactD || got.ArtifactType != "application/vnd.example.sbom" || got.Annotations["org.example"] != "yes" ||
		got.MediaType != ociManifest || got.Size != int64(len(artifact)) {
		t.Fatalf("referrer descriptor %+v", got)
	}
}

func TestListPagination(t *testing.T) {
	srv, _ := newServer(t, false)
	cfg := pushBlob(t, srv.URL, "p/a", "{}")
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":2},"layers":[]}`, ociManifest, emptyJSONCfg, cfg)
	for _, repo := range []string{"p/a", "p/b", "p/c"} {
		pushBlob(t, srv.URL, repo, "{}")
		for _, tag := range []string{"t1", "t2", "t3"} {
			call{name: "push", method: "PUT", url: "/v2/" + repo + "/manifests/" + tag, header: map[string]string{"Content-Type": ociManifest}, body: m, wantStatus: 201}.run(t, srv.URL)
		}
	}
	for _, c := range []call{
		{name: "tags page 1", method: "GET", url: "/v2/p/a/tags/list?n=2", wantStatus: 200, wantBody: `{"name":"p/a","tags":["t1","t2"]}`,
			wantHeader: map[string]string{"Link": `</v2/p/a/tags/list?last=t2&n=2>; rel="next"`}},
		{name: "tags page 2", method: "GET", url: "/v2/p/a/tags/list?n=2&last=t2", wantStatus: 200, wantBody: `{"name":"p/a","tags":["t3"]}`,
			wantHeader: map[string]string{"Link": ""}},
		{name: "tags exact page", method: "GET", url: "/v2/p/a/tags/list?n=3", wantStatus: 200, wantBody: `{"name":"p/a","tags":["t1","t2","t3"]}`,
			wantHeader: map[string]string{"Link": ""}},
		{name: "tags n=0", method: "GET", url: "/v2/p/a/tags/list?n=0", wantStatus: 200, wantBody: `{"name":"p/a","tags":[]}`},
		{name: "tags huge n clamped", method: "GET", url: "/v2/p/a/tags/list?n=100000", wantStatus: 200, wantBody: `{"name":"p/a","tags":["t1","t2","t3"]}`},
		{name: "catalog page 1", method: "GET", url: "/v2/_catalog?n=1", wantStatus: 200, wantBody: `{"repositories":["p/a"]}`,
			wantHeader: map[string]string{"Link": `</v2/_catalog?last=p%2Fa&n=1>; rel="next"`}},
		{name: "catalog page 2", method: "GET", url: "/v2/_catalog?n=1&last=p%2Fa", wantStatus: 200, wantBody: `{"repositories":["p/b"]}`},
		{name: "catalog rest", method: "GET", url: "/v2/_catalog?last=p/b", wantStatus: 200, wantBody: `{"repositories":["p/c"]}`},
		{name: "catalog bad n", method: "GET", url: "/v2/_catalog?n=-5", wantStatus: 400, wantCode: "PAGINATION_NUMBER_INVALID"},
	} {
		c.run(t, srv.URL)
	}
}
