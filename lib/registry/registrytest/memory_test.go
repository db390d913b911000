package registrytest_test

import (
	"testing"

	"github.com/docket-p2p/docket/lib/registry"
	"github.com/docket-p2p/docket/lib/registry/registrytest"
)

func TestMemoryBlobs(t *testing.T) {
	registrytest.RunBlobs(t, func(*testing.T) registry.Blobs { return registrytest.NewMemory() })
}

func TestMemoryIndex(t *testing.T) {
	registrytest.RunIndex(t, func(*testing.T) registry.Index { return registrytest.NewMemory() })
}
