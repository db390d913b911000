package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbe: an origin that answers /health is up (even if a request failed on it before);
// one that answers 503 or refuses connections is down.
func TestProbe(t *testing.T) {
	serve := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/health" {
				t.Errorf("probe asked for %s", r.URL.Path)
			}
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	ok, sick := serve(http.StatusOK), serve(http.StatusServiceUnavailable)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	h := NewHealth(nil)
	h.MarkDown(ok)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Probe(ctx, []string{ok, sick, dead}, 10*time.Millisecond, nil)
	}()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(10 * time.Second)
	for h.Down(ok) || !h.Down(sick) || !h.Down(dead) {
		if time.Now().After(deadline) {
			t.Fatalf("after probing: ok down %v, sick down %v, dead down %v", h.Down(ok), h.Down(sick), h.Down(dead))
		}
		time.Sleep(5 * time.Millisecond)
	}
	order := h.Order([]Client{New(dead, nil), New(ok, nil), New(sick, nil)})
	if order[0].Addr() != ok || order[1].Addr() != dead || order[2].Addr() != sick {
		t.Fatalf("order %s %s %s: want the live origin first, the rest in their order", order[0].Addr(), order[1].Addr(), order[2].Addr())
	}
}
