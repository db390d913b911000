package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
)

// errorEnvelope is the distribution spec's error body.
type errorEnvelope struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// call sends one request to base and returns the status and the first error code of the body.
func call(t *testing.T, method, url, contentType string, body []byte) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env errorEnvelope
	code := ""
	if resp.StatusCode >= 400 && method != http.MethodHead {
		if err := json.Unmarshal(b, &env); err != nil || len(env.Errors) == 0 {
			t.Fatalf("%s %s: status %d with no error envelope: %q", method, url, resp.StatusCode, b)
		}
		code = env.Errors[0].Code
	}
	return resp.StatusCode, code, resp.Header
}

// startUpload opens an upload session on the proxy and returns its absolute location.
func startUpload(t *testing.T, base, repo string) string {
	t.Helper()
	status, _, h := call(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if status != http.StatusAccepted {
		t.Fatalf("start upload: status %d", status)
	}
	loc := h.Get("Location")
	if strings.HasPrefix(loc, "/") {
		loc = base + loc
	}
	return loc
}

func withQuery(loc, q string) string {
	if strings.Contains(loc, "?") {
		return loc + "&" + q
	}
	return loc + "?" + q
}

// TestBadInput sends what clients get wrong, or attackers try, to the real proxy (origin and
// build-index behind it) and checks the spec's error and that nothing was published.
func TestBadInput(t *testing.T) {
	c := startCluster(t)
	base := "http://" + c.Proxy
	repo := "e2e/bad"
	blob := []byte("some layer bytes")
	good := core.SHA256Digest(blob)
	wrong := core.SHA256Digest([]byte("other bytes"))

	blobAbsent := func(t *testing.T, d core.Digest) {
		t.Helper()
		for _, host := range []string{c.Proxy, c.Agent} {
			if status, _, _ := call(t, http.MethodHead, "http://"+host+"/v2/"+repo+"/blobs/"+d.String(), "", nil); status != http.StatusNotFound {
				t.Fatalf("HEAD blob %s on %s: status %d, want 404", d, host, status)
			}
		}
	}

	t.Run("wrong digest on commit", func(t *testing.T) {
		loc := startUpload(t, base, repo)
		status, code, _ := call(t, http.MethodPut, withQuery(loc, "digest="+wrong.String()), "application/octet-stream", blob)
		if status != http.StatusBadRequest || code != "DIGEST_INVALID" {
			t.Fatalf("status %d code %q, want 400 DIGEST_INVALID", status, code)
		}
		blobAbsent(t, wrong)
		blobAbsent(t, good)
	})
	t.Run("wrong digest on monolithic POST", func(t *testing.T) {
		status, code, _ := call(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+wrong.String(), "application/octet-stream", blob)
		if status != http.StatusBadRequest || code != "DIGEST_INVALID" {
			t.Fatalf("status %d code %q, want 400 DIGEST_INVALID", status, code)
		}
		blobAbsent(t, wrong)
	})
	t.Run("malformed digest", func(t *testing.T) {
		loc := startUpload(t, base, repo)
		for _, d := range []string{"sha256:abc", "md5:" + strings.Repeat("a", 32), "sha256:" + strings.Repeat("G", 64), "nonsense"} {
			status, code, _ := call(t, http.MethodPut, withQuery(loc, "digest="+d), "application/octet-stream", blob)
			if status != http.StatusBadRequest || code != "DIGEST_INVALID" {
				t.Fatalf("digest %q: status %d code %q, want 400 DIGEST_INVALID", d, status, code)
			}
		}
	})
	t.Run("truncated upload", func(t *testing.T) {
		// The client announces more bytes than it sends and hangs up: nothing may appear under
		// the digest of the full content or of the part that arrived.
		full := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		fullDigest := core.SHA256Digest(full)
		partDigest := core.SHA256Digest(full[:len(full)/2])
		loc := startUpload(t, base, repo)
		u := withQuery(loc, "digest="+fullDigest.String())
		u = strings.TrimPrefix(u, "http://")
		hostPath := strings.SplitN(u, "/", 2)
		conn, err := net.DialTimeout("tcp", hostPath[0], 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT /%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
			hostPath[1], hostPath[0], len(full))
		_, _ = conn.Write(full[:len(full)/2])
		conn.Close()
		time.Sleep(200 * time.Millisecond) // let the server notice the hang-up
		blobAbsent(t, fullDigest)
		blobAbsent(t, partDigest)
		// The truncated upload may be resumed or discarded, never committed: committing the
		// full digest now must fail.
		status, _, _ := call(t, http.MethodPut, withQuery(loc, "digest="+fullDigest.String()), "application/octet-stream", nil)
		if status < 400 {
			t.Fatalf("commit after truncation: status %d, want an error", status)
		}
		blobAbsent(t, fullDigest)
	})
	t.Run("invalid names and references", func(t *testing.T) {
		for _, path := range []string{
			"/v2/UPPER/blobs/" + good.String(),
			"/v2/a/../b/manifests/latest",
			"/v2/a/%2e%2e/b/manifests/latest",
			"/v2/a/./b/tags/list",
			"/v2/" + strings.Repeat("a", 256) + "/tags/list",
			"/v2/ok/name/manifests/-badtag",
			"/v2/ok/name/manifests/" + strings.Repeat("t", 129),
			"/v2/ok/name/manifests/sha256:xyz",
		} {
			status, code, _ := call(t, http.MethodGet, base+path, "", nil)
			switch {
			case status == http.StatusBadRequest && (code == "NAME_INVALID" || code == "MANIFEST_INVALID" || code == "DIGEST_INVALID" || code == "TAG_INVALID"):
			case status == http.StatusNotFound && code == "NAME_UNKNOWN" && strings.Contains(path, "%2e"):
			default:
				t.Errorf("GET %s: status %d code %q, want 400 with NAME_INVALID/MANIFEST_INVALID/DIGEST_INVALID", path, status, code)
			}
		}
	})
	t.Run("manifests", func(t *testing.T) {
		config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
		cd := core.SHA256Digest(config)
		if status, _, _ := call(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+cd.String(), "application/octet-stream", config); status != http.StatusCreated {
			t.Fatalf("push config: status %d", status)
		}
		manifest := func(layer core.Digest) []byte {
			return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
				`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
				`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":16}]}`, cd, len(config), layer))
		}
		const ociManifest = "application/vnd.oci.image.manifest.v1+json"
		missing := manifest(wrong)
		status, code, _ := call(t, http.MethodPut, base+"/v2/"+repo+"/manifests/missing", ociManifest, missing)
		if status != http.StatusBadRequest || code != "MANIFEST_BLOB_UNKNOWN" {
			t.Fatalf("manifest naming a missing blob: status %d code %q, want 400 MANIFEST_BLOB_UNKNOWN", status, code)
		}
		// Upload the layer, then send the valid manifest with a Content-Type that disagrees.
		if status, _, _ := call(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+good.String(), "application/octet-stream", blob); status != http.StatusCreated {
			t.Fatalf("push layer: status %d", status)
		}
		valid := manifest(good)
		status, code, _ = call(t, http.MethodPut, base+"/v2/"+repo+"/manifests/mismatch", "application/vnd.docker.distribution.manifest.v2+json", valid)
		if status != http.StatusBadRequest || code != "MANIFEST_INVALID" {
			t.Fatalf("Content-Type disagreeing with mediaType: status %d code %q, want 400 MANIFEST_INVALID", status, code)
		}
		huge := append(append([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":"`),
			bytes.Repeat([]byte("x"), 4<<20)...), []byte(`"}}`)...)
		status, code, _ = call(t, http.MethodPut, base+"/v2/"+repo+"/manifests/huge", ociManifest, huge)
		if status != http.StatusRequestEntityTooLarge && !(status == http.StatusBadRequest && code == "MANIFEST_INVALID") {
			t.Fatalf("manifest over 4 MiB: status %d code %q, want 413 or 400 MANIFEST_INVALID", status, code)
		}
		status, code, _ = call(t, http.MethodPut, base+"/v2/"+repo+"/manifests/broken", ociManifest, []byte(`{"schemaVersion":2,`))
		if status != http.StatusBadRequest || code != "MANIFEST_INVALID" {
			t.Fatalf("truncated JSON: status %d code %q, want 400 MANIFEST_INVALID", status, code)
		}
		// A digest reference that does not match the body.
		status, code, _ = call(t, http.MethodPut, base+"/v2/"+repo+"/manifests/"+wrong.String(), ociManifest, valid)
		if status != http.StatusBadRequest || (code != "DIGEST_INVALID" && code != "MANIFEST_INVALID") {
			t.Fatalf("manifest PUT by wrong digest: status %d code %q", status, code)
		}
		// None of the rejected manifests is visible under any tag.
		for _, tag := range []string{"missing", "mismatch", "huge", "broken"} {
			if status, _, _ := call(t, http.MethodGet, base+"/v2/"+repo+"/manifests/"+tag, "", nil); status != http.StatusNotFound {
				t.Fatalf("rejected manifest %q is visible: status %d", tag, status)
			}
		}
		if status, _, _ := call(t, http.MethodPut, base+"/v2/"+repo+"/manifests/ok", ociManifest, valid); status != http.StatusCreated {
			t.Fatalf("valid manifest: status %d", status)
		}
	})
	t.Run("list pagination parameters", func(t *testing.T) {
		for _, path := range []string{"/v2/" + repo + "/tags/list", "/v2/_catalog"} {
			for _, n := range []string{"-1", "abc", "1e3", "99999999999999999999999", "1.5"} {
				status, code, _ := call(t, http.MethodGet, base+path+"?n="+n, "", nil)
				if status != http.StatusBadRequest || code == "" {
					t.Errorf("GET %s?n=%s: status %d code %q, want 400 with an error code", path, n, status, code)
				}
			}
			// A large but well-formed n is either clamped (200) or refused with an error code.
			if status, code, _ := call(t, http.MethodGet, base+path+"?n=100000", "", nil); status != http.StatusOK && (status != http.StatusBadRequest || code == "") {
				t.Errorf("GET %s?n=100000: status %d code %q, want 200 (clamped) or 400 with a code", path, status, code)
			}
		}
	})
}
