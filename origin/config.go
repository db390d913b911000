package origin

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/membership"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/scheduler"
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
	// ClusterDNS takes the ring's members from DNS instead of Cluster: dns "name:port" (every
	// A/AAAA address of name with port) or srv "name" (SRV targets and ports), resolved again
	// every interval (default 30s); the ring is rebuilt when the answer changes, and a failed
	// lookup keeps the last ring. Self is always a member.
	ClusterDNS membership.Source `yaml:"cluster_dns"`
	// Replicas is how many origins own each blob (default 2, at most len(Cluster)).
	Replicas int `yaml:"replicas"`
	// Backend is where blobs are written back and read through from, unless a row of
	// Namespaces matches the blob's namespace: fs (default, rooted at "<data_dir>/backend"),
	// s3 or gcs, configured as in lib/backend/backends.
	Backend BackendConfig `yaml:"backend"`
	// Namespaces picks a backend per namespace (repository name): the first row whose
	// regular expression matches wins, else Backend (default: none). Anchor the expression
	// (^library/.*$) to match whole names.
	Namespaces []backends.NamespaceConfig `yaml:"namespaces"`
	// UploadTTL is how long an untouched upload is kept (default 24h).
	UploadTTL time.Duration `yaml:"upload_ttl"`
	// PeerListen is the BitTorrent peer listener's address, where the origin seeds every blob
	// it holds (default ":15005").
	PeerListen string `yaml:"peer_listen"`
	// Tracker is the tracker's host:port, announced to as a seeder (origin=1) for every blob
	// in use; "none" announces nothing (default "127.0.0.1:15003").
	Tracker string `yaml:"tracker"`
	// AnnounceInterval is how often a blob in use is announced again (default 10s; keep it
	// well under the tracker's peer_ttl).
	AnnounceInterval time.Duration `yaml:"announce_interval"`
	// AnnounceIdle is how long a blob stays announced after it was last committed, read
	// through, asked for its metainfo or by a peer (default 1h). Other blobs are still seeded
	// to any peer that asks, only not announced.
	AnnounceIdle time.Duration `yaml:"announce_idle"`
	// Scheduler tunes the peer engine (connection limits, timeouts, bandwidth).
	Scheduler scheduler.Config `yaml:"scheduler"`
	// PieceLengths chooses metainfo piece lengths by blob size (default metainfo.DefaultTable).
	PieceLengths metainfo.Table `yaml:"piece_lengths"`
	// RepairInterval is how often the origin fetches the blobs it owns but lacks from its
	// peers (also once at start-up); default 10m.
	RepairInterval time.Duration `yaml:"repair_interval"`
	// RepairBytesPerSec caps the bytes a repair pass fetches per second (default 64 MiB/s).
	RepairBytesPerSec int64 `yaml:"repair_bytes_per_sec"`
	// DiskBudget is how many bytes of blobs the origin keeps on disk (default 0: no bound).
	// Past it, least-recently-used blobs that are already written back to the backend are
	// evicted; a later read fetches them through again. Blobs not yet written back stay,
	// even over budget.
	DiskBudget int64 `yaml:"disk_budget"`
	// DeletionRetention is how long the origin remembers a deleted blob for agents, which
	// page through GET /deleted to drop it from their caches (default 168h, a week). An agent
	// that polls less often than this may keep a deleted blob until its disk budget evicts it.
	DeletionRetention time.Duration `yaml:"deletion_retention"`

	// Now is the clock deciding upload expiry, eviction and write-back times (default
	// time.Now); tests inject it.
	Now func() time.Time `yaml:"-"`
}

// BackendConfig selects and configures a storage backend (lib/backend/backends).
type BackendConfig = backends.Config

// Defaults, applied by ApplyDefaults.
const (
	DefaultListen    = ":15002"
	DefaultReplicas  = 2
	DefaultUploadTTL = 24 * time.Hour

	DefaultRepairInterval    = 10 * time.Minute
	DefaultRepairBytesPerSec = 64 << 20
	DefaultPeerListen        = ":15005"
	DefaultTracker           = "127.0.0.1:15003"
	DefaultAnnounceInterval  = 10 * time.Second
	DefaultAnnounceIdle      = time.Hour
	DefaultDeletionRetention = 7 * 24 * time.Hour
)

