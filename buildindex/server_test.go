package buildindex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
	"github.com/docket-p2p/docket/lib/backend/fs"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/registry"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start runs a build-index over be behind an httptest server and returns a client for it.
func start(t *testing.T, be backend.Client, opts ...Option) (*client.Client, *httptest.Server) {
	t.Helper()
	opts = append([]Option{WithBackend(be)}, opts...)
	s, err := New(Config{Listen: "127.0.0.1:0"}, testLogger(t), metrics.NewNop(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return client.New(ts.Listener.Addr().String(), ts.Client()), ts
}

func fsBackend(t *testing.T, root string) backend.Client {
	t.Helper()
	be, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func entry(content string) core.ManifestEntry {
	return core.ManifestEntry{Descriptor: core.Descriptor{
		MediaType: "application/vnd.oci.image.manifest.v1+json",
		Digest:    core.SHA256Digest([]byte(content)),
		Size:      int64(len(content)),
	}}
}

func TestMemBackendConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Client { return newMemBackend() })
}

func TestRoundTripAndRestart(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	c, ts := start(t, fsBackend(t, root))

	m1, m2 := entry("one"), entry("two")
	if err := c.PutManifest(ctx, "library/busybox", m1, "latest"); err != nil {
		t.Fatal(err)
	}
	if d, err := c.GetTag(ctx, "library/busybox", "latest"); err != nil || d != m1.Digest {
		t.Fatalf("GetTag = %v, %v; want %v", d, err, m1.Digest)
	}
	// A re-push moves the tag, visibly at once.
	if err := c.PutManifest(ctx, "library/busybox", m2, "latest"); err != nil {
		t.Fatal(err)
	}
	if d, err := c.GetTag(ctx, "library/busybox", "latest"); err != nil || d != m2.Digest {
		t.Fatalf("GetTag after re-push = %v, %v; want %v", d, err, m2.Digest)
	}
	if err := c.PutManifest(ctx, "library/busybox", m1, "v1"); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetManifest(ctx, "library/busybox", m1.Digest)
	if err != nil || got.Digest != m1.Digest || got.MediaType != m1.MediaType || got.Size != m1.Size {
		t.Fatalf("GetManifest = %+v, %v", got, err)
	}
	if err := c.LinkBlob(ctx, "other/repo", m1.Digest); err != nil {
		t.Fatal(err)
	}

	check := func(c *client.Client) {
		t.Helper()
		tags, err := c.ListTags(ctx, "library/busybox", "", 100)
		if err != nil || !slices.Equal(tags, []string{"latest", "v1"}) {
			t.Fatalf("ListTags = %v, %v", tags, err)
		}
		repos, err := c.Repositories(ctx, "", 100)
		if err != nil || !slices.Equal(repos, []string{"library/busybox", "other/repo"}) {
			t.Fatalf("Repositories = %v, %v", repos, err)
		}
		if d, err := c.GetTag(ctx, "library/busybox", "latest"); err != nil || d != m2.Digest {
			t.Fatalf("GetTag = %v, %v; want %v", d, err, m2.Digest)
		}
		if err := c.HasBlob(ctx, "other/repo", m1.Digest); err != nil {
			t.Fatalf("HasBlob: %v", err)
		}
		if err := c.HasBlob(ctx, "library/busybox", m1.Digest); !errors.Is(err, registry.ErrBlobUnknown) {
			t.Fatalf("HasBlob of an unlinked blob = %v, want ErrBlobUnknown", err)
		}
	}
	check(c)

	// Restart on the same backend: everything is reloaded.
	ts.Close()
	c2, _ := start(t, fsBackend(t, root))
	check(c2)
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	c, _ := start(t, newMemBackend())
	d := core.SHA256Digest([]byte("x"))
	if _, err := c.GetTag(ctx, "no/such", "latest"); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Errorf("GetTag = %v, want ErrManifestUnknown", err)
	}
	if _, err := c.GetManifest(ctx, "no/such", d); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Errorf("GetManifest = %v, want ErrManifestUnknown", err)
	}
	if _, err := c.ListTags(ctx, "no/such", "", 10); !errors.Is(err, registry.ErrNameUnknown) {
		t.Errorf("ListTags = %v, want ErrNameUnknown", err)
	}
	if err := c.DeleteTag(ctx, "no/such", "latest"); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Errorf("DeleteTag = %v, want ErrManifestUnknown", err)
	}
	if err := c.DeleteManifest(ctx, "no/such", d); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Errorf("DeleteManifest = %v, want ErrManifestUnknown", err)
	}
	if err := c.UnlinkBlob(ctx, "no/such", d); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Errorf("UnlinkBlob = %v, want ErrBlobUnknown", err)
	}
	if refs, err := c.Referrers(ctx, "no/such", d); err != nil || refs == nil || len(refs) != 0 {
		t.Errorf("Referrers = %v, %v; want an empty list", refs, err)
	}
	if repos, err := c.Repositories(ctx, "", 10); err != nil || repos == nil || len(repos) != 0 {
		t.Errorf("Repositories = %v, %v; want an empty list", repos, err)
	}
}

