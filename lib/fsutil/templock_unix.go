//go:build unix

package fsutil

import (
	"os"

	"golang.org/x/sys/unix"
)

// LockTemp marks f as in use by a live writer: an advisory lock the kernel drops when the
// file is closed or its process dies, so RemoveStaleTemp can tell a crashed writer's leftover
// from a file another process (or another store on the same directory) is still writing.
func LockTemp(f *os.File) {
	_ = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// RemoveStaleTemp removes the temp file at p unless a live writer holds its lock.
func RemoveStaleTemp(p string) {
	f, err := os.Open(p)
	if err != nil {
		return
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return // a writer is busy with it
	}
	_ = os.Remove(p)
}
