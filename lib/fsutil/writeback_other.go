//go:build !linux

package fsutil

import "os"

// StartWriteback is a no-op where sync_file_range does not exist; the later fsync does all
// the work.
func StartWriteback(*os.File, int64, int64) {}

// Preallocate sizes f to n bytes (disk blocks are preallocated on Linux only).
func Preallocate(f *os.File, n int64) error { return f.Truncate(n) }