func TestPagination(t *testing.T) {
	ctx := context.Background()
	be := newMemBackend()
	c, _ := start(t, be)
	// More tags than one server page, so the client pages on its own.
	const nTags = client.MaxPage + 234
	var want []string
	for i := range nTags {
		tag := fmt.Sprintf("t%05d", i)
		want = append(want, tag)
		if err := c.PutManifest(ctx, "r", entry(tag), tag); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.ListTags(ctx, "r", "", -1)
	if err != nil || !slices.Equal(all, want) {
		t.Fatalf("ListTags(all): %d tags, %v", len(all), err)
	}
	big, err := c.ListTags(ctx, "r", "", client.MaxPage+10)
	if err != nil || !slices.Equal(big, want[:client.MaxPage+10]) {
		t.Fatalf("ListTags(MaxPage+10): %d tags, %v", len(big), err)
	}
	// Walk in pages of 7 the way the registry's Link header does.
	var walked []string
	last := ""
	for {
		p, err := c.ListTags(ctx, "r", last, 7)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, p...)
		if len(p) < 7 {
			break
		}
		last = p[len(p)-1]
	}
	if !slices.Equal(walked, want) {
		t.Fatalf("walked %d tags, want %d", len(walked), len(want))
	}
	// last need not be an existing tag.
	if p, err := c.ListTags(ctx, "r", "t00009x", 2); err != nil || !slices.Equal(p, []string{"t00010", "t00011"}) {
		t.Fatalf("ListTags after a missing name = %v, %v", p, err)
	}
	if p, err := c.ListTags(ctx, "r", "", 0); err != nil || len(p) != 0 {
		t.Fatalf("ListTags(n=0) = %v, %v", p, err)
	}

	for _, r := range []string{"b/x", "a", "c", "b"} {
		if err := c.LinkBlob(ctx, r, core.SHA256Digest([]byte(r))); err != nil {
			t.Fatal(err)
		}
	}
	repos, err := c.Repositories(ctx, "a", 2)
	if err != nil || !slices.Equal(repos, []string{"b", "b/x"}) {
		t.Fatalf("Repositories(after a, 2) = %v, %v", repos, err)
	}
	repos, err = c.Repositories(ctx, "b/x", 10)
	if err != nil || !slices.Equal(repos, []string{"c", "r"}) {
		t.Fatalf("Repositories(after b/x) = %v, %v", repos, err)
	}
}

