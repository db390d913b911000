package store

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUploadID: an upload id comes straight from a URL. Whatever checkID accepts must name a
// file directly inside uploads/, never a path elsewhere.
func FuzzUploadID(f *testing.F) {
	for _, seed := range []string{"", "a", "..", ".", "../x", "a/b", "a\x00b", strings.Repeat("x", 129),
		"0f6f0c3e-5a0e-4b8e-9a7e-2d5c7f3b9a11", "-", "_x"} {
		f.Add(seed)
	}
	s, err := New(f.TempDir(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	uploads := filepath.Join(s.Root(), "uploads")
	f.Fuzz(func(t *testing.T, id string) {
		if checkID(id) != nil {
			return
		}
		p := s.uploadPath(id)
		if filepath.Dir(p) != uploads || filepath.Base(p) != id {
			t.Fatalf("accepted id %q resolves to %q", id, p)
		}
	})
}
