package registry_test

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fixtures lists what pushFixtures stored, as digest and tag strings.
type fixtures struct {
	tags, manifests, blobs, subjects []string
}

// pushFixtures pushes to addr/repo, with go-containerregistry, an OCI image (tagged "v1"), a
// multi-platform index (tagged "multi") and an artifact whose subject is the image (tagged
// "sig").
func pushFixtures(t *testing.T, addr, repo string) fixtures {
	t.Helper()
	var f fixtures
	ref := func(tag string) name.Reference {
		r, err := name.ParseReference(addr+"/"+repo+":"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	img, err := random.Image(4<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if err := remote.Write(ref("v1"), img); err != nil {
		t.Fatal(err)
	}
	imgDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	f.tags = append(f.tags, "v1")
	f.manifests = append(f.manifests, imgDigest.String())
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	f.blobs = append(f.blobs, cfg.String())
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		f.blobs = append(f.blobs, d.String())
	}

	idx, err := random.Index(2<<10, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref("multi"), idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	f.tags = append(f.tags, "multi")
	f.manifests = append(f.manifests, idxDigest.String())
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		f.manifests = append(f.manifests, m.Digest.String())
	}

	size, err := img.Size()
	if err != nil {
		t.Fatal(err)
	}
	art, err := random.Image(1<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	art = mutate.MediaType(art, types.OCIManifestSchema1)
	art = mutate.ConfigMediaType(art, "application/vnd.example.signature.v1+json")
	sig, ok := mutate.Subject(art, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: imgDigest, Size: size}).(v1.Image)
	if !ok {
		t.Fatal("mutate.Subject of an image is not an image")
	}
	if err := remote.Write(ref("sig"), sig); err != nil {
		t.Fatal(err)
	}
	sigDigest, err := partial.Digest(sig)
	if err != nil {
		t.Fatal(err)
	}
	f.tags = append(f.tags, "sig")
	f.manifests = append(f.manifests, sigDigest.String())
	f.subjects = append(f.subjects, imgDigest.String())
	return f
}
