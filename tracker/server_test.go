package tracker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docket-p2p/docket/lib/config"
	"github.com/docket-p2p/docket/lib/metrics"
)

func TestServeHealthAndMetrics(t *testing.T) {
	reg := metrics.New("tracker")
	defer reg.Close()
	s, err := New(Config{Listen: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	base := "http://" + l.Addr().String()
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("/health: %s %q", resp.Status, b)
	}
	// The health request is counted once tally flushes (every second).
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "docket_tracker_http_requests") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics has no request counter:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConfig(t *testing.T) {
	var c Config
	if err := config.Decode(nil, &c); err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.AnnounceInterval != DefaultAnnounceInterval || c.PeerTTL != DefaultPeerTTL {
		t.Fatalf("defaults: %+v", c)
	}
	if err := config.Decode([]byte("announce_interval: 10s\npeer_ttl: 1m\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.AnnounceInterval != 10*time.Second || c.PeerTTL != time.Minute {
		t.Fatalf("decoded: %+v", c)
	}
	for _, bad := range []string{
		"peer_ttl: 2s\n",            // not above the announce interval
		"announce_interval: -1s\n",  // negative
		"listen: nonsense\n",        // no port
		"annouce_interval: 3s\n",    // unknown key
		"announce_interval: fast\n", // not a duration
	} {
		var c Config
		if err := config.Decode([]byte(bad), &c); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
