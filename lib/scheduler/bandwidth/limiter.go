// Package bandwidth throttles a host's peer traffic, ingress and egress
// separately, with token buckets shared by every connection of the host.
package bandwidth

import (
	"context"
	"fmt"
	"net"

	"golang.org/x/time/rate"
)

// DefaultBurst is the bucket size when Config.Burst is zero: enough for
// several 16 KiB blocks, so one block never waits on its own size.
const DefaultBurst = 1 << 20

// Config sets per-host limits in bytes per second. Zero means unlimited.
type Config struct {
	IngressBytesPerSec int64 `yaml:"ingress_bytes_per_sec"`
	EgressBytesPerSec  int64 `yaml:"egress_bytes_per_sec"`
	// Burst is the bucket size in bytes for both directions; 0 means DefaultBurst.
	Burst int `yaml:"burst"`
}

// Limiter holds the two buckets. A nil bucket means unlimited.
type Limiter struct {
	in, out *rate.Limiter
	burst   int
}

// New returns a Limiter for cfg.
func New(cfg Config) (*Limiter, error) {
	if cfg.IngressBytesPerSec < 0 || cfg.EgressBytesPerSec < 0 || cfg.Burst < 0 {
		return nil, fmt.Errorf("%w: %+v", ErrConfig, cfg)
	}
	burst := cfg.Burst
	if burst == 0 {
		burst = DefaultBurst
	}
	l := &Limiter{burst: burst}
	if cfg.IngressBytesPerSec > 0 {
		l.in = rate.NewLimiter(rate.Limit(cfg.IngressBytesPerSec), burst)
	}
	if cfg.EgressBytesPerSec > 0 {
		l.out = rate.NewLimiter(rate.Limit(cfg.EgressBytesPerSec), burst)
	}
	return l, nil
}

// WaitIngress blocks until n received bytes fit the ingress limit.
func (l *Limiter) WaitIngress(ctx context.Context, n int) error { return l.wait(ctx, l.in, n) }

// WaitEgress blocks until n bytes may be sent under the egress limit.
func (l *Limiter) WaitEgress(ctx context.Context, n int) error { return l.wait(ctx, l.out, n) }

func (l *Limiter) wait(ctx context.Context, b *rate.Limiter, n int) error {
	if b == nil {
		return ctx.Err()
	}
	for n > 0 {
		chunk := min(n, l.burst)
		if err := b.WaitN(ctx, chunk); err != nil {
			return fmt.Errorf("bandwidth: wait: %w", err)
		}
		n -= chunk
	}
	return nil
}

// Conn wraps c so its reads and writes are charged to l. Reads are charged
// after the bytes arrive (the kernel already accepted them; the charge slows
// the next read), writes before they are sent. ctx bounds the waiting.
func (l *Limiter) Conn(ctx context.Context, c net.Conn) net.Conn {
	return &conn{Conn: c, l: l, ctx: ctx}
}

type conn struct {
	net.Conn
	l   *Limiter
	ctx context.Context
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if werr := c.l.WaitIngress(c.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		chunk := min(len(p)-written, c.l.burst)
		if err := c.l.WaitEgress(c.ctx, chunk); err != nil {
			return written, err
		}
		n, err := c.Conn.Write(p[written : written+chunk])
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
