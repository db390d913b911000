//go:build !linux

package store

import "os"

// startWriteback is a no-op where sync_file_range does not exist; the fsync before
// publication does all the work.
func startWriteback(*os.File, int64, int64) {}
