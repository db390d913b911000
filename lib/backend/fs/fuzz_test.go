package fs

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPath: object names come from callers that take them from requests. Whatever the fs
// backend accepts must resolve strictly inside its root and outside its temp area.
func FuzzPath(f *testing.F) {
	for _, seed := range []string{"", "a", "..", "a/../../b", "/etc/passwd", "a//b", "a/./b", ".tmp/x",
		"blobs/sha256/ab/abcd", "tags/library/busybox/latest", "a\x00b", `a\..\b`} {
		f.Add(seed)
	}
	root := f.TempDir()
	c, err := New(root)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, err := c.path(name)
		if err != nil {
			return
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			t.Fatalf("name %q resolves to %q, outside root", name, p)
		}
		if rel == tmpDir || strings.HasPrefix(rel, tmpDir+string(filepath.Separator)) {
			t.Fatalf("name %q resolves into the temp area: %q", name, p)
		}
	})
}
