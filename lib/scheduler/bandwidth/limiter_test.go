package bandwidth

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestNewRejectsNegative(t *testing.T) {
	if _, err := New(Config{EgressBytesPerSec: -1}); !errors.Is(err, ErrConfig) {
		t.Fatalf("New(-1) = %v", err)
	}
}

func TestUnlimitedDoesNotWait(t *testing.T) {
	l, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := l.WaitEgress(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("unlimited wait took %v", d)
	}
}

func TestEgressThrottlesOverTCP(t *testing.T) {
	const rateBps, burst, total = 256 << 10, 64 << 10, 192 << 10
	l, err := New(Config{EgressBytesPerSec: rateBps, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		done <- n
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := l.Conn(context.Background(), raw)
	start := time.Now()
	if _, err := c.Write(make([]byte, total)); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	c.Close()
	if n := <-done; n != total {
		t.Fatalf("received %d bytes, want %d", n, total)
	}
	// The first burst is free; the rest goes at rateBps: (192-64)/256 s = 0.5 s.
	want := time.Duration(float64(total-burst) / rateBps * float64(time.Second))
	if elapsed < want*8/10 {
		t.Fatalf("wrote %d bytes in %v, want at least ~%v", total, elapsed, want)
	}
	t.Logf("wrote %d bytes at %d B/s in %v (expected ~%v)", total, rateBps, elapsed, want)
}

func TestWaitHonoursContext(t *testing.T) {
	l, err := New(Config{IngressBytesPerSec: 1, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.WaitIngress(ctx, 1000); err == nil {
		t.Fatal("WaitIngress for 1000 s of tokens returned nil under a 50 ms context")
	}
}
