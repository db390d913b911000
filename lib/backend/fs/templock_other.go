//go:build !unix

package fs

import "os"

// lockTemp has no portable equivalent here; see the unix version.
func lockTemp(*os.File) {}

// removeStaleTemp leaves temp files alone where their writers cannot be detected: a live
// writer's file must never be removed. They stay until removed by hand.
func removeStaleTemp(string) {}
