package buildindex

import (
	"fmt"
	"strings"

	"github.com/docket-p2p/docket/core"
)

// Backend layout. Repository components never start with "_", so the first "/_tags/",
// "/_manifests/" or "/_layers/" in a name ends the repository unambiguously.
//
//	repositories/<repo>/_tags/<tag>                  the tag's digest, as text
//	repositories/<repo>/_manifests/<alg>/<hex>       the manifest's core.ManifestEntry, as JSON
//	repositories/<repo>/_layers/<alg>/<hex>          empty: repo holds this blob
const (
	rootPrefix   = "repositories/"
	tagsDir      = "/_tags/"
	manifestsDir = "/_manifests/"
	layersDir    = "/_layers/"
)

// objectKind tells what a backend object records.
type objectKind int

const (
	kindTag objectKind = iota + 1
	kindManifest
	kindBlob
)

// object is a parsed backend name.
type object struct {
	kind objectKind
	repo string
	tag  string      // kindTag
	dgst core.Digest // kindManifest, kindBlob
}

func tagObject(repo, tag string) string { return rootPrefix + repo + tagsDir + tag }

func manifestObject(repo string, d core.Digest) string {
	return rootPrefix + repo + manifestsDir + d.Algorithm() + "/" + d.Hex()
}

func blobObject(repo string, d core.Digest) string {
	return rootPrefix + repo + layersDir + d.Algorithm() + "/" + d.Hex()
}

// parseObject parses a backend name written by this package, validating every part the way
// the API does, so nothing the backend holds can smuggle in a name the API would refuse.
func parseObject(name string) (object, error) {
	rest, ok := strings.CutPrefix(name, rootPrefix)
	if !ok {
		return object{}, fmt.Errorf("object %q: not under %s", name, rootPrefix)
	}
	for _, k := range []struct {
		dir  string
		kind objectKind
	}{{tagsDir, kindTag}, {manifestsDir, kindManifest}, {layersDir, kindBlob}} {
		repo, tail, ok := strings.Cut(rest, k.dir)
		if !ok {
			continue
		}
		if err := CheckRepo(repo); err != nil {
			return object{}, fmt.Errorf("object %q: %w", name, err)
		}
		o := object{kind: k.kind, repo: repo}
		if k.kind == kindTag {
			if err := CheckTag(tail); err != nil {
				return object{}, fmt.Errorf("object %q: %w", name, err)
			}
			o.tag = tail
			return o, nil
		}
		alg, hex, ok := strings.Cut(tail, "/")
		if !ok {
			return object{}, fmt.Errorf("object %q: no digest", name)
		}
		d, err := core.ParseDigest(alg + ":" + hex)
		if err != nil {
			return object{}, fmt.Errorf("object %q: %w", name, err)
		}
		o.dgst = d
		return o, nil
	}
	return object{}, fmt.Errorf("object %q: unknown kind", name)
}
