package gotool

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestLook(t *testing.T) {
	p, err := Look("go")
	if err != nil || filepath.Base(p) != "go" {
		t.Fatalf("Look(go) = %q, %v; want the go command the tests run under", p, err)
	}
	if _, err := Look("docket-no-such-tool"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Look of a missing tool: %v, want ErrNotFound", err)
	}
}
