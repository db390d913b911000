package buildindex

import (
	"strings"
	"testing"
)

// FuzzParseObject feeds backend names to the parser load uses: whatever it accepts must
// round-trip to the same name and pass the API's own name checks.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		"repositories/library/busybox/_tags/latest",
		"repositories/a/_manifests/sha256/" + strings.Repeat("ab", 32),
		"repositories/a/b/_layers/sha512/" + strings.Repeat("cd", 64),
		"repositories/a/../b/_tags/x",
		"repositories/a/_tags/b/_tags/c",
		"repositories//_tags/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		o, err := parseObject(name)
		if err != nil {
			return
		}
		if err := CheckRepo(o.repo); err != nil {
			t.Fatalf("%q: accepted repo %q: %v", name, o.repo, err)
		}
		var back string
		switch o.kind {
		case kindTag:
			if err := CheckTag(o.tag); err != nil {
				t.Fatalf("%q: accepted tag %q: %v", name, o.tag, err)
			}
			back = tagObject(o.repo, o.tag)
		case kindManifest:
			back = manifestObject(o.repo, o.dgst)
		case kindBlob:
			back = blobObject(o.repo, o.dgst)
		default:
			t.Fatalf("%q: kind %d", name, o.kind)
		}
		if back != name {
			t.Fatalf("%q parsed to %+v, which names %q", name, o, back)
		}
	})
}

// FuzzDecodeEntry feeds manifest records to the strict decoder used on load and on PUT.
func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` +
		strings.Repeat("ab", 32) + `","size":12}`))
	f.Add([]byte(`{"mediaType":"x","digest":"sha256:` + strings.Repeat("ab", 32) +
		`","size":1,"subject":"sha256:` + strings.Repeat("cd", 32) + `","annotations":{"a":"b"}}`))
	f.Add([]byte(`{"mediaType":"x","digest":"sha256:00","size":1}`))
	f.Add([]byte(`{}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		if err := CheckEntry(e); err != nil {
			t.Fatalf("accepted an invalid entry %+v: %v", e, err)
		}
	})
}
