package proxy

import (
	"errors"
	"fmt"
	"net"
	"time"

	originclient "github.com/docket-p2p/docket/origin/client"
)

// Config is the proxy's configuration (config/proxy.yaml).
type Config struct {
	// Listen is the registry API's address (default ":5000").
	Listen string `yaml:"listen"`
	// Ring finds the origins: origins (default ["127.0.0.1:15002"]), origins_dns, replicas.
	Ring originclient.Ring `yaml:",inline"`
	// BuildIndex is the build-index's host:port (default "127.0.0.1:15004").
	BuildIndex string `yaml:"build_index"`
	// GCInterval is how often the proxy collects unreferenced blobs (see gc.go; default 0:
	// never on its own).
	GCInterval time.Duration `yaml:"gc_interval"`
	// GCGrace is how old an unreferenced blob must be before it is collected (default 24h);
	// it must be longer than any push takes.
	GCGrace time.Duration `yaml:"gc_grace"`

	// Now is the clock of the collector (default time.Now); tests inject it.
	Now func() time.Time `yaml:"-"`
}

// Defaults, applied by ApplyDefaults.
const (
	DefaultListen     = ":5000"
	DefaultOrigin     = "127.0.0.1:15002"
	DefaultBuildIndex = "127.0.0.1:15004"
)

// ApplyDefaults fills every unset field with its default.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	c.Ring.ApplyDefaults(DefaultOrigin)
	if c.BuildIndex == "" {
		c.BuildIndex = DefaultBuildIndex
	}
	if c.GCGrace == 0 {
		c.GCGrace = DefaultGCGrace
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("proxy: listen %q: %w", c.Listen, err)
	}
	if err := c.Ring.Validate(); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if _, _, err := net.SplitHostPort(c.BuildIndex); err != nil {
		return fmt.Errorf("proxy: build_index %q: %w", c.BuildIndex, err)
	}
	if c.GCInterval < 0 || c.GCGrace < 0 {
		return errors.New("proxy: gc_interval and gc_grace must not be negative")
	}
	return nil
}
