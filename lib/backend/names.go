package backend

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidName is returned (wrapped) for a name that is empty, absolute, or has an empty,
// "." or ".." component.
var ErrInvalidName = errors.New("backend: invalid name")

// CheckName validates an object name; every backend calls it before touching storage.
func CheckName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." || strings.ContainsRune(c, 0) {
			return fmt.Errorf("%w: %q", ErrInvalidName, name)
		}
	}
	return nil
}
