package e2e

import (
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/docket-p2p/docket/test/imagegen"
)

// TestGGCRImage pushes generated multi-layer images (OCI and Docker schema 2) to the proxy with
// go-containerregistry, pulls them back through the agent, and checks every digest and every
// byte (validate.Image reads each layer and verifies it against its digest and diff id).
func TestGGCRImage(t *testing.T) {
	c := startCluster(t)
	for _, tc := range []struct {
		name   string
		format imagegen.Format
		sizes  []int64
	}{
		{"oci", imagegen.OCI, []int64{3 << 20, 1, 700 << 10, 0}},
		{"docker", imagegen.Docker, []int64{2 << 20, 5 << 10, 64 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := imagegen.Image(seedFor(t), tc.format, tc.sizes...)
			if err != nil {
				t.Fatal(err)
			}
			repo := "e2e/ggcr-" + tc.name
			push := mustRef(t, c.Proxy+"/"+repo+":v1")
			if err := remote.Write(push, img); err != nil {
				t.Fatalf("push: %v", err)
			}
			want := imageDigests(t, img)
			for _, ref := range []string{c.Agent + "/" + repo + ":v1", c.Agent + "/" + repo + "@" + want[0].String()} {
				got, err := remote.Image(mustRef(t, ref))
				if err != nil {
					t.Fatalf("pull %s: %v", ref, err)
				}
				if err := validate.Image(got); err != nil {
					t.Fatalf("pulled image %s does not validate: %v", ref, err)
				}
				assertSameDigests(t, want, imageDigests(t, got))
			}
			// The proxy serves the same bytes.
			got, err := remote.Image(push)
			if err != nil {
				t.Fatal(err)
			}
			assertSameDigests(t, want, imageDigests(t, got))
		})
	}
}

// TestGGCRIndex pushes multi-arch indexes (OCI image index and Docker manifest list) and pulls
// every platform's image back through the agent.
func TestGGCRIndex(t *testing.T) {
	c := startCluster(t)
	for _, tc := range []struct {
		name   string
		format imagegen.Format
	}{{"oci", imagegen.OCI}, {"docker", imagegen.Docker}} {
		t.Run(tc.name, func(t *testing.T) {
			idx, err := imagegen.Index(seedFor(t), tc.format, 256<<10, 32<<10)
			if err != nil {
				t.Fatal(err)
			}
			repo := "e2e/multiarch-" + tc.name
			if err := remote.WriteIndex(mustRef(t, c.Proxy+"/"+repo+":multi"), idx); err != nil {
				t.Fatalf("push index: %v", err)
			}
			wantDigest, err := idx.Digest()
			if err != nil {
				t.Fatal(err)
			}
			got, err := remote.Index(mustRef(t, c.Agent+"/"+repo+":multi"))
			if err != nil {
				t.Fatalf("pull index: %v", err)
			}
			if d, _ := got.Digest(); d != wantDigest {
				t.Fatalf("index digest %s, want %s", d, wantDigest)
			}
			if err := validate.Index(got); err != nil {
				t.Fatalf("pulled index does not validate: %v", err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Manifests) != len(imagegen.Platforms) {
				t.Fatalf("index has %d manifests, want %d", len(im.Manifests), len(imagegen.Platforms))
			}
			for _, desc := range im.Manifests {
				want, err := idx.Image(desc.Digest)
				if err != nil {
					t.Fatal(err)
				}
				// Pull by platform, the way a runtime resolves a multi-arch tag.
				img, err := remote.Image(mustRef(t, c.Agent+"/"+repo+":multi"), remote.WithPlatform(*desc.Platform))
				if err != nil {
					t.Fatalf("pull %s: %v", desc.Platform, err)
				}
				assertSameDigests(t, imageDigests(t, want), imageDigests(t, img))
			}
		})
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// imageDigests lists the manifest digest, the config digest and every layer digest.
func imageDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	out := []v1.Hash{d, cfg}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ld)
	}
	return out
}

func assertSameDigests(t *testing.T, want, got []v1.Hash) {
	t.Helper()
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("digests differ:\n got %v\nwant %v", got, want)
	}
}