func TestDeleteSemantics(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	c, ts := start(t, fsBackend(t, root))
	m1, m2 := entry("one"), entry("two")
	ref := entry("signature")
	ref.Subject = m1.Digest
	ref.ArtifactType = "application/vnd.example.sig"
	for _, p := range []struct {
		e   core.ManifestEntry
		tag string
	}{{m1, "a"}, {m1, "b"}, {m2, "c"}, {ref, ""}} {
		if err := c.PutManifest(ctx, "repo", p.e, p.tag); err != nil {
			t.Fatal(err)
		}
	}
	refs, err := c.Referrers(ctx, "repo", m1.Digest)
	if err != nil || len(refs) != 1 || refs[0].Digest != ref.Digest || refs[0].Subject != m1.Digest ||
		refs[0].ArtifactType != ref.ArtifactType {
		t.Fatalf("Referrers = %+v, %v", refs, err)
	}

	// Deleting m1 removes it and both its tags, not m2's.
	if err := c.DeleteManifest(ctx, "repo", m1.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetManifest(ctx, "repo", m1.Digest); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("GetManifest after delete = %v", err)
	}
	for _, tag := range []string{"a", "b"} {
		if _, err := c.GetTag(ctx, "repo", tag); !errors.Is(err, registry.ErrManifestUnknown) {
			t.Fatalf("GetTag %s after delete = %v", tag, err)
		}
	}
	if tags, err := c.ListTags(ctx, "repo", "", 10); err != nil || !slices.Equal(tags, []string{"c"}) {
		t.Fatalf("ListTags = %v, %v", tags, err)
	}
	// The referrer is a manifest of its own and stays until deleted.
	if refs, err := c.Referrers(ctx, "repo", m1.Digest); err != nil || len(refs) != 1 {
		t.Fatalf("Referrers after deleting the subject = %v, %v", refs, err)
	}
	if err := c.DeleteManifest(ctx, "repo", ref.Digest); err != nil {
		t.Fatal(err)
	}
	if refs, err := c.Referrers(ctx, "repo", m1.Digest); err != nil || len(refs) != 0 {
		t.Fatalf("Referrers after deleting the referrer = %v, %v", refs, err)
	}

	// Deleting a tag leaves its manifest.
	if err := c.DeleteTag(ctx, "repo", "c"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTag(ctx, "repo", "c"); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("second DeleteTag = %v", err)
	}
	if _, err := c.GetManifest(ctx, "repo", m2.Digest); err != nil {
		t.Fatalf("GetManifest of an untagged manifest: %v", err)
	}
	if tags, err := c.ListTags(ctx, "repo", "", 10); err != nil || len(tags) != 0 {
		t.Fatalf("ListTags of a repo without tags = %v, %v", tags, err)
	}
	// Once the repository holds nothing it is gone, and so are its files.
	if err := c.DeleteManifest(ctx, "repo", m2.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTags(ctx, "repo", "", 10); !errors.Is(err, registry.ErrNameUnknown) {
		t.Fatalf("ListTags of an emptied repo = %v", err)
	}
	if repos, _ := c.Repositories(ctx, "", 10); len(repos) != 0 {
		t.Fatalf("Repositories = %v", repos)
	}
	ts.Close()
	c2, _ := start(t, fsBackend(t, root))
	if repos, err := c2.Repositories(ctx, "", 10); err != nil || len(repos) != 0 {
		t.Fatalf("Repositories after restart = %v, %v", repos, err)
	}
	var files []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("files left after deleting everything: %v", files)
	}
}

func TestBlobLinks(t *testing.T) {
	ctx := context.Background()
	c, _ := start(t, newMemBackend())
	d := core.SHA256Digest([]byte("layer"))
	for range 2 { // linking twice is fine
		if err := c.LinkBlob(ctx, "a/b", d); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.HasBlob(ctx, "a/b", d); err != nil {
		t.Fatal(err)
	}
	if err := c.UnlinkBlob(ctx, "a/b", d); err != nil {
		t.Fatal(err)
	}
	if err := c.HasBlob(ctx, "a/b", d); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("HasBlob after unlink = %v", err)
	}
	if err := c.UnlinkBlob(ctx, "a/b", d); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("second UnlinkBlob = %v", err)
	}
}

