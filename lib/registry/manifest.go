package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"slices"

	"github.com/docket-p2p/docket/core"
)

// maxManifestSize bounds a manifest body, as distribution does (4 MiB).
const maxManifestSize = 4 << 20

// Manifest media types Docket accepts.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// descriptor is a content descriptor as it appears in a manifest.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Data         *string           `json:"data,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// manifest holds the fields of any accepted manifest kind that the registry checks.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptor       `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// parsedManifest is a validated manifest and what the registry records of it.
type parsedManifest struct {
	mediaType string
	isIndex   bool
	blobs     []core.Digest // config and layers that must exist (image manifests)
	children  []core.Digest // manifests that must exist (indexes)
	subject   core.Digest
	entry     core.ManifestEntry
}

// parseManifest validates body against the request's Content-Type. It checks structure and
// digests only; existence of what it references is checked by the handler.
func parseManifest(body []byte, contentType string) (*parsedManifest, error) {
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return nil, errorf(CodeManifestInvalid, "manifest is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, errorf(CodeManifestInvalid, "trailing data after the manifest")
	}
	ct := ""
	if contentType != "" {
		parsed, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, errorf(CodeManifestInvalid, "bad Content-Type %q", contentType)
		}
		ct = parsed
	}
	mt := m.MediaType
	switch {
	case mt != "" && ct != "" && ct != mt:
		return nil, errorf(CodeManifestInvalid, "Content-Type %q does not match the manifest's mediaType %q", ct, mt)
	case mt == "" && ct != "":
		mt = ct
	case mt == "" && m.Manifests != nil:
		mt = MediaTypeOCIIndex
	case mt == "":
		mt = MediaTypeOCIManifest
	}
	if m.SchemaVersion != 2 {
		return nil, errorf(CodeManifestInvalid, "schemaVersion %d is not supported (want 2)", m.SchemaVersion)
	}
	p := &parsedManifest{mediaType: mt}
	switch mt {
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
		if m.Config == nil {
			return nil, errorf(CodeManifestInvalid, "image manifest has no config")
		}
		cd, err := checkDescriptor(*m.Config)
		if err != nil {
			return nil, err
		}
		p.blobs = append(p.blobs, cd)
		for _, l := range m.Layers {
			ld, err := checkDescriptor(l)
			if err != nil {
				return nil, err
			}
			if !nonDistributable(l) {
				p.blobs = append(p.blobs, ld)
			}
		}
		p.entry.ArtifactType = m.ArtifactType
		if p.entry.ArtifactType == "" && mt == MediaTypeOCIManifest {
			p.entry.ArtifactType = m.Config.MediaType
		}
	case MediaTypeOCIIndex, MediaTypeDockerList:
		p.isIndex = true
		for _, c := range m.Manifests {
			cd, err := checkDescriptor(c)
			if err != nil {
				return nil, err
			}
			p.children = append(p.children, cd)
		}
		p.entry.ArtifactType = m.ArtifactType
	default:
		return nil, errorf(CodeManifestInvalid, "unsupported manifest media type %q", mt)
	}
	if m.Subject != nil {
		sd, err := checkDescriptor(*m.Subject)
		if err != nil {
			return nil, err
		}
		p.subject = sd
	}
	p.entry.MediaType = mt
	p.entry.Annotations = m.Annotations
	p.entry.Subject = p.subject
	return p, nil
}

// nonDistributable reports whether a layer may be absent from the registry: foreign or
// non-distributable layers live elsewhere (their URLs).
func nonDistributable(d descriptor) bool {
	switch d.MediaType {
	case "application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
		return true
	}
	return false
}

// checkDescriptor validates a descriptor's digest and size, and its embedded data if any.
func checkDescriptor(d descriptor) (core.Digest, error) {
	dg, err := core.ParseDigest(d.Digest)
	if err != nil {
		return core.Digest{}, errorf(CodeManifestInvalid, "descriptor digest %q: %v", d.Digest, err)
	}
	if d.Size < 0 {
		return core.Digest{}, errorf(CodeManifestInvalid, "descriptor %s has negative size", dg)
	}
	if d.Data != nil {
		raw, err := base64.StdEncoding.DecodeString(*d.Data)
		if err != nil {
			return core.Digest{}, errorf(CodeManifestInvalid, "descriptor %s: data is not base64: %v", dg, err)
		}
		g := dg.NewDigester()
		g.Write(raw)
		if g.Digest() != dg || int64(len(raw)) != d.Size {
			return core.Digest{}, errorf(CodeManifestInvalid, "descriptor %s: embedded data does not match digest and size", dg)
		}
	}
	return dg, nil
}

// digestOf computes the digest of body with algorithm alg.
func digestOf(alg string, body []byte) (core.Digest, error) {
	g, err := core.NewDigester(alg)
	if err != nil {
		return core.Digest{}, fmt.Errorf("%w", err)
	}
	g.Write(body)
	return g.Digest(), nil
}

// ManifestReferences returns what a stored manifest refers to: the config and layers of an
// image, the child manifests of an index, and its subject, if any. The garbage collector
// marks from it; r must hold a manifest this package accepted (contentType its media type).
func ManifestReferences(r io.Reader, contentType string) ([]core.Digest, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxManifestSize {
		return nil, errorf(CodeManifestInvalid, "manifest larger than %d bytes", maxManifestSize)
	}
	p, err := parseManifest(body, contentType)
	if err != nil {
		return nil, err
	}
	refs := slices.Concat(p.blobs, p.children)
	if !p.subject.IsZero() {
		refs = append(refs, p.subject)
	}
	return refs, nil
}
