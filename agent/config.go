package agent

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/docket-p2p/docket/lib/scheduler"
	originclient "github.com/docket-p2p/docket/origin/client"
)

// Config is the agent's configuration (config/agent.yaml).
type Config struct {
	// Listen is the read-only registry API's address (default ":16000").
	Listen string `yaml:"listen"`
	// DataDir holds the agent's blob cache (default "docket-data/agent").
	DataDir string `yaml:"data_dir"`
	// Ring finds the origins: origins (default ["127.0.0.1:15002"]), origins_dns, replicas.
	Ring originclient.Ring `yaml:",inline"`
	// BuildIndex is the build-index's host:port, which resolves tags (default "127.0.0.1:15004").
	BuildIndex string `yaml:"build_index"`
	// DiskBudget is how many bytes of blobs the cache keeps (default 0: no bound). Past it,
	// least-recently-used blobs are evicted, never one being served or seeded.
	DiskBudget int64 `yaml:"disk_budget"`
	// PeerListen is the BitTorrent peer listener's address (default ":16100").
	PeerListen string `yaml:"peer_listen"`
	// Tracker is the tracker's host:port: announces go to http://TRACKER/announce, and a
	// Docket tracker also serves metainfo; with another tracker (opentracker) metainfo comes
	// from the origins (default "127.0.0.1:15003").
	Tracker string `yaml:"tracker"`
	// SeedTime is how long a downloaded blob is seeded to other peers (default 10m).
	SeedTime time.Duration `yaml:"seed_time"`
	// DeletionPollInterval is how often the agent asks an origin which blobs were deleted
	// (garbage collection, DELETE) and drops them from its cache (default 1m).
	DeletionPollInterval time.Duration `yaml:"deletion_poll_interval"`
	// Scheduler tunes the peer engine; its temp_dir defaults to "<data_dir>/partial".
	Scheduler scheduler.Config `yaml:"scheduler"`
}

// Defaults, applied by ApplyDefaults.
const (
	DefaultListen     = ":16000"
	DefaultOrigin     = "127.0.0.1:15002"
	DefaultBuildIndex = "127.0.0.1:15004"
	DefaultPeerListen = ":16100"
	DefaultTracker    = "127.0.0.1:15003"
	DefaultSeedTime   = 10 * time.Minute

	DefaultDeletionPollInterval = time.Minute
)

// DefaultDataDir is where the agent keeps its cache unless configured.
var DefaultDataDir = filepath.Join("docket-data", "agent")

// ApplyDefaults fills every unset field with its default.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	c.Ring.ApplyDefaults(DefaultOrigin)
	if c.BuildIndex == "" {
		c.BuildIndex = DefaultBuildIndex
	}
	if c.PeerListen == "" {
		c.PeerListen = DefaultPeerListen
	}
	if c.Tracker == "" {
		c.Tracker = DefaultTracker
	}
	if c.SeedTime == 0 {
		c.SeedTime = DefaultSeedTime
	}
	if c.DeletionPollInterval == 0 {
		c.DeletionPollInterval = DefaultDeletionPollInterval
	}
	if c.Scheduler.TempDir == "" {
		c.Scheduler.TempDir = filepath.Join(c.DataDir, "partial")
	}
	c.Scheduler.ApplyDefaults()
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("agent: listen %q: %w", c.Listen, err)
	}
	if err := c.Ring.Validate(); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if _, _, err := net.SplitHostPort(c.BuildIndex); err != nil {
		return fmt.Errorf("agent: build_index %q: %w", c.BuildIndex, err)
	}
	if c.DiskBudget < 0 {
		return errors.New("agent: disk_budget must not be negative")
	}
	if _, _, err := net.SplitHostPort(c.PeerListen); err != nil {
		return fmt.Errorf("agent: peer_listen %q: %w", c.PeerListen, err)
	}
	if _, _, err := net.SplitHostPort(c.Tracker); err != nil {
		return fmt.Errorf("agent: tracker %q: %w", c.Tracker, err)
	}
	if c.SeedTime < 0 {
		return errors.New("agent: seed_time must not be negative")
	}
	if c.DeletionPollInterval < 0 {
		return errors.New("agent: deletion_poll_interval must be positive")
	}
	if err := c.Scheduler.Validate(); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}