func TestInvalidRequestsRejected(t *testing.T) {
	be := newMemBackend()
	_, ts := start(t, be)
	d := core.SHA256Digest([]byte("x")).String()
	body := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d + `","size":1}`
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/taglist/../etc", "", 400, client.CodeNameInvalid},
		{"GET", "/v1/taglist/a/../../b", "", 400, client.CodeNameInvalid},
		{"GET", "/v1/taglist/a/./b", "", 400, client.CodeNameInvalid},
		{"GET", "/v1/taglist/UPPER", "", 400, client.CodeNameInvalid},
		{"GET", "/v1/taglist/a//b", "", 400, client.CodeNameInvalid},
		{"GET", "/v1/taglist/a/_tags/b", "", 400, client.CodeNameInvalid},
		{"GET", "/v1/taglist/" + strings.Repeat("a", 256), "", 400, client.CodeNameInvalid},
		{"GET", "/v1/tags/../repo", "", 400, client.CodeTagInvalid},
		{"DELETE", "/v1/tags/.hidden/repo", "", 400, client.CodeTagInvalid},
		{"GET", "/v1/tags/" + strings.Repeat("t", 129) + "/repo", "", 400, client.CodeTagInvalid},
		{"PUT", "/v1/manifests/" + d + "/repo?tag=..", body, 400, client.CodeTagInvalid},
		{"PUT", "/v1/manifests/" + d + "/repo?tag=a/b", body, 400, client.CodeTagInvalid},
		{"PUT", "/v1/manifests/" + d + "/../repo", body, 400, client.CodeNameInvalid},
		{"PUT", "/v1/manifests/sha256:abc/repo", body, 400, client.CodeDigestInvalid},
		{"PUT", "/v1/manifests/md5:" + strings.Repeat("0", 32) + "/repo", body, 400, client.CodeDigestInvalid},
		{"PUT", "/v1/manifests/" + core.SHA256Digest([]byte("y")).String() + "/repo", body, 400, client.CodeBodyInvalid},
		{"PUT", "/v1/manifests/" + d + "/repo", `{"digest":"` + d + `","size":1}`, 400, client.CodeBodyInvalid},
		{"PUT", "/v1/manifests/" + d + "/repo", `{"mediaType":"x","digest":"` + d + `","size":-1}`, 400, client.CodeBodyInvalid},
		{"PUT", "/v1/manifests/" + d + "/repo", body + "{}", 400, client.CodeBodyInvalid},
		{"PUT", "/v1/manifests/" + d + "/repo", `{"mediaType":"x","digest":"` + d + `","size":1,"extra":1}`, 400, client.CodeBodyInvalid},
		{"PUT", "/v1/blobs/" + d + "/a/../b", "", 400, client.CodeNameInvalid},
		{"GET", "/v1/repositories?n=-1", "", 400, client.CodePaginationInvalid},
		{"GET", "/v1/repositories?n=1001", "", 400, client.CodePaginationInvalid},
		{"GET", "/v1/repositories?n=ten", "", 400, client.CodePaginationInvalid},
		{"GET", "/v1/taglist/repo?n=99999999999999999999", "", 400, client.CodePaginationInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.code != "" && !strings.Contains(string(b), `"code":"`+tc.code+`"`) {
				t.Fatalf("body %s, want code %s", b, tc.code)
			}
		})
	}
	if names := be.names(); len(names) != 0 {
		t.Fatalf("rejected requests wrote %v", names)
	}
}

func TestBackendFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	be := newMemBackend()
	c, _ := start(t, be)
	m1, m2 := entry("one"), entry("two")
	if err := c.PutManifest(ctx, "repo", m1, "latest"); err != nil {
		t.Fatal(err)
	}
	be.setFailWrite(errors.New("disk on fire"))
	if err := c.PutManifest(ctx, "repo", m2, "latest"); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("PutManifest with a failing backend = %v, want ErrUnavailable", err)
	}
	if err := c.DeleteManifest(ctx, "repo", m1.Digest); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("DeleteManifest with a failing backend = %v, want ErrUnavailable", err)
	}
	if d, err := c.GetTag(ctx, "repo", "latest"); err != nil || d != m1.Digest {
		t.Fatalf("GetTag = %v, %v; the failed writes must not show", d, err)
	}
	if _, err := c.GetManifest(ctx, "repo", m2.Digest); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("GetManifest of the failed put = %v", err)
	}
	be.setFailWrite(nil)
	if err := c.PutManifest(ctx, "repo", m2, "latest"); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSkipsDamagedObjects(t *testing.T) {
	ctx := context.Background()
	be := newMemBackend()
	good := entry("good")
	c, ts := start(t, be)
	if err := c.PutManifest(ctx, "repo", good, "latest"); err != nil {
		t.Fatal(err)
	}
	ts.Close()
	other := core.SHA256Digest([]byte("other"))
	for name, content := range map[string]string{
		"repositories/repo/_tags/broken":                                 "not a digest",
		"repositories/repo/_manifests/sha256/" + other.Hex():             `{"mediaType":"x","digest":"` + good.Digest.String() + `","size":1}`,
		"repositories/repo/_manifests/sha256/" + strings.Repeat("0", 64): "{",
		"repositories/Bad/_tags/x":                                       good.Digest.String(),
		"repositories/repo/_unknown/x":                                   "",
		"repositories/repo/_tags/huge":                                   strings.Repeat(" ", maxObjectBytes+1),
	} {
		if err := be.Upload(ctx, name, strings.NewReader(content), int64(len(content))); err != nil {
			t.Fatal(err)
		}
	}
	c2, _ := start(t, be)
	tags, err := c2.ListTags(ctx, "repo", "", 10)
	if err != nil || !slices.Equal(tags, []string{"latest"}) {
		t.Fatalf("ListTags = %v, %v", tags, err)
	}
	if _, err := c2.GetManifest(ctx, "repo", other); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("a record stored under the wrong digest was loaded: %v", err)
	}
	if repos, _ := c2.Repositories(ctx, "", 10); !slices.Equal(repos, []string{"repo"}) {
		t.Fatalf("Repositories = %v", repos)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	_, ts := start(t, newMemBackend())
	resp, err := ts.Client().Get(ts.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %s", resp.Status)
	}
}

