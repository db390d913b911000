// Package clocktest is a clock that tests move by hand, for code that takes a
// func() time.Time (upload expiry, eviction grace, garbage-collection grace).
package clocktest

import (
	"sync"
	"time"
)

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at a fixed date.
func New() *Clock { return At(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

// At returns a clock standing at t (time.Now() where the code under test also meets times it
// does not control, such as an object store's upload times).
func At(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time; pass c.Now where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
