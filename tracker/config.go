package tracker

import (
	"fmt"
	"net"
	"time"

	"github.com/docket-p2p/docket/origin/client"
)

// Config is the tracker's configuration (config/tracker.yaml).
type Config struct {
	// Listen is the announce API's address (default ":15003").
	Listen string `yaml:"listen"`
	// AnnounceInterval is how often peers are told to announce (default 3s).
	AnnounceInterval time.Duration `yaml:"announce_interval"`
	// PeerTTL is how long a peer stays in a swarm without announcing (default 30s, ten missed
	// announces). It must exceed AnnounceInterval.
	PeerTTL time.Duration `yaml:"peer_ttl"`
	// Ring is the origin ring the metainfo endpoint fetches from: origins (default: none; the
	// endpoint then serves only what it has cached), origins_dns, replicas.
	Ring client.Ring `yaml:",inline"`
}

// Defaults, applied by ApplyDefaults.
const (
	DefaultListen           = ":15003"
	DefaultAnnounceInterval = 3 * time.Second
	DefaultPeerTTL          = 10 * DefaultAnnounceInterval
)

// ApplyDefaults fills every unset field with its default.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.AnnounceInterval == 0 {
		c.AnnounceInterval = DefaultAnnounceInterval
	}
	if c.PeerTTL == 0 {
		c.PeerTTL = DefaultPeerTTL
	}
	c.Ring.ApplyDefaults()
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("tracker: listen %q: %w", c.Listen, err)
	}
	if c.AnnounceInterval <= 0 {
		return fmt.Errorf("tracker: announce_interval %s must be positive", c.AnnounceInterval)
	}
	if c.PeerTTL <= c.AnnounceInterval {
		return fmt.Errorf("tracker: peer_ttl %s must exceed announce_interval %s", c.PeerTTL, c.AnnounceInterval)
	}
	if err := c.Ring.Validate(); err != nil {
		return fmt.Errorf("tracker: %w", err)
	}
	return nil
}