// TestConcurrentWriters: writers of one repository and of many, racing with readers, leave
// memory and the backend in agreement (checked by a restart).
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	be := newMemBackend()
	c, ts := start(t, be)
	const writers, perWriter = 8, 25
	errs := make(chan error, writers*2)
	done := make(chan struct{})
	go func() { // a reader that must never see an error other than not-found
		defer close(done)
		for i := 0; i < 200; i++ {
			if _, err := c.GetTag(ctx, "shared", "latest"); err != nil && !errors.Is(err, registry.ErrManifestUnknown) {
				errs <- err
				return
			}
			if _, err := c.Repositories(ctx, "", 100); err != nil {
				errs <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				e := entry(fmt.Sprintf("w%d-%d", w, i))
				if err := c.PutManifest(ctx, "shared", e, "latest"); err != nil {
					errs <- err
					return
				}
				if err := c.PutManifest(ctx, fmt.Sprintf("own/r%d", w), e, fmt.Sprintf("t%d", i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	<-done
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	latest, err := c.GetTag(ctx, "shared", "latest")
	if err != nil {
		t.Fatal(err)
	}
	ts.Close()
	c2, _ := start(t, be)
	if d, err := c2.GetTag(ctx, "shared", "latest"); err != nil || d != latest {
		t.Fatalf("after restart latest = %v, %v; before %v", d, err, latest)
	}
	repos, err := c2.Repositories(ctx, "", -1)
	if err != nil || len(repos) != writers+1 {
		t.Fatalf("Repositories = %v, %v", repos, err)
	}
	for w := range writers {
		tags, err := c2.ListTags(ctx, fmt.Sprintf("own/r%d", w), "", -1)
		if err != nil || len(tags) != perWriter {
			t.Fatalf("own/r%d: %d tags, %v", w, len(tags), err)
		}
	}
}

// TestClientUnavailable: a build-index that is down or cut off gives ErrUnavailable, and a
// cancelled call gives the context's error.
func TestClientUnavailable(t *testing.T) {
	c, ts := start(t, newMemBackend())
	ts.Close()
	if _, err := c.GetTag(context.Background(), "repo", "latest"); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("GetTag against a stopped build-index = %v, want ErrUnavailable", err)
	}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream on fire", http.StatusBadGateway)
	}))
	defer broken.Close()
	bc := client.New(broken.URL, nil)
	if _, err := bc.Repositories(context.Background(), "", 10); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("Repositories through a 502 = %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bc.LinkBlob(ctx, "repo", core.SHA256Digest(nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled LinkBlob = %v", err)
	}
}

// TestListManifests: every manifest a repository records is listed, tagged or not, in digest
// order and across pages; a deleted one is not; an unknown repository is ErrNameUnknown.
func TestListManifests(t *testing.T) {
	ctx := context.Background()
	c, _ := start(t, newMemBackend())
	const n = client.MaxPage + 3
	var want []string
	for i := range n {
		e := entry(fmt.Sprintf("m%d", i))
		tag := ""
		if i%2 == 0 {
			tag = fmt.Sprintf("t%d", i)
		}
		if err := c.PutManifest(ctx, "r", e, tag); err != nil {
			t.Fatal(err)
		}
		want = append(want, e.Digest.String())
	}
	slices.Sort(want)
	got, err := c.ListManifests(ctx, "r", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(got))
	for i, d := range got {
		names[i] = d.String()
	}
	if !slices.Equal(names, want) {
		t.Fatalf("ListManifests: %d digests, want %d", len(names), len(want))
	}
	if err := c.DeleteManifest(ctx, "r", got[0]); err != nil {
		t.Fatal(err)
	}
	if rest, err := c.ListManifests(ctx, "r", "", 2); err != nil || len(rest) != 2 || rest[0] != got[1] {
		t.Fatalf("after deleting the first: %v, %v", rest, err)
	}
	if _, err := c.ListManifests(ctx, "no/such", "", 10); !errors.Is(err, registry.ErrNameUnknown) {
		t.Fatalf("unknown repository: %v", err)
	}
}
