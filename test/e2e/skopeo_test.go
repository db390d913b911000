package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/test/imagegen"
)

// TestSkopeo copies an image and a multi-arch index from an OCI layout to the proxy with
// skopeo, copies them back out of the agent, and compares manifests byte for byte and every
// blob by digest.
func TestSkopeo(t *testing.T) {
	skopeo := needTool(t, "skopeo")
	c := startCluster(t)
	src := t.TempDir()
	img, err := imagegen.Image(seedFor(t), imagegen.OCI, 1<<20, 300<<10, 10)
	if err != nil {
		t.Fatal(err)
	}
	// A Docker manifest list: skopeo 1.9 would rewrite an OCI index whose descriptors carry
	// artifactType (go-containerregistry adds it), which --preserve-digests forbids.
	idx, err := imagegen.Index(seedFor(t)+1, imagegen.Docker, 128<<10)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(filepath.Join(src, "img"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	pi, err := layout.Write(filepath.Join(src, "idx"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := pi.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, layoutDir string
		all             bool
	}{{"image", "img", false}, {"index", "idx", true}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"copy", "--dest-tls-verify=false", "--preserve-digests"}
			if tc.all {
				args = append(args, "--all")
			}
			repo := "e2e/skopeo-" + tc.name + ":v1"
			run(t, skopeo, append(args, "oci:"+filepath.Join(src, tc.layoutDir), "docker://"+c.Proxy+"/"+repo)...)

			srcRaw := run(t, skopeo, "inspect", "--raw", "oci:"+filepath.Join(src, tc.layoutDir))
			for _, host := range []string{c.Proxy, c.Agent} {
				got := run(t, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+host+"/"+repo)
				if got != srcRaw {
					t.Fatalf("manifest from %s differs from the pushed one:\n got %s\nwant %s", host, got, srcRaw)
				}
			}
			// Copy out of the agent into a dir: layout, where every blob and instance manifest
			// is a file named by its digest; each must hash to its name.
			out := filepath.Join(t.TempDir(), "out")
			pullArgs := []string{"copy", "--src-tls-verify=false", "--preserve-digests"}
			if tc.all {
				pullArgs = append(pullArgs, "--all")
			}
			run(t, skopeo, append(pullArgs, "docker://"+c.Agent+"/"+repo, "dir:"+out)...)
			got, err := os.ReadFile(filepath.Join(out, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != srcRaw {
				t.Fatalf("manifest copied from the agent differs:\n got %s\nwant %s", got, srcRaw)
			}
			checked := verifyDirLayout(t, out)
			want := 3 // config and two layers
			if tc.all {
				want = 3 * len(imagegen.Platforms) // per instance: manifest, config, one layer
			}
			if checked < want {
				t.Fatalf("checked %d digest-named files in the copy, want at least %d", checked, want)
			}
		})
	}
}

// verifyDirLayout checks every file of a skopeo dir: copy named by a hex digest (blobs) or
// "<hex>.manifest.json" (list instances) against its name, and returns how many it checked.
func verifyDirLayout(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		hex := strings.TrimSuffix(e.Name(), ".manifest.json")
		d, err := core.ParseDigest("sha256:" + hex)
		if err != nil {
			continue // manifest.json, version
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if got := core.SHA256Digest(b); got != d {
			t.Fatalf("%s holds content with digest %s", e.Name(), got)
		}
		n++
	}
	return n
}
