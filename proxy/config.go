package proxy

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/docket-p2p/docket/lib/membership"
)

// Config is the proxy's configuration (config/proxy.yaml).
type Config struct {
	// Listen is the registry API's address (default ":5000").
	Listen string `yaml:"listen"`
	// Origins lists the origin cluster's members, host:port each (default ["127.0.0.1:15002"]).
	Origins []string `yaml:"origins"`
	// OriginsDNS takes the origin ring's members from DNS instead of Origins, as the origins'
	// cluster_dns does: dns "name:port" (every A/AAAA address with port) or srv "name",
	// resolved again every interval (default 30s); a failed lookup keeps the last ring.
	OriginsDNS membership.Source `yaml:"origins_dns"`
	// Replicas is how many origins own each blob on the hash ring (default 2; the ring clamps
	// it to the number of origins).
	Replicas int `yaml:"replicas"`
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
	DefaultReplicas   = 2
	DefaultBuildIndex = "127.0.0.1:15004"
)

// ApplyDefaults fills every unset field with its default.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if len(c.Origins) == 0 {
		c.Origins = []string{DefaultOrigin}
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
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
	for _, o := range c.Origins {
		if _, _, err := net.SplitHostPort(o); err != nil {
			return fmt.Errorf("proxy: origin %q: %w", o, err)
		}
	}
	if err := c.OriginsDNS.Validate(); err != nil {
		return fmt.Errorf("proxy: origins_dns: %w", err)
	}
	if c.Replicas < 1 {
		return errors.New("proxy: replicas must be at least 1")
	}
	if _, _, err := net.SplitHostPort(c.BuildIndex); err != nil {
		return fmt.Errorf("proxy: build_index %q: %w", c.BuildIndex, err)
	}
	if c.GCInterval < 0 || c.GCGrace < 0 {
		return errors.New("proxy: gc_interval and gc_grace must not be negative")
	}
	return nil
}
