package registrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
)

// RunBlobs checks an implementation of registry.Blobs, and of whichever of BlobPutter,
// BlobUploader, BlobDeleter and BlobMounter it has, against the contract of
// lib/registry/interfaces.go. newBlobs must return empty storage for each call.
func RunBlobs(t *testing.T, newBlobs func(t *testing.T) registry.Blobs) {
	t.Run("Missing", func(t *testing.T) {
		b := newBlobs(t)
		d := core.SHA256Digest([]byte("absent"))
		if _, err := b.Stat(t.Context(), "suite/a", d); !errors.Is(err, registry.ErrBlobUnknown) {
			t.Fatalf("Stat of an absent blob: %v, want ErrBlobUnknown", err)
		}
		if _, err := b.Open(t.Context(), "suite/a", d); !errors.Is(err, registry.ErrBlobUnknown) {
			t.Fatalf("Open of an absent blob: %v, want ErrBlobUnknown", err)
		}
	})
	t.Run("Put", func(t *testing.T) {
		b := newBlobs(t)
		p, ok := b.(registry.BlobPutter)
		if !ok {
			t.Skip("no BlobPutter")
		}
		ctx := t.Context()
		content := []byte("put blob content")
		d := core.SHA256Digest(content)
		if err := p.PutBlob(ctx, "suite/a", d, int64(len(content)), bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		checkBlob(t, b, "suite/a", d, content)
		bad := []byte("other content")
		bd := core.SHA256Digest([]byte("claimed"))
		err := p.PutBlob(ctx, "suite/a", bd, int64(len(bad)), bytes.NewReader(bad))
		if !errors.Is(err, registry.ErrDigestInvalid) {
			t.Fatalf("PutBlob of mismatched content: %v, want ErrDigestInvalid", err)
		}
		if _, err := b.Stat(ctx, "suite/a", bd); !errors.Is(err, registry.ErrBlobUnknown) {
			t.Fatalf("a mismatched PutBlob left a blob: %v", err)
		}
		short := core.SHA256Digest(content[:4])
		err = p.PutBlob(ctx, "suite/a", short, int64(len(content)), bytes.NewReader(content[:4]))
		if !errors.Is(err, registry.ErrDigestInvalid) && !errors.Is(err, registry.ErrSizeInvalid) {
			t.Fatalf("PutBlob shorter than its size: %v, want ErrSizeInvalid or ErrDigestInvalid", err)
		}
	})
	t.Run("Upload", func(t *testing.T) {
		b := newBlobs(t)
		u, ok := b.(registry.BlobUploader)
		if !ok {
			t.Skip("no BlobUploader")
		}
		ctx := t.Context()
		content := []byte(strings.Repeat("chunked upload ", 100))
		d := core.SHA256Digest(content)
		id, err := u.StartUpload(ctx, "suite/a")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := u.UploadSize(ctx, "suite/a", id); err != nil || n != 0 {
			t.Fatalf("UploadSize of a new upload: %d, %v", n, err)
		}
		if n, err := u.AppendUpload(ctx, "suite/a", id, 0, bytes.NewReader(content[:500])); err != nil || n != 500 {
			t.Fatalf("first chunk: %d, %v", n, err)
		}
		if _, err := u.AppendUpload(ctx, "suite/a", id, 100, bytes.NewReader(content[100:200])); !errors.Is(err, registry.ErrRangeInvalid) {
			t.Fatalf("chunk at a wrong offset: %v, want ErrRangeInvalid", err)
		}
		if n, err := u.UploadSize(ctx, "suite/a", id); err != nil || n != 500 {
			t.Fatalf("UploadSize after a refused chunk: %d, %v", n, err)
		}
		if n, err := u.AppendUpload(ctx, "suite/a", id, 500, bytes.NewReader(content[500:])); err != nil || n != int64(len(content)) {
			t.Fatalf("second chunk: %d, %v", n, err)
		}
		if err := u.CommitUpload(ctx, "suite/a", id, d); err != nil {
			t.Fatal(err)
		}
		checkBlob(t, b, "suite/a", d, content)
		if _, err := u.UploadSize(ctx, "suite/a", id); !errors.Is(err, registry.ErrUploadUnknown) {
			t.Fatalf("a committed upload is still open: %v", err)
		}

		// A commit under the wrong digest publishes nothing.
		id, err = u.StartUpload(ctx, "suite/a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.AppendUpload(ctx, "suite/a", id, 0, bytes.NewReader([]byte("abc"))); err != nil {
			t.Fatal(err)
		}
		wrong := core.SHA256Digest([]byte("abd"))
		if err := u.CommitUpload(ctx, "suite/a", id, wrong); !errors.Is(err, registry.ErrDigestInvalid) {
			t.Fatalf("commit under a wrong digest: %v, want ErrDigestInvalid", err)
		}
		if _, err := b.Stat(ctx, "suite/a", wrong); !errors.Is(err, registry.ErrBlobUnknown) {
			t.Fatalf("a refused commit published a blob: %v", err)
		}

		// Cancel ends a session; unknown sessions are ErrUploadUnknown everywhere.
		id, err = u.StartUpload(ctx, "suite/a")
		if err != nil {
			t.Fatal(err)
		}
		if err := u.CancelUpload(ctx, "suite/a", id); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"UploadSize":   second(u.UploadSize(ctx, "suite/a", id)),
			"AppendUpload": second(u.AppendUpload(ctx, "suite/a", id, 0, strings.NewReader("x"))),
			"CommitUpload": u.CommitUpload(ctx, "suite/a", id, core.SHA256Digest([]byte("x"))),
			"CancelUpload": u.CancelUpload(ctx, "suite/a", id),
		} {
			if !errors.Is(err, registry.ErrUploadUnknown) {
				t.Errorf("%s of a cancelled upload: %v, want ErrUploadUnknown", name, err)
			}
		}
	})
	t.Run("EmptyBlob", func(t *testing.T) {
		b := newBlobs(t)
		u, ok := b.(registry.BlobUploader)
		if !ok {
			t.Skip("no BlobUploader")
		}
		ctx := t.Context()
		id, err := u.StartUpload(ctx, "suite/a")
		if err != nil {
			t.Fatal(err)
		}
		d := core.SHA256Digest(nil)
		if err := u.CommitUpload(ctx, "suite/a", id, d); err != nil {
			t.Fatal(err)
		}
		checkBlob(t, b, "suite/a", d, nil)
	})
	t.Run("DeleteAndMount", func(t *testing.T) {
		b := newBlobs(t)
		p, ok := b.(registry.BlobPutter)
		if !ok {
			t.Skip("no BlobPutter")
		}
		ctx := t.Context()
		content := []byte("shared layer")
		d := core.SHA256Digest(content)
		if err := p.PutBlob(ctx, "suite/a", d, int64(len(content)), bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		if m, ok := b.(registry.BlobMounter); ok {
			if err := m.MountBlob(ctx, "suite/empty", "suite/b", d); !errors.Is(err, registry.ErrBlobUnknown) {
				t.Fatalf("mount from a repository without the blob: %v, want ErrBlobUnknown", err)
			}
			if err := m.MountBlob(ctx, "suite/a", "suite/b", d); err != nil {
				t.Fatal(err)
			}
			checkBlob(t, b, "suite/b", d, content)
			if err := m.MountBlob(ctx, "", "suite/c", d); err != nil {
				t.Fatalf("automatic mount: %v", err)
			}
			checkBlob(t, b, "suite/c", d, content)
		}
		del, ok := b.(registry.BlobDeleter)
		if !ok {
			return
		}
		if err := del.DeleteBlob(ctx, "suite/a", d); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Stat(ctx, "suite/a", d); !errors.Is(err, registry.ErrBlobUnknown) {
			t.Fatalf("Stat after delete: %v, want ErrBlobUnknown", err)
		}
		if err := del.DeleteBlob(ctx, "suite/a", d); !errors.Is(err, registry.ErrBlobUnknown) {
			t.Fatalf("second delete: %v, want ErrBlobUnknown", err)
		}
		if _, ok := b.(registry.BlobMounter); ok {
			checkBlob(t, b, "suite/b", d, content) // other repositories keep their link
		}
	})
}

func second[T any](_ T, err error) error { return err }

// checkBlob asserts repo holds d with exactly content, seekable.
func checkBlob(t *testing.T, b registry.Blobs, repo string, d core.Digest, content []byte) {
	t.Helper()
	ctx := context.Background()
	n, err := b.Stat(ctx, repo, d)
	if err != nil || n != int64(len(content)) {
		t.Fatalf("Stat %s@%s: %d, %v; want %d bytes", repo, d, n, err, len(content))
	}
	f, err := b.Open(ctx, repo, d)
	if err != nil {
		t.Fatalf("Open %s@%s: %v", repo, d, err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("content of %s@%s: %q, %v", repo, d, got, err)
	}
	if len(content) > 1 {
		if _, err := f.Seek(1, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(f)
		if err != nil || !bytes.Equal(got, content[1:]) {
			t.Fatalf("content of %s@%s from offset 1: %q, %v", repo, d, got, err)
		}
	}
}

// RunIndex checks an implementation of registry.Index and registry.IndexWriter against the
// contract of lib/registry/interfaces.go. newIndex must return an empty index for each call.
func RunIndex(t *testing.T, newIndex func(t *testing.T) registry.Index) {
	entry := func(s string, subject core.Digest) core.ManifestEntry {
		d := core.SHA256Digest([]byte(s))
		return core.ManifestEntry{
			Descriptor: core.Descriptor{MediaType: registry.MediaTypeOCIManifest, Digest: d, Size: int64(len(s)),
				ArtifactType: "application/vnd.example." + s, Annotations: map[string]string{"name": s}},
			Subject: subject,
		}
	}
	writer := func(t *testing.T, idx registry.Index) registry.IndexWriter {
		w, ok := idx.(registry.IndexWriter)
		if !ok {
			t.Skip("no IndexWriter")
		}
		return w
	}
	t.Run("Tags", func(t *testing.T) {
		idx := newIndex(t)
		w := writer(t, idx)
		ctx := t.Context()
		if _, err := idx.ListTags(ctx, "suite/a", "", 10); !errors.Is(err, registry.ErrNameUnknown) {
			t.Fatalf("ListTags of an unknown repository: %v, want ErrNameUnknown", err)
		}
		one, two := entry("one", core.Digest{}), entry("two", core.Digest{})
		for _, tag := range []string{"b", "a", "c", "d"} {
			if err := w.PutManifest(ctx, "suite/a", one, tag); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.PutManifest(ctx, "suite/a", two, "c"); err != nil { // tags are mutable
			t.Fatal(err)
		}
		if d, err := idx.GetTag(ctx, "suite/a", "c"); err != nil || d != two.Digest {
			t.Fatalf("GetTag after a re-push: %v, %v; want %s", d, err, two.Digest)
		}
		if _, err := idx.GetTag(ctx, "suite/a", "zz"); !errors.Is(err, registry.ErrManifestUnknown) {
			t.Fatalf("GetTag of an unknown tag: %v, want ErrManifestUnknown", err)
		}
		if _, err := idx.GetTag(ctx, "suite/other", "a"); !errors.Is(err, registry.ErrManifestUnknown) {
			t.Fatalf("GetTag in another repository: %v, want ErrManifestUnknown", err)
		}
		var pages [][]string
		for last := ""; ; {
			page, err := idx.ListTags(ctx, "suite/a", last, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			pages = append(pages, page)
			last = page[len(page)-1]
		}
		if fmt.Sprint(pages) != "[[a b c] [d]]" {
			t.Fatalf("tag pages %v, want [[a b c] [d]]", pages)
		}
		if err := w.DeleteTag(ctx, "suite/a", "a"); err != nil {
			t.Fatal(err)
		}
		if err := w.DeleteTag(ctx, "suite/a", "a"); !errors.Is(err, registry.ErrManifestUnknown) {
			t.Fatalf("second DeleteTag: %v, want ErrManifestUnknown", err)
		}
		if _, err := idx.GetManifest(ctx, "suite/a", one.Digest); err != nil {
			t.Fatalf("deleting a tag removed its manifest: %v", err)
		}
		if err := w.DeleteManifest(ctx, "suite/a", one.Digest); err != nil {
			t.Fatal(err)
		}
		tags, err := idx.ListTags(ctx, "suite/a", "", 10)
		if err != nil || !slices.Equal(tags, []string{"c"}) {
			t.Fatalf("tags after deleting their manifest: %v, %v; want [c]", tags, err)
		}
		if _, err := idx.GetManifest(ctx, "suite/a", one.Digest); !errors.Is(err, registry.ErrManifestUnknown) {
			t.Fatalf("GetManifest after delete: %v, want ErrManifestUnknown", err)
		}
		if err := w.DeleteManifest(ctx, "suite/a", one.Digest); !errors.Is(err, registry.ErrManifestUnknown) {
			t.Fatalf("second DeleteManifest: %v, want ErrManifestUnknown", err)
		}
	})
	t.Run("ManifestsAndReferrers", func(t *testing.T) {
		idx := newIndex(t)
		w := writer(t, idx)
		ctx := t.Context()
		img := entry("image", core.Digest{})
		sig, sbom := entry("sig", img.Digest), entry("sbom", img.Digest)
		for _, e := range []core.ManifestEntry{img, sig, sbom} {
			if err := w.PutManifest(ctx, "suite/a", e, ""); err != nil {
				t.Fatal(err)
			}
		}
		got, err := idx.GetManifest(ctx, "suite/a", sig.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest != sig.Digest || got.MediaType != sig.MediaType || got.Size != sig.Size || got.ArtifactType != sig.ArtifactType ||
			got.Subject != sig.Subject || got.Annotations["name"] != "sig" {
			t.Fatalf("GetManifest = %+v, want %+v", got, sig)
		}
		if _, err := idx.GetManifest(ctx, "suite/b", sig.Digest); !errors.Is(err, registry.ErrManifestUnknown) {
			t.Fatalf("GetManifest in another repository: %v, want ErrManifestUnknown", err)
		}
		refs, err := idx.Referrers(ctx, "suite/a", img.Digest)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range refs {
			names = append(names, r.Annotations["name"])
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"sbom", "sig"}) {
			t.Fatalf("referrers %v, want sbom and sig", names)
		}
		if refs, err := idx.Referrers(ctx, "suite/a", sig.Digest); err != nil || len(refs) != 0 {
			t.Fatalf("referrers of a manifest nothing refers to: %v, %v", refs, err)
		}
		if err := w.DeleteManifest(ctx, "suite/a", sig.Digest); err != nil {
			t.Fatal(err)
		}
		if refs, err := idx.Referrers(ctx, "suite/a", img.Digest); err != nil || len(refs) != 1 {
			t.Fatalf("referrers after deleting one: %v, %v", refs, err)
		}
	})
	t.Run("Repositories", func(t *testing.T) {
		idx := newIndex(t)
		w := writer(t, idx)
		ctx := t.Context()
		e := entry("x", core.Digest{})
		for _, repo := range []string{"suite/c", "suite/a", "suite/b/deep"} {
			if err := w.PutManifest(ctx, repo, e, "latest"); err != nil {
				t.Fatal(err)
			}
		}
		first, err := idx.Repositories(ctx, "", 2)
		if err != nil || !slices.Equal(first, []string{"suite/a", "suite/b/deep"}) {
			t.Fatalf("first page %v, %v", first, err)
		}
		rest, err := idx.Repositories(ctx, "suite/b/deep", 2)
		if err != nil || !slices.Equal(rest, []string{"suite/c"}) {
			t.Fatalf("second page %v, %v", rest, err)
		}
	})
}
