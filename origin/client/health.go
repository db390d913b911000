package client

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Health policy.
const (
	// downFor is how long an origin that failed is treated as down (tried last, and skipped
	// by replication) unless it answers meanwhile.
	downFor = 10 * time.Second
	// DefaultProbeInterval is how often Probe asks every origin for /health; it is below
	// downFor so that an origin that stays down stays marked.
	DefaultProbeInterval = 3 * time.Second
	// probeTimeout bounds one /health request: an origin that cannot answer that in time
	// is no place to send blobs either.
	probeTimeout = 2 * time.Second
)

// Health tracks which origins failed recently: passively, from the outcome of requests
// (MarkDown, MarkUp), and actively, when Probe runs. It is safe for concurrent use.
type Health struct {
	now func() time.Time

	mu       sync.Mutex
	downTill map[string]time.Time
}

// NewHealth returns a tracker in which every origin is up; now is its clock (nil: time.Now).
func NewHealth(now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	return &Health{now: now, downTill: make(map[string]time.Time)}
}

// MarkDown records that addr just failed.
func (h *Health) MarkDown(addr string) {
	h.mu.Lock()
	h.downTill[addr] = h.now().Add(downFor)
	h.mu.Unlock()
}

// MarkUp records that addr just answered.
func (h *Health) MarkUp(addr string) {
	h.mu.Lock()
	delete(h.downTill, addr)
	h.mu.Unlock()
}

// Down reports whether addr failed within the last downFor and has not answered since.
func (h *Health) Down(addr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.downTill[addr]
	return ok && h.now().Before(t)
}

// Order returns cs with the origins that are down moved to the end, order otherwise kept.
func (h *Health) Order(cs []Client) []Client {
	up := make([]Client, 0, len(cs))
	var down []Client
	for _, c := range cs {
		if h.Down(c.Addr()) {
			down = append(down, c)
		} else {
			up = append(up, c)
		}
	}
	return append(up, down...)
}

// Probe asks every origin in addrs for GET /health each interval (DefaultProbeInterval if
// not positive) and marks it up or down by the answer, until ctx ends. hc nil means
// DefaultHTTPClient.
func (h *Health) Probe(ctx context.Context, addrs []string, interval time.Duration, hc *http.Client) {
	h.ProbeMembers(ctx, func() []string { return addrs }, interval, hc)
}

// ProbeMembers is Probe over members that may change (a ring from DNS): addrs is asked
// for them before every round.
func (h *Health) ProbeMembers(ctx context.Context, addrs func() []string, interval time.Duration, hc *http.Client) {
	if interval <= 0 {
		interval = DefaultProbeInterval
	}
	if hc == nil {
		hc = DefaultHTTPClient
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, a := range addrs() {
			wg.Go(func() {
				if err := probe(ctx, hc, a); err != nil {
					if ctx.Err() == nil {
						h.MarkDown(a)
					}
					return
				}
				h.MarkUp(a)
			})
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe asks one origin for /health.
func probe(ctx context.Context, hc *http.Client, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: health status %d", ErrUnavailable, addr, resp.StatusCode)
	}
	return nil
}
