// Package imagegen makes random container images for end-to-end tests and benchmarks: real
// multi-layer OCI and Docker images and multi-arch indexes whose layers are incompressible random
// bytes, so every push and pull moves the full size.
package imagegen

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	tbl "github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Format chooses the manifest and media types of a generated image.
type Format int

// The two manifest families registries must handle.
const (
	OCI Format = iota
	Docker
)

// Image returns an image of the given format whose layers are gzip-compressed tar archives,
// each holding one file of the given size of random bytes, drawn from a generator seeded with
// seed so a test can regenerate the same image. Every client (docker load, skopeo, validate)
// accepts it as a real image.
func Image(seed uint64, format Format, layerSizes ...int64) (v1.Image, error) {
	rng := rand.NewChaCha8(seedBytes(seed))
	layerType := types.OCILayer
	if format == Docker {
		layerType = types.DockerLayer
	}
	layers := make([]v1.Layer, 0, len(layerSizes))
	for i, n := range layerSizes {
		b := make([]byte, n)
		_, _ = rng.Read(b) // ChaCha8.Read never fails
		tarball, err := tarOf(fmt.Sprintf("layer%d.bin", i), b)
		if err != nil {
			return nil, err
		}
		l, err := tbl.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarball)), nil },
			tbl.WithMediaType(layerType), tbl.WithCompressionLevel(gzip.BestSpeed), tbl.WithCompressedCaching)
		if err != nil {
			return nil, fmt.Errorf("imagegen: %w", err)
		}
		layers = append(layers, l)
	}
	return assemble(seed, format, layers)
}

// RawImage returns an OCI image whose layers are raw random bytes typed as uncompressed tar
// archives: the cheapest content to generate and move, for throughput benchmarks that read
// every byte but do not unpack layers.
func RawImage(seed uint64, layerSizes ...int64) (v1.Image, error) {
	rng := rand.NewChaCha8(seedBytes(seed))
	layers := make([]v1.Layer, 0, len(layerSizes))
	for _, n := range layerSizes {
		b := make([]byte, n)
		_, _ = rng.Read(b)
		layers = append(layers, static.NewLayer(b, types.OCIUncompressedLayer))
	}
	return assemble(seed, OCI, layers)
}

func tarOf(name string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func assemble(seed uint64, format Format, layers []v1.Layer) (v1.Image, error) {
	manifestType, configType := types.OCIManifestSchema1, types.OCIConfigJSON
	if format == Docker {
		manifestType, configType = types.DockerManifestSchema2, types.DockerConfigJSON
	}
	img := mutate.MediaType(empty.Image, manifestType)
	img = mutate.ConfigMediaType(img, configType)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("imagegen: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("imagegen: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config.Labels = map[string]string{"docket.test.seed": fmt.Sprint(seed)}
	return mutate.ConfigFile(img, cf)
}

// Platforms are the architectures Index builds one image for each.
var Platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"},
	{OS: "linux", Architecture: "s390x"},
}

// Index returns a multi-arch image index (OCI or Docker manifest list) with one image per
// platform in Platforms, each with len(layerSizes) random layers.
func Index(seed uint64, format Format, layerSizes ...int64) (v1.ImageIndex, error) {
	indexType := types.OCIImageIndex
	if format == Docker {
		indexType = types.DockerManifestList
	}
	idx := mutate.IndexMediaType(empty.Index, indexType)
	adds := make([]mutate.IndexAddendum, 0, len(Platforms))
	for i, p := range Platforms {
		img, err := Image(seed*1000+uint64(i)+1, format, layerSizes...)
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("imagegen: %w", err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, fmt.Errorf("imagegen: %w", err)
		}
		plat := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	s[31] = 0xd0
	return s
}
