package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/clocktest"
	"github.com/docket-p2p/docket/lib/store"
)

// imageBlobs returns the digests of an image's manifest, config and layers.
func imageBlobs(t *testing.T, img v1.Image) []core.Digest {
	t.Helper()
	var hs []v1.Hash
	m, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	c, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	hs = append(hs, m, c)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		h, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	ds := make([]core.Digest, len(hs))
	for i, h := range hs {
		ds[i] = core.MustParseDigest(h.String())
	}
	return ds
}

func layerDigest(t *testing.T, l v1.Layer) core.Digest {
	t.Helper()
	h, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return core.MustParseDigest(h.String())
}

// fsBackendPath is where an fs backend rooted at root keeps blob d.
func fsBackendPath(root string, d core.Digest) string {
	return filepath.Join(root, "blobs", d.Algorithm(), d.Hex()[:2], d.Hex())
}

// waitWrittenBack waits (bounded) until the fs backend at root holds every blob of ds: write-back
// is asynchronous, and a collection should be what removes them, not a write-back that had not
// happened yet.
func waitWrittenBack(t *testing.T, root string, ds []core.Digest) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, d := range ds {
		for {
			if _, err := os.Stat(fsBackendPath(root, d)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never reached the backend at %s", d, root)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestGarbageCollection pushes two images sharing a layer, deletes one manifest by digest,
// moves the clock past the grace period and collects: the deleted image's own blobs are gone
// from every origin and the backend; the shared layer and the other image stay pullable; a
// blob uploaded just before the collection survives.
func TestGarbageCollection(t *testing.T) {
	ctx := context.Background()
	// Backend objects carry real upload times: the clock starts now.
	clock := clocktest.At(time.Now())
	st := startStackWith(t, 2, 2, clock.Now, time.Hour)
	host, p, origins, backendRoot := st.host, st.proxy, st.origins, st.backendRoot

	shared, err := random.Layer(64<<10, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	images := make([]v1.Image, 2)
	for i := range images {
		own, err := random.Layer(32<<10, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		if images[i], err = mutate.AppendLayers(empty.Image, shared, own); err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(fmt.Sprintf("%s/gc/app:v%d", host, i), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, images[i]); err != nil {
			t.Fatalf("push v%d: %v", i, err)
		}
	}
	// An old, unreferenced blob that a push finds with a HEAD just before the collection (and
	// so skips uploading) is young again and survives.
	reused, err := random.Layer(8<<10, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(host+"/gc/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(repo, reused); err != nil {
		t.Fatalf("upload: %v", err)
	}
	reusedDigest := layerDigest(t, reused)
	gone, kept := imageBlobs(t, images[0]), imageBlobs(t, images[1])
	sharedDigest := layerDigest(t, shared)
	gone = removeDigest(gone, sharedDigest)
	backendPath := func(d core.Digest) string { return fsBackendPath(backendRoot, d) }
	waitWrittenBack(t, backendRoot, append(append([]core.Digest{}, gone...), kept...))

	// The deleted image's config is evicted from every disk: only the backend holds it.
	for _, o := range origins {
		if err := o.Store().Delete(gone[1]); err != nil {
			t.Fatal(err)
		}
	}
	status, _, body := do(t, http.MethodDelete, fmt.Sprintf("http://%s/v2/gc/app/manifests/%s", host, gone[0]), nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("DELETE manifest: %d %s", status, body)
	}
	if status, _, _ := do(t, http.MethodGet, fmt.Sprintf("http://%s/v2/gc/app/manifests/v0", host), nil, nil); status != http.StatusNotFound {
		t.Fatalf("tag v0 after its manifest was deleted: %d, want 404", status)
	}

	clock.Advance(2 * time.Hour)
	if status, _, _ := do(t, http.MethodHead, fmt.Sprintf("http://%s/v2/gc/app/blobs/%s", host, reusedDigest), nil, nil); status != http.StatusOK {
		t.Fatalf("HEAD of the reused blob: %d", status)
	}
	fresh, err := random.Layer(8<<10, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(repo, fresh); err != nil {
		t.Fatalf("upload of a fresh blob: %v", err)
	}
	freshDigest := layerDigest(t, fresh)

	res, err := p.CollectGarbage(ctx)
	if err != nil {
		t.Fatalf("gc: %v (%+v)", err, res)
	}
	if res.Swept != len(gone) {
		t.Errorf("swept %d blobs, want %d (%+v)", res.Swept, len(gone), res)
	}
	for i, o := range origins {
		for _, d := range gone {
			if _, err := o.Store().Stat(d); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("origin %d still holds collected %s (%v)", i, d, err)
			}
		}
		for _, d := range append([]core.Digest{sharedDigest, freshDigest, reusedDigest}, kept...) {
			if _, err := o.Store().Stat(d); err != nil {
				t.Errorf("origin %d lost %s: %v", i, d, err)
			}
		}
	}
	for _, d := range gone {
		if _, err := os.Stat(backendPath(d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("backend still holds collected %s (%v)", d, err)
		}
	}
	for _, d := range kept {
		if _, err := os.Stat(backendPath(d)); err != nil {
			t.Errorf("backend lost %s: %v", d, err)
		}
	}
	ref, err := name.ParseReference(host+"/gc/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pull of the kept image: %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("kept image after gc: %v", err)
	}

	// A second pass finds nothing more to take.
	if res, err := p.CollectGarbage(ctx); err != nil || res.Swept != 0 {
		t.Fatalf("second gc: %+v, %v", res, err)
	}
}

func removeDigest(ds []core.Digest, d core.Digest) []core.Digest {
	out := ds[:0]
	for _, x := range ds {
		if x != d {
			out = append(out, x)
		}
	}
	return out
}

// TestGarbageCollectionNamespaceBackend: a repository whose namespace row writes back to a
// backend of its own is collected there too, including a blob that only that backend still
// holds (evicted from every disk).
func TestGarbageCollectionNamespaceBackend(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.At(time.Now())
	st := startStackWith(t, 2, 2, clock.Now, time.Hour)
	img, err := random.Image(16<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(st.host+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	blobs := imageBlobs(t, img)
	waitWrittenBack(t, st.teamRoot, blobs)
	for _, d := range blobs {
		if _, err := os.Stat(fsBackendPath(st.backendRoot, d)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s reached the default backend too (%v): the namespace row is not in use", d, err)
		}
	}
	// One layer is evicted from every disk: only the namespace's backend holds it.
	for _, o := range st.origins {
		if err := o.Store().Delete(blobs[2]); err != nil {
			t.Fatal(err)
		}
	}
	status, _, body := do(t, http.MethodDelete, fmt.Sprintf("http://%s/v2/team/app/manifests/%s", st.host, blobs[0]), nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("DELETE manifest: %d %s", status, body)
	}
	clock.Advance(2 * time.Hour)
	res, err := st.proxy.CollectGarbage(ctx)
	if err != nil {
		t.Fatalf("gc: %v (%+v)", err, res)
	}
	if res.Swept != len(blobs) {
		t.Errorf("swept %d blobs, want %d (%+v)", res.Swept, len(blobs), res)
	}
	for _, d := range blobs {
		if _, err := os.Stat(fsBackendPath(st.teamRoot, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the namespace's backend still holds collected %s (%v)", d, err)
		}
		for i, o := range st.origins {
			if _, err := o.Store().Stat(d); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("origin %d still holds collected %s (%v)", i, d, err)
			}
		}
	}
}
