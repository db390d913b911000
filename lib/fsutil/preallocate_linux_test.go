package fsutil

import (
	"os"
	"syscall"
	"testing"
)

// TestPreallocate: the file has its size and, where the file system preallocates (the test's
// temp dir is on one that does, or the test says so), its blocks.
func TestPreallocate(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "prealloc-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const n = 3<<20 + 123
	if err := Preallocate(f, n); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != n {
		t.Fatalf("size %d, want %d", fi.Size(), n)
	}
	// An empty file (an empty blob) is fine too: fallocate alone refuses an empty range.
	if err := Preallocate(f, 0); err != nil {
		t.Fatalf("preallocating 0 bytes: %v", err)
	}
	if err := Preallocate(f, n); err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if allocated := st.Blocks * 512; allocated < n {
		t.Skipf("%d of %d bytes allocated: this file system only sizes the file", allocated, n)
	}
}
