package scheduler

import (
	"fmt"
	"time"

	"github.com/docket-p2p/docket/lib/scheduler/bandwidth"
)

// Defaults applied by ApplyDefaults.
const (
	// DefaultMaxConnsPerTorrent caps connections per torrent. With 10, bench swarm (tc,
	// N=20, 128 MiB, 8 MiB/s) gave origin egress 2.05 × size and p99 2.18: an agent with few
	// neighbours often found no neighbour holding a piece and asked the origin again; with
	// 20, 1.06 × size and p99 1.66 (CPU-bound on a 2-core machine).
	DefaultMaxConnsPerTorrent = 20
	// DefaultPipelineDepth is the most 16 KiB block requests kept outstanding on a
	// connection to a peer other than an agent (origins, stock clients); fewer while that
	// peer sends us less than the depth's worth in a quarter second (peer.depth).
	DefaultPipelineDepth = 32
	// DefaultAgentPipelineDepth is the same towards a Docket agent. It is shallower: the
	// origin is a cold swarm's bottleneck (every piece leaves it once), and an agent whose
	// ingress is queued full of its peers' blocks slows the origin's blocks to it, and so
	// the origin and the whole swarm. Measured with bench swarm (tc, N=10, 128 MiB, 8 MiB/s):
	// depth 32 towards agents gave p99 1.42 and origin egress 1.11 × size, depth 8 gave 1.34
	// and 1.04.
	DefaultAgentPipelineDepth = 8
	// DefaultStallTimeout is how long a peer with requests outstanding may
	// send no block before it is dropped and its requests reassigned.
	DefaultStallTimeout = 10 * time.Second
	// DefaultProgressTimeout is how long a download may go without a verified piece before
	// it gives up (the agent then falls back to the origin over HTTP).
	DefaultProgressTimeout = 30 * time.Second
	// DefaultBanDuration is how long a peer that sent a bad piece, stalled, or refused pieces
	// it claimed (ErrBadPiece, ErrStalled, ErrLyingPeer) is refused.
	DefaultBanDuration = 5 * time.Minute
	// DefaultHandshakeTimeout bounds the handshake on a new connection.
	DefaultHandshakeTimeout = 5 * time.Second
	// piecesPerPick is how many pieces a connection takes from the picker at a time.
	piecesPerPick = 2
)

// Config configures a Scheduler.
type Config struct {
	MaxConnsPerTorrent int           `yaml:"max_conns_per_torrent"`
	PipelineDepth      int           `yaml:"pipeline_depth"`
	AgentPipelineDepth int           `yaml:"agent_pipeline_depth"`
	StallTimeout       time.Duration `yaml:"stall_timeout"`
	ProgressTimeout    time.Duration `yaml:"progress_timeout"`
	BanDuration        time.Duration `yaml:"ban_duration"`
	HandshakeTimeout   time.Duration `yaml:"handshake_timeout"`
	// TempDir holds partial downloads; "" means os.TempDir().
	TempDir string `yaml:"temp_dir"`
	// Bandwidth limits this host's peer traffic (zero: unlimited).
	Bandwidth bandwidth.Config `yaml:"bandwidth"`
}

// ApplyDefaults fills zero fields with the Default* constants above.
func (c *Config) ApplyDefaults() {
	if c.MaxConnsPerTorrent == 0 {
		c.MaxConnsPerTorrent = DefaultMaxConnsPerTorrent
	}
	if c.PipelineDepth == 0 {
		c.PipelineDepth = DefaultPipelineDepth
	}
	if c.AgentPipelineDepth == 0 {
		c.AgentPipelineDepth = DefaultAgentPipelineDepth
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.ProgressTimeout == 0 {
		c.ProgressTimeout = DefaultProgressTimeout
	}
	if c.BanDuration == 0 {
		c.BanDuration = DefaultBanDuration
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
}

// Validate checks limits are positive.
func (c *Config) Validate() error {
	if c.MaxConnsPerTorrent < 1 || c.PipelineDepth < 1 || c.AgentPipelineDepth < 1 || c.StallTimeout <= 0 || c.ProgressTimeout <= 0 || c.BanDuration < 0 || c.HandshakeTimeout <= 0 {
		return fmt.Errorf("%w: %+v", ErrConfig, *c)
	}
	return nil
}
