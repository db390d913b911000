// Package gotool finds the programs the tests and benchmarks run that `go install` puts in
// $(go env GOPATH)/bin (versitygw, fake-gcs-server, helm, conformance), which need not be on
// PATH.
package gotool

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotFound is returned for a program neither on PATH nor in $(go env GOPATH)/bin.
var ErrNotFound = errors.New("not found on PATH or in $(go env GOPATH)/bin")

// Look returns the path of program name: from PATH, else from $(go env GOPATH)/bin.
func Look(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, ErrNotFound)
}
