package buildindex

import (
	"fmt"
	"net"
	"path/filepath"
)

// Config is the build-index's configuration (config/build-index.yaml).
type Config struct {
	// Listen is the API's address (default ":15004").
	Listen string `yaml:"listen"`
	// Backend is where tags and manifest records persist.
	Backend BackendConfig `yaml:"backend"`
}

// BackendConfig selects the storage backend.
type BackendConfig struct {
	// Type is the backend kind; "fs" (the local filesystem, default) for now.
	Type string `yaml:"type"`
	// Root is the fs backend's directory (default "docket-data/build-index").
	Root string `yaml:"root"`
}

// Defaults, applied by ApplyDefaults.
const (
	DefaultListen      = ":15004"
	DefaultBackendType = BackendFS
)

// BackendFS is the local-filesystem backend type.
const BackendFS = "fs"

// DefaultBackendRoot is the fs backend's directory unless configured.
var DefaultBackendRoot = filepath.Join("docket-data", "build-index")

// ApplyDefaults fills every unset field with its default: listen ":15004", backend type "fs"
// rooted at "docket-data/build-index".
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Backend.Type == "" {
		c.Backend.Type = DefaultBackendType
	}
	if c.Backend.Type == BackendFS && c.Backend.Root == "" {
		c.Backend.Root = DefaultBackendRoot
	}
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("build-index: listen %q: %w", c.Listen, err)
	}
	switch c.Backend.Type {
	case BackendFS:
		if c.Backend.Root == "" {
			return fmt.Errorf("build-index: backend.root is required for type %q", BackendFS)
		}
	default:
		return fmt.Errorf("build-index: backend.type %q: want %q", c.Backend.Type, BackendFS)
	}
	return nil
}
