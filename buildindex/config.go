package buildindex

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/docket-p2p/docket/lib/backend/backends"
)

// Config is the build-index's configuration (config/build-index.yaml).
type Config struct {
	// Listen is the API's address (default ":15004").
	Listen string `yaml:"listen"`
	// DataDir is the build-index's local folder (default "docket-data/build-index"); the fs
	// backend lives under it unless configured elsewhere.
	DataDir string `yaml:"data_dir"`
	// Backend is where tags and manifest records persist: fs (default, rooted at
	// "<data_dir>/backend"), s3 or gcs, configured as in lib/backend/backends.
	Backend BackendConfig `yaml:"backend"`
}

// BackendConfig selects and configures the storage backend.
type BackendConfig = backends.Config

// Defaults, applied by ApplyDefaults.
const (
	DefaultListen      = ":15004"
	DefaultBackendType = BackendFS
)

// BackendFS is the local-filesystem backend type.
const BackendFS = backends.TypeFS

// DefaultDataDir is the build-index's folder unless configured.
var DefaultDataDir = filepath.Join("docket-data", "build-index")

// backendSubdir is the fs backend's folder under DataDir unless configured.
const backendSubdir = "backend"

// ApplyDefaults fills every unset field with its default: listen ":15004", data_dir
// "docket-data/build-index", backend type "fs" rooted at "<data_dir>/backend" (the s3 and gcs
// defaults are lib/backend/backends').
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	c.Backend.ApplyDefaults(filepath.Join(c.DataDir, backendSubdir))
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("build-index: listen %q: %w", c.Listen, err)
	}
	if c.DataDir == "" {
		return errors.New("build-index: data_dir is required")
	}
	if err := c.Backend.Validate(); err != nil {
		return fmt.Errorf("build-index: %w", err)
	}
	if c.Backend.ReadOnly() {
		return fmt.Errorf("build-index: backend %s is read-only; tags must be written to it", c.Backend.Type)
	}
	return nil
}
