package main

import (
	"context"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
)

// TestBenchFetch runs `docket bench fetch` against a test server: it verifies the content
// against the digest, or its length and CRC-32C, and prints the seconds it took.
func TestBenchFetch(t *testing.T) {
	body := []byte(strings.Repeat("docket", 10000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	good := core.SHA256Digest(body).String()
	other := core.SHA256Digest([]byte("something else")).String()
	crc := fmt.Sprintf("%08x", crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	size := strconv.Itoa(len(body))

	for _, args := range [][]string{
		{"--digest", good, srv.URL},
		{"--digest", good, "--size", size, "--crc32c", crc, srv.URL},
	} {
		code, stdout, stderr := runDocket(t, context.Background(), append([]string{"bench", "fetch"}, args...)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if secs, err := strconv.ParseFloat(strings.TrimSpace(stdout), 64); err != nil || secs < 0 {
			t.Fatalf("%v: printed %q, want seconds", args, stdout)
		}
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
		{"wrong crc", []string{"--digest", good, "--size", size, "--crc32c", "00000000", srv.URL}, exitError, "with CRC-32C " + crc},
		{"wrong size", []string{"--digest", good, "--size", "7", "--crc32c", crc, srv.URL}, exitError, "content has " + size + " bytes"},
		{"crc without size", []string{"--digest", good, "--crc32c", crc, srv.URL}, exitUsage, "needs --size"},
		{"bad crc", []string{"--digest", good, "--size", size, "--crc32c", "xyz", srv.URL}, exitUsage, "--crc32c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runDocket(t, context.Background(), append([]string{"bench", "fetch"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, stderr, tc.want)
			}
		})
	}
}
