// Command seed pushes the content the read-only conformance run reads back through an agent:
// an image, a multi-arch index and an artifact that names the image as its subject. It prints
// the suite's OCI_RO_DATA_* settings as shell assignments.
//
//	go run ./test/conformance/seed -registry 127.0.0.1:5000 -repo conformance/pull
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/docket-p2p/docket/test/imagegen"
)

func main() {
	registry := flag.String("registry", "127.0.0.1:5000", "registry (proxy) host:port to push to")
	repo := flag.String("repo", "conformance/pull", "repository")
	flag.Parse()
	if err := run(*registry, *repo); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(registry, repo string) error {
	ref := func(s string) (name.Reference, error) { return name.ParseReference(registry+"/"+repo+s, name.Insecure) }
	img, err := imagegen.Image(1, imagegen.OCI, 64<<10, 4<<10)
	if err != nil {
		return err
	}
	idx, err := imagegen.Index(2, imagegen.OCI, 16<<10)
	if err != nil {
		return err
	}
	imgDigest, err := img.Digest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	size, err := img.Size()
	if err != nil {
		return err
	}
	art, err := imagegen.Image(3, imagegen.OCI, 1<<10)
	if err != nil {
		return err
	}
	art = mutate.ConfigMediaType(art, types.MediaType("application/vnd.docket.test.signature"))
	artifact, ok := mutate.Subject(art, v1.Descriptor{MediaType: mt, Digest: imgDigest, Size: size}).(v1.Image)
	if !ok {
		return fmt.Errorf("mutate.Subject did not return an image")
	}

	pushes := []struct {
		tag string
		put func(name.Reference) error
	}{
		{":v1", func(r name.Reference) error { return remote.Write(r, img) }},
		{":multi", func(r name.Reference) error { return remote.WriteIndex(r, idx) }},
		{":signature", func(r name.Reference) error { return remote.Write(r, artifact) }},
	}
	for _, p := range pushes {
		r, err := ref(p.tag)
		if err != nil {
			return err
		}
		if err := p.put(r); err != nil {
			return fmt.Errorf("push %s: %w", r, err)
		}
	}

	idxDigest, err := idx.Digest()
	if err != nil {
		return err
	}
	artDigest, err := artifact.Digest()
	if err != nil {
		return err
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return err
	}
	blobs := []string{cfg.String()}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		blobs = append(blobs, d.String())
	}
	fmt.Printf("OCI_RO_DATA_TAGS=%q\n", "v1 multi signature")
	fmt.Printf("OCI_RO_DATA_MANIFESTS=%q\n", strings.Join([]string{imgDigest.String(), idxDigest.String(), artDigest.String()}, " "))
	fmt.Printf("OCI_RO_DATA_BLOBS=%q\n", strings.Join(blobs, " "))
	fmt.Printf("OCI_RO_DATA_REFERRERS=%q\n", imgDigest.String())
	return nil
}
