package metainfo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// aria2cTimeout bounds one aria2c run in the interoperability test.
const aria2cTimeout = 60 * time.Second

// requireAria2c returns aria2c's path; the test is skipped without it, except in CI, where
// the project's CI script installs it and its absence is a failure.
func requireAria2c(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("aria2c")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("aria2c not installed in CI: %v", err)
		}
		t.Skip("aria2c not installed")
	}
	return p
}

// TestAria2cReadsTorrent checks with a stock BitTorrent client that Docket's .torrent files are
// standard: aria2c reports the same info-hash, piece length and piece count, and verifies a
// blob on disk by its SHA-1 piece hashes — complete when intact, incomplete after one bit
// flips.
func TestAria2cReadsTorrent(t *testing.T) {
	aria := requireAria2c(t)
	blob, d := randomBlob(t, 42, 12*MinPieceLength+999)
	m := mustGenerate(t, blob, d, MinPieceLength)
	// Port 1 on loopback: nothing listens, so aria2c never gets peers from the announce.
	tb, err := MarshalTorrent(m, "http://127.0.0.1:1/announce")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	torrentPath := filepath.Join(dir, "blob.torrent")
	if err := os.WriteFile(torrentPath, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), aria2cTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, aria, args...).CombinedOutput()
		return string(out), err
	}

	out, err := run("-S", torrentPath)
	if err != nil {
		t.Fatalf("aria2c -S: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Info Hash: " + m.InfoHash.String(),
		"Piece Length: 16KiB",
		"The Number of Pieces: 13",
		"Name: " + d.String(),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("aria2c -S output lacks %q:\n%s", want, out)
		}
	}

	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	blobPath := filepath.Join(dataDir, d.String())
	check := func() (string, error) {
		return run("--check-integrity=true", "--seed-time=0", "--dir="+dataDir,
			"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
			"--enable-peer-exchange=false", "--bt-stop-timeout=2", "--summary-interval=0",
			"--console-log-level=warn", torrentPath)
	}
	if err := os.WriteFile(blobPath, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := check(); err != nil {
		t.Fatalf("aria2c rejected an intact blob: %v\n%s", err, out)
	}

	corrupt := append([]byte{}, blob...)
	corrupt[5*MinPieceLength+7] ^= 1
	if err := os.WriteFile(blobPath, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = check()
	if err == nil {
		t.Fatalf("aria2c accepted a blob with a flipped bit:\n%s", out)
	}
	if !regexp.MustCompile(`INPR|ERR`).MatchString(out) {
		t.Fatalf("aria2c failed, but not on an incomplete download: %v\n%s", err, out)
	}
}
