package origin

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/docket-p2p/docket/lib/metainfo"
)

// Config is an origin's configuration (config/origin.yaml).
type Config struct {
	// Listen is the origin API's address (default ":15002").
	Listen string `yaml:"listen"`
	// DataDir holds the blob store (default "docket-data/origin").
	DataDir string `yaml:"data_dir"`
	// Self is this origin's address on the hash ring, as the other components reach it
	// (default: Listen, with 127.0.0.1 for an empty host).
	Self string `yaml:"self"`
	// Cluster lists every origin's ring address, this one included (default [Self]).
	Cluster []string `yaml:"cluster"`
	// Replicas is how many origins own each blob (default 2, at most len(Cluster)).
	Replicas int `yaml:"replicas"`
	// Backend is where blobs are written back and read through from.
	Backend BackendConfig `yaml:"backend"`
	// UploadTTL is how long an untouched upload is kept (default 24h).
	UploadTTL time.Duration `yaml:"upload_ttl"`
	// PieceLengths chooses metainfo piece lengths by blob size (default metainfo.DefaultTable).
	PieceLengths metainfo.Table `yaml:"piece_lengths"`
}

// BackendConfig selects a storage backend. Only "fs" exists today; S3, GCS and per-namespace
// selection extend this struct.
type BackendConfig struct {
	// Type is the backend kind (default "fs").
	Type string `yaml:"type"`
	// Root is the fs backend's directory (default "<data_dir>/backend").
	Root string `yaml:"root"`
}

// Defaults, applied by ApplyDefaults.
const (
	DefaultListen    = ":15002"
	DefaultReplicas  = 2
	DefaultUploadTTL = 24 * time.Hour
)

// DefaultDataDir is where an origin keeps its store unless configured.
var DefaultDataDir = filepath.Join("docket-data", "origin")

// ApplyDefaults fills every unset field with its default.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Self == "" {
		host, port, err := net.SplitHostPort(c.Listen)
		if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
			host = "127.0.0.1"
		}
		c.Self = net.JoinHostPort(host, port)
	}
	if len(c.Cluster) == 0 {
		c.Cluster = []string{c.Self}
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	c.Replicas = min(c.Replicas, len(c.Cluster))
	if c.Backend.Type == "" {
		c.Backend.Type = "fs"
	}
	if c.Backend.Type == "fs" && c.Backend.Root == "" {
		c.Backend.Root = filepath.Join(c.DataDir, "backend")
	}
	if c.UploadTTL == 0 {
		c.UploadTTL = DefaultUploadTTL
	}
	if c.PieceLengths == nil {
		c.PieceLengths = metainfo.DefaultTable
	}
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("origin: listen %q: %w", c.Listen, err)
	}
	for _, a := range append([]string{c.Self}, c.Cluster...) {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("origin: address %q: %w", a, err)
		}
	}
	if !slices.Contains(c.Cluster, c.Self) {
		return fmt.Errorf("origin: self %q is not in cluster %v", c.Self, c.Cluster)
	}
	if c.Replicas < 1 {
		return errors.New("origin: replicas must be at least 1")
	}
	if c.Backend.Type != "fs" {
		return fmt.Errorf("origin: unknown backend type %q (supported: fs)", c.Backend.Type)
	}
	if c.UploadTTL < 0 {
		return errors.New("origin: upload_ttl must not be negative")
	}
	return c.PieceLengths.Validate()
}
