package bench

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRingLoopback runs three ring hosts on 127.0.0.1: each sends the size to the next and
// receives it from the one before, and each prints a time no earlier than the start instant.
func TestRingLoopback(t *testing.T) {
	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const size = 3<<20 + 12345 // not a multiple of the write size
	at := time.Now().Add(200 * time.Millisecond)
	outs := make([]bytes.Buffer, len(ports))
	errs := make(chan error, len(ports))
	for i := range ports {
		go func() {
			errs <- RunRing(ctx, hostPort(ports[i]), hostPort(ports[(i+1)%len(ports)]), size, at, &outs[i])
		}()
	}
	for range ports {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range outs {
		sec, err := strconv.ParseFloat(strings.TrimSpace(outs[i].String()), 64)
		if err != nil || sec <= 0 {
			t.Errorf("host %d printed %q, want positive seconds", i, outs[i].String())
		}
	}
}

// TestRingSizeMismatch: hosts that receive other than the size fail and say so, whether
// they got less or more.
func TestRingSizeMismatch(t *testing.T) {
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at := time.Now()
	errs := make(chan error, 2)
	go func() { errs <- RunRing(ctx, hostPort(ports[0]), hostPort(ports[1]), 1<<20, at, &bytes.Buffer{}) }()
	go func() { errs <- RunRing(ctx, hostPort(ports[1]), hostPort(ports[0]), 1000, at, &bytes.Buffer{}) }()
	var got []string
	for range 2 {
		if err := <-errs; err != nil {
			got = append(got, err.Error())
		}
	}
	for _, want := range []string{"received 1000 bytes, want 1048576", "received 1048576 bytes, want 1000"} {
		if !slices.ContainsFunc(got, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("errors %q, want one saying %q", got, want)
		}
	}
}

// TestSwarmFloorNeedsTC: --floor is refused with the app shaper, which shapes only Docket's
// own traffic.
func TestSwarmFloorNeedsTC(t *testing.T) {
	o := SwarmOptions{Shaper: "app", Floor: true}
	if err := o.applyDefaults(); err == nil || !strings.Contains(err.Error(), "--floor needs --shaper tc") {
		t.Fatalf("applyDefaults: %v, want the tc requirement", err)
	}
}
