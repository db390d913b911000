//go:build !unix

package fsutil

import "os"

// LockTemp has no portable equivalent here; see the unix version.
func LockTemp(*os.File) {}

// RemoveStaleTemp leaves temp files alone where their writers cannot be detected: a live
// writer's file must never be removed; callers remove old ones by age.
func RemoveStaleTemp(string) {}
