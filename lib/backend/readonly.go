package backend

import (
	"context"
	"fmt"
	"io"
)

// ReadOnlyWrites, embedded in a read-only backend's client, gives it Upload, List and Delete
// that return ErrReadOnly, and ReadOnly. Source names the backend in the errors.
type ReadOnlyWrites struct {
	Source string
}

// ReadOnly is true.
func (r ReadOnlyWrites) ReadOnly() bool { return true }

// Upload returns ErrReadOnly.
func (r ReadOnlyWrites) Upload(ctx context.Context, name string, _ io.Reader, _ int64) error {
	return fmt.Errorf("%w: cannot upload %q to %s", ErrReadOnly, name, r.Source)
}

// List returns ErrReadOnly.
func (r ReadOnlyWrites) List(ctx context.Context, prefix string, _ func(string) error) error {
	return fmt.Errorf("%w: cannot list %q in %s", ErrReadOnly, prefix, r.Source)
}

// Delete returns ErrReadOnly.
func (r ReadOnlyWrites) Delete(ctx context.Context, name string) error {
	return fmt.Errorf("%w: cannot delete %q from %s", ErrReadOnly, name, r.Source)
}
