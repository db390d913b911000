package fs

import (
	"testing"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Client {
		c, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}
