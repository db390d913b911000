// Package backend is the storage behind origins and the build-index: the local filesystem now,
// S3, GCS, HTTP and other registries later. Origins write blobs back to it and read through to
// it on a miss; the build-index persists tags in it.
//
// Names are slash-separated relative paths chosen by the caller (for example
// "blobs/sha256/ab/abcdef..." or "tags/library/busybox/latest"); implementations reject empty
// names and "." or ".." components.
package backend

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) when a name does not exist.
var ErrNotFound = errors.New("backend: not found")

// ErrReadOnly is returned (wrapped) by Upload, List and Delete of a read-only backend (an
// HTTP server, another registry): nothing is ever written back to it.
var ErrReadOnly = errors.New("backend: read-only")

// Info describes one stored object.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Client is one storage backend. Every call takes a context and stops when it ends.
type Client interface {
	// Stat returns the object's info or ErrNotFound.
	Stat(ctx context.Context, name string) (Info, error)
	// Download writes the object's content to w, or returns ErrNotFound.
	Download(ctx context.Context, name string, w io.Writer) error
	// Upload stores size bytes from r under name, replacing any previous object atomically:
	// readers see the old object or the new one, never a mix or a partial one.
	Upload(ctx context.Context, name string, r io.Reader, size int64) error
	// List calls fn with the name of every object whose name starts with prefix, in lexical
	// order, and stops at fn's first error (returned).
	List(ctx context.Context, prefix string, fn func(name string) error) error
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, name string) error
}

// ReadOnly is implemented by backends that only serve reads; their Upload, List and Delete
// return ErrReadOnly.
type ReadOnly interface {
	ReadOnly() bool
}

// IsReadOnly reports whether c only serves reads.
func IsReadOnly(c Client) bool {
	ro, ok := c.(ReadOnly)
	return ok && ro.ReadOnly()
}

// Namespaced is implemented by backends whose objects depend on the namespace (repository
// name) they are used for, such as another registry: ForNamespace returns the client of ns.
type Namespaced interface {
	ForNamespace(ns string) Client
}
