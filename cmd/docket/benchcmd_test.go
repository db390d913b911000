package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
)

// TestBenchFetch runs `docket bench fetch` against a test server: it verifies the content
// against the digest and prints the seconds it took.
func TestBenchFetch(t *testing.T) {
	body := []byte(strings.Repeat("docket", 10000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	good := core.SHA256Digest(body).String()
	other := core.SHA256Digest([]byte("something else")).String()

	code, stdout, stderr := runDocket(t, context.Background(), "bench", "fetch", "--digest", good, srv.URL)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if secs, err := strconv.ParseFloat(strings.TrimSpace(stdout), 64); err != nil || secs < 0 {
		t.Fatalf("printed %q, want seconds", stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong content", []string{"--digest", other, srv.URL}, exitError, "content is " + good},
		{"bad digest", []string{"--digest", "sha256:nope", srv.URL}, exitUsage, "--digest"},
		{"no url", []string{"--digest", good}, exitUsage, "want one URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runDocket(t, context.Background(), append([]string{"bench", "fetch"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, stderr, tc.want)
			}
		})
	}
}
