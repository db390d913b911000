package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/internal/devcluster"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/metrics"
	originclient "github.com/docket-p2p/docket/origin/client"
)

// TestTorrent writes a blob's .torrent through a dev cluster's tracker and checks it: it
// parses, announces to that tracker, and aria2c reads the same info hash.
func TestTorrent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := devcluster.Start(ctx, devcluster.Options{DataDir: t.TempDir(),
		Metrics: func(string) *metrics.Registry { return metrics.NewNop() }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 3<<20)
	rand.Read(data)
	d := core.SHA256Digest(data)
	if err := originclient.New(c.Origin, nil).Upload(ctx, "lib/t", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "blob.torrent")
	code, stdout, stderr := runDocket(t, ctx, "torrent", "--tracker", c.Tracker, "--ns", "lib/t", "-o", out, d.String())
	if code != exitOK {
		t.Fatalf("docket torrent: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := metainfo.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest != d || m.Length != int64(len(data)) || !strings.Contains(stdout, m.InfoHash.String()) {
		t.Fatalf("torrent %+v, output %q", m, stdout)
	}
	if !bytes.Contains(b, []byte("http://"+c.Tracker+"/announce")) {
		t.Fatalf("torrent does not announce to %s", c.Tracker)
	}
	if aria, err := exec.LookPath("aria2c"); err == nil {
		show, err := exec.Command(aria, "-S", out).CombinedOutput()
		if err != nil {
			t.Fatalf("aria2c -S: %v: %s", err, show)
		}
		if !strings.Contains(strings.ToLower(string(show)), m.InfoHash.String()) {
			t.Fatalf("aria2c reads another info hash:\n%s", show)
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("aria2c missing under CI=true")
	}
	if code, _, _ := runDocket(t, ctx, "torrent", "--tracker", c.Tracker, core.SHA256Digest([]byte("absent")).String()); code == exitOK {
		t.Fatal("torrent of an unknown blob succeeded")
	}
}
