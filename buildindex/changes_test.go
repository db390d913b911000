package buildindex

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
)

// recorder is an Observer that keeps every change.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) Changed(ctx context.Context, c Change) {
	if ctx.Done() != nil {
		panic("observer context carries the caller's cancellation")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) take() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

func TestObserverSeesEveryChange(t *testing.T) {
	ctx := context.Background()
	be := newMemBackend()
	rec := &recorder{}
	c, _ := start(t, be, WithObserver(rec))
	m1, m2 := entry("one"), entry("two")
	ref := entry("signature")
	ref.Subject = m1.Digest
	blob := core.SHA256Digest([]byte("layer"))

	steps := []struct {
		name string
		do   func() error
		want []Change
	}{
		{"put tagged", func() error { return c.PutManifest(ctx, "team/app", m1, "v1") },
			[]Change{{Kind: ChangeManifestPut, Repo: "team/app", Entry: m1, Tag: "v1"}}},
		{"put again: no change", func() error { return c.PutManifest(ctx, "team/app", m1, "v1") }, nil},
		{"second tag", func() error { return c.PutManifest(ctx, "team/app", m1, "latest") },
			[]Change{{Kind: ChangeManifestPut, Repo: "team/app", Entry: m1, Tag: "latest"}}},
		{"referrer", func() error { return c.PutManifest(ctx, "team/app", ref, "") },
			[]Change{{Kind: ChangeManifestPut, Repo: "team/app", Entry: ref}}},
		{"re-push latest", func() error { return c.PutManifest(ctx, "team/app", m2, "latest") },
			[]Change{{Kind: ChangeManifestPut, Repo: "team/app", Entry: m2, Tag: "latest"}}},
		{"link", func() error { return c.LinkBlob(ctx, "team/app", blob) },
			[]Change{{Kind: ChangeBlobLink, Repo: "team/app", Digest: blob}}},
		{"link again: no change", func() error { return c.LinkBlob(ctx, "team/app", blob) }, nil},
		{"unlink", func() error { return c.UnlinkBlob(ctx, "team/app", blob) },
			[]Change{{Kind: ChangeBlobUnlink, Repo: "team/app", Digest: blob}}},
		{"tag m1 again", func() error { return c.PutManifest(ctx, "team/app", m1, "stable") },
			[]Change{{Kind: ChangeManifestPut, Repo: "team/app", Entry: m1, Tag: "stable"}}},
		{"delete tag", func() error { return c.DeleteTag(ctx, "team/app", "latest") },
			[]Change{{Kind: ChangeTagDelete, Repo: "team/app", Tag: "latest"}}},
		{"delete missing tag: no change", func() error {
			if err := c.DeleteTag(ctx, "team/app", "latest"); !errors.Is(err, registry.ErrManifestUnknown) {
				return fmt.Errorf("DeleteTag of a deleted tag = %v", err)
			}
			return nil
		}, nil},
		{"delete manifest", func() error { return c.DeleteManifest(ctx, "team/app", m1.Digest) },
			[]Change{{Kind: ChangeManifestDelete, Repo: "team/app", Digest: m1.Digest, Tags: []string{"stable", "v1"}}}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := rec.take(); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s: observer saw\n%+v\nwant\n%+v", s.name, got, s.want)
		}
	}
}

func TestObserverSeesTagsOfAFailedManifestDelete(t *testing.T) {
	ctx := context.Background()
	be := newMemBackend()
	rec := &recorder{}
	c, _ := start(t, be, WithObserver(rec))
	m := entry("one")
	for _, tag := range []string{"a", "b", "c"} {
		if err := c.PutManifest(ctx, "repo", m, tag); err != nil {
			t.Fatal(err)
		}
	}
	rec.take()
	be.setFailName(func(name string) error {
		if strings.HasSuffix(name, "/_tags/b") {
			return errors.New("disk on fire")
		}
		return nil
	})
	if err := c.DeleteManifest(ctx, "repo", m.Digest); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("DeleteManifest = %v, want ErrUnavailable", err)
	}
	want := []Change{{Kind: ChangeTagDelete, Repo: "repo", Tag: "a"}}
	if got := rec.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("observer saw %+v, want %+v", got, want)
	}
	tags, err := c.ListTags(ctx, "repo", "", 10)
	if err != nil || !slices.Equal(tags, []string{"b", "c"}) {
		t.Fatalf("tags after the failed delete = %v, %v; want [b c]", tags, err)
	}
	if _, err := c.GetManifest(ctx, "repo", m.Digest); err != nil {
		t.Fatalf("the manifest must stay while tags point at it: %v", err)
	}
}

// A tagged put whose tag cannot be written leaves neither the record nor the tag, in memory or
// in the backend, and a restart agrees.
func TestTaggedPutIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	be := newMemBackend()
	rec := &recorder{}
	c, _ := start(t, be, WithObserver(rec))
	m1, m2 := entry("one"), entry("two")
	if err := c.PutManifest(ctx, "repo", m1, "latest"); err != nil {
		t.Fatal(err)
	}
	rec.take()
	before := be.names()
	be.setFailName(func(name string) error {
		if strings.Contains(name, "/_tags/") {
			return errors.New("disk on fire")
		}
		return nil
	})
	if err := c.PutManifest(ctx, "repo", m2, "latest"); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("PutManifest = %v, want ErrUnavailable", err)
	}
	if err := c.PutManifest(ctx, "repo", m2, "new"); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("PutManifest of a new tag = %v, want ErrUnavailable", err)
	}
	if got := rec.take(); got != nil {
		t.Fatalf("observer saw %+v for failed puts", got)
	}
	if _, err := c.GetManifest(ctx, "repo", m2.Digest); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("GetManifest of the failed put = %v, want ErrManifestUnknown", err)
	}
	if after := be.names(); !slices.Equal(after, before) {
		t.Fatalf("backend after the failed puts = %v, want %v", after, before)
	}
	be.setFailName(nil)
	restarted, _ := start(t, be)
	if d, err := restarted.GetTag(ctx, "repo", "latest"); err != nil || d != m1.Digest {
		t.Fatalf("after restart latest = %v, %v; want %v", d, err, m1.Digest)
	}
	if _, err := restarted.GetManifest(ctx, "repo", m2.Digest); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("after restart GetManifest of the failed put = %v", err)
	}
	// An untagged put only writes the record, so the tag failure does not touch it.
	be.setFailName(func(name string) error {
		if strings.Contains(name, "/_tags/") {
			return errors.New("disk on fire")
		}
		return nil
	})
	if err := c.PutManifest(ctx, "repo", m2, ""); err != nil {
		t.Fatalf("untagged put with tags failing: %v", err)
	}
}
