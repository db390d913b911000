package scheduler

import (
	"log/slog"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/lib/wire"
)

// TestDepthFollowsRate: requests in flight to an origin or stock client cover what it has
// been sending for requestLatencyTarget, within [AgentPipelineDepth, PipelineDepth]; an agent
// always gets AgentPipelineDepth; a peer not yet measured gets PipelineDepth.
func TestDepthFollowsRate(t *testing.T) {
	now := time.Unix(1000, 0)
	s, err := New(Config{PipelineDepth: 32, AgentPipelineDepth: 8}, slog.New(slog.DiscardHandler), tally.NoopScope,
		WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{s: s, kind: kindOrigin}
	if got := p.depth(); got != 32 {
		t.Fatalf("unmeasured origin: depth %d, want 32", got)
	}
	// 0.4 MiB/s, a twentieth of an 8 MiB/s origin: 100 KiB per 250 ms, under the floor of 8.
	feed := func(bytesPerSec float64, d time.Duration) {
		for step := 0; step < int(d/(10*time.Millisecond)); step++ {
			p.measure(int(bytesPerSec / 100))
			now = now.Add(10 * time.Millisecond)
		}
	}
	feed(0.4*(1<<20), 2*time.Second)
	if got := p.depth(); got != 8 {
		t.Errorf("origin sending 0.4 MiB/s: depth %d, want 8 (rate %.0f)", got, p.rate)
	}
	// 1.6 MiB/s: 0.4 MiB per 250 ms, 26 blocks (the average settles towards it).
	feed(1.6*(1<<20), 5*time.Second)
	want := int(1.6 * (1 << 20) * requestLatencyTarget.Seconds() / wire.BlockSize)
	if got := p.depth(); got < want-1 || got > want+2 {
		t.Errorf("origin sending 1.6 MiB/s: depth %d, want about %d (rate %.0f)", got, want, p.rate)
	}
	feed(64*(1<<20), 2*time.Second)
	if got := p.depth(); got != 32 {
		t.Errorf("origin sending 64 MiB/s: depth %d, want the cap 32", got)
	}
	p.kind = kindAgent
	if got := p.depth(); got != 8 {
		t.Errorf("agent: depth %d, want 8", got)
	}
}
