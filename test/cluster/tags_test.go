package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	biclient "github.com/docket-p2p/docket/buildindex/client"
	"github.com/docket-p2p/docket/core"
)

// startBuildIndex starts a `docket build-index` process on the store with its data in dir.
func startBuildIndex(t *testing.T, store bucketStore, dir string) (*proc, *biclient.Client) {
	t.Helper()
	addr := freeAddr(t)
	p := startProc(t, "build-index", "http://"+addr+"/health", docketBin, "build-index", "--config",
		writeConfig(t, dir, "build-index", fmt.Sprintf("listen: %q\ndata_dir: %q\n", addr, filepath.Join(dir, "data"))+store.backendYAML()))
	return p, biclient.New(addr, nil)
}

// TestTagsWrittenBack: with the object store down, tag puts on the build-index are
// acknowledged; the build-index is killed -9 and restarted and still serves them; once the
// store returns they reach the bucket: a fresh build-index with an empty disk loads them.
func TestTagsWrittenBack(t *testing.T) {
	ctx := context.Background()
	store := startObjectStore(t)
	dir := t.TempDir()
	bi, c := startBuildIndex(t, store, dir)
	store.kill()
	tags := map[string]core.Digest{}
	for i := range 5 {
		content := fmt.Sprintf(`{"manifest": %d}`, i)
		e := core.ManifestEntry{Descriptor: core.Descriptor{
			MediaType: "application/vnd.oci.image.manifest.v1+json",
			Digest:    core.SHA256Digest([]byte(content)), Size: int64(len(content)),
		}}
		tag := fmt.Sprintf("v%d", i)
		if err := c.PutManifest(ctx, ns, e, tag); err != nil {
			t.Fatalf("tag put with the object store down: %v", err)
		}
		tags[tag] = e.Digest
	}
	// Killed with the tags owed to the bucket; the store returns, the build-index starts again
	// (it loads the index from the bucket, so it needs the store) and serves them from its
	// journal while it writes them back.
	bi.kill()
	journal := filepath.Join(dir, "data", "writeback", "journal") // lib/backend/writeback's
	if owed, err := os.ReadDir(journal); err != nil || len(owed) < len(tags) {
		t.Fatalf("journal after the kill: %d entries (%v), want at least %d", len(owed), err, len(tags))
	}
	store.start()
	bi.start()
	for tag, d := range tags {
		if got, err := c.GetTag(ctx, ns, tag); err != nil || got != d {
			t.Fatalf("%s after a kill -9 and restart: %v, %v; want %v", tag, got, err, d)
		}
	}
	start := time.Now()
	waitFor(t, bucketWait, "the build-index's write-back journal empty", func() bool {
		left, err := os.ReadDir(journal)
		return err == nil && len(left) == 0
	})
	t.Logf("the build-index's write-back queue emptied %v after the restart", time.Since(start).Round(time.Millisecond))
	_, fresh := startBuildIndex(t, store, t.TempDir())
	for tag, d := range tags {
		if got, err := fresh.GetTag(ctx, ns, tag); err != nil || got != d {
			t.Errorf("%s from a build-index with an empty disk: %v, %v; want %v", tag, got, err, d)
		}
	}
}