// TrackerNone as the tracker turns announces off.
const TrackerNone = "none"

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
	if !c.ClusterDNS.Enabled() {
		c.Replicas = min(c.Replicas, len(c.Cluster))
	}
	if c.ClusterDNS.Interval == 0 {
		c.ClusterDNS.Interval = membership.DefaultInterval
	}
	c.Backend.ApplyDefaults(filepath.Join(c.DataDir, "backend"))
	for i := range c.Namespaces {
		// An fs row without a root shares the default backend's folder.
		c.Namespaces[i].Backend.ApplyDefaults(filepath.Join(c.DataDir, "backend"))
	}
	if c.UploadTTL == 0 {
		c.UploadTTL = DefaultUploadTTL
	}
	if c.PieceLengths == nil {
		c.PieceLengths = metainfo.DefaultTable
	}
	if c.RepairInterval == 0 {
		c.RepairInterval = DefaultRepairInterval
	}
	if c.RepairBytesPerSec == 0 {
		c.RepairBytesPerSec = DefaultRepairBytesPerSec
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PeerListen == "" {
		c.PeerListen = DefaultPeerListen
	}
	if c.Tracker == "" {
		c.Tracker = DefaultTracker
	}
	if c.AnnounceInterval == 0 {
		c.AnnounceInterval = DefaultAnnounceInterval
	}
	if c.AnnounceIdle == 0 {
		c.AnnounceIdle = DefaultAnnounceIdle
	}
	if c.DeletionRetention == 0 {
		c.DeletionRetention = DefaultDeletionRetention
	}
	c.Scheduler.ApplyDefaults()
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
	if err := c.ClusterDNS.Validate(); err != nil {
		return fmt.Errorf("origin: cluster_dns: %w", err)
	}
	if !c.ClusterDNS.Enabled() && !slices.Contains(c.Cluster, c.Self) {
		return fmt.Errorf("origin: self %q is not in cluster %v", c.Self, c.Cluster)
	}
	if c.Replicas < 1 {
		return errors.New("origin: replicas must be at least 1")
	}
	if err := c.Backend.Validate(); err != nil {
		return fmt.Errorf("origin: %w", err)
	}
	for i, row := range c.Namespaces {
		if _, err := regexp.Compile(row.Namespace); err != nil || row.Namespace == "" {
			return fmt.Errorf("origin: namespaces[%d]: bad regular expression %q: %v", i, row.Namespace, err)
		}
		if err := row.Backend.Validate(); err != nil {
			return fmt.Errorf("origin: namespaces[%d] (%s): %w", i, row.Namespace, err)
		}
	}
	if c.UploadTTL < 0 {
		return errors.New("origin: upload_ttl must not be negative")
	}
	if c.RepairInterval < 0 || c.RepairBytesPerSec < 0 {
		return errors.New("origin: repair_interval and repair_bytes_per_sec must not be negative")
	}
	if c.DiskBudget < 0 {
		return errors.New("origin: disk_budget must not be negative")
	}
	if _, _, err := net.SplitHostPort(c.PeerListen); err != nil {
		return fmt.Errorf("origin: peer_listen %q: %w", c.PeerListen, err)
	}
	if c.Tracker != TrackerNone {
		if _, _, err := net.SplitHostPort(c.Tracker); err != nil {
			return fmt.Errorf("origin: tracker %q: %w", c.Tracker, err)
		}
	}
	if c.AnnounceInterval <= 0 || c.AnnounceIdle <= 0 {
		return errors.New("origin: announce_interval and announce_idle must be positive")
	}
	if c.DeletionRetention < 0 {
		return errors.New("origin: deletion_retention must be positive")
	}
	if err := c.Scheduler.Validate(); err != nil {
		return fmt.Errorf("origin: %w", err)
	}
	return c.PieceLengths.Validate()
}
