package backends

import (
	"context"
	"strings"
	"testing"
)

func TestRouter(t *testing.T) {
	ctx := context.Background()
	def := Config{}
	def.ApplyDefaults(t.TempDir())
	lib := Config{}
	lib.ApplyDefaults(t.TempDir())
	r, err := NewRouter(ctx, def, []NamespaceConfig{{Namespace: "^library/", Backend: lib}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.For("library/busybox").Upload(ctx, "x", strings.NewReader("lib"), 3); err != nil {
		t.Fatal(err)
	}
	if _, err := r.For("team/app").Stat(ctx, "x"); err == nil {
		t.Fatal("the default backend sees the library backend's object")
	}
	if _, err := r.For("library/alpine").Stat(ctx, "x"); err != nil {
		t.Fatalf("library backend: %v", err)
	}
	if _, err := NewRouter(ctx, def, []NamespaceConfig{{Namespace: "(", Backend: lib}}); err == nil {
		t.Fatal("a bad regular expression was accepted")
	}
	for _, c := range []Config{{Type: "ftp"}, {Type: TypeFS}, {Type: TypeS3}, {Type: TypeGCS}, {Type: TypeHTTP}, {Type: TypeRegistry}} {
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}
