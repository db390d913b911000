//go:build unix

package fs

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockTemp marks f as in use by a live writer: an advisory lock the kernel drops when the
// file is closed or its process dies, so removeStaleTemp can tell a crashed writer's leftover
// from a file another Client on the same root (another origin sharing this backend) is still
// writing.
func lockTemp(f *os.File) {
	_ = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// removeStaleTemp removes the temp file at p unless a live writer holds its lock.
func removeStaleTemp(p string) {
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
