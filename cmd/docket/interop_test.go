package main

// Interoperability with stock BitTorrent software from Debian (aria2c, opentracker,
// mktorrent; .ci/run installs them): `docket get` downloads from an aria2c seeder, aria2c
// downloads from a Docket origin and from a bare scheduler seeder, both find each other
// through opentracker, and `docket get` reads mktorrent's torrents.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/internal/bttest"
	"github.com/docket-p2p/docket/internal/devcluster"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/scheduler"
	originclient "github.com/docket-p2p/docket/origin/client"
	"github.com/docket-p2p/docket/tracker"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// interopTimeout bounds each exchange with a stock client (aria2c unchokes on choke rounds of
// up to ten seconds).
const interopTimeout = 90 * time.Second

// startDocketTracker runs Docket's tracker in process; it returns the announce URL.
func startDocketTracker(t *testing.T) string {
	t.Helper()
	cfg := tracker.Config{AnnounceInterval: time.Second, PeerTTL: 30 * time.Second}
	s, err := tracker.New(cfg, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	return hs.URL + "/announce"
}

// aria2cArgs keep aria2c on the tracker and on loopback.
func aria2cArgs(dir string, port int) []string {
	return []string{
		"--dir=" + dir, "--listen-port=" + strconv.Itoa(port),
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--summary-interval=0", "--console-log-level=warn",
		"--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5", "--bt-tracker-interval=1",
		"--bt-external-ip=127.0.0.1", "--disable-ipv6=true",
	}
}

// startAria2cSeeder seeds blob (written under name in a temp dir) for the torrent at tp.
func startAria2cSeeder(t *testing.T, tp, name string, blob []byte) {
	t.Helper()
	aria := bttest.RequireTool(t, "aria2c")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(aria2cArgs(dir, bttest.FreePort(t)), "--check-integrity=true", "--seed-ratio=0.0", tp)
	bttest.StartProcess(t, aria, args...)
}

// aria2cDownload runs aria2c on the torrent at tp until it has the file and returns its bytes.
func aria2cDownload(t *testing.T, tp, name string) []byte {
	t.Helper()
	aria := bttest.RequireTool(t, "aria2c")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	args := append(aria2cArgs(dir, bttest.FreePort(t)), "--seed-time=0", "--bt-stop-timeout=60", tp)
	cmd := exec.CommandContext(ctx, aria, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aria2c: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("aria2c left no file: %v\n%s", err, out)
	}
	return got
}

// interopBlob returns a random blob of a few pieces with a short last one, its Docket
// metainfo and its .torrent (what `docket torrent` writes) announcing to announce, saved in a
// temp file.
func interopBlob(t *testing.T, seed uint64, announce string) ([]byte, *core.MetaInfo, string) {
	t.Helper()
	blob := make([]byte, 2<<20+12345)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	d := core.SHA256Digest(blob)
	m, err := metainfo.Generate(bytes.NewReader(blob), d, int64(len(blob)), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	return blob, m, writeTorrent(t, m, announce)
}

// startDocketSeeder seeds m from blob with Docket's scheduler (super-seeding, as an origin
// does, when super) and announces it to announce as a seeder every second until the test ends.
func startDocketSeeder(t *testing.T, announce string, m *core.MetaInfo, blob []byte, super bool) {
	t.Helper()
	s, err := scheduler.New(scheduler.Config{}, slog.New(slog.DiscardHandler), tally.NoopScope)
	if err != nil {
		t.Fatal(err)
	}
	if super {
		err = s.SuperSeed(m, bytes.NewReader(blob))
	} else {
		err = s.Seed(m, bytes.NewReader(blob))
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := trackerclient.NewAnnounceURL(announce, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { _ = s.Serve(ctx, l) })
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	wg.Go(func() {
		req := trackerclient.AnnounceRequest{InfoHash: m.InfoHash, PeerID: s.PeerID(), Port: port, Event: "started"}
		for {
			if _, err := tc.Announce(ctx, req); err == nil {
				req.Event = ""
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	})
}

// docketGet runs `docket get` on the torrent at tp into a temp dir and returns the file's
// bytes; the dir must hold nothing else afterwards.
func docketGet(t *testing.T, tp string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	dir := t.TempDir()
	out := filepath.Join(dir, "blob")
	code, stdout, stderr := runDocket(t, ctx, "get", "--out", out, "--listen", "127.0.0.1:0", "--timeout", interopTimeout.String(), tp)
	if code != exitOK {
		t.Fatalf("docket get: exit %d\n%s%s", code, stdout, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	assertOnlyFile(t, dir, "blob")
	return got
}

func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if (name == "" && len(names) != 0) || (name != "" && (len(names) != 1 || names[0] != name)) {
		t.Fatalf("%s holds %q, want only %q", dir, names, name)
	}
}

// TestGetFromAria2cSeeder: a blob only an aria2c seeder holds; `docket get` with the
// .torrent `docket torrent` writes finds it through Docket's tracker and gets it byte for byte.
func TestGetFromAria2cSeeder(t *testing.T) {
	announce := startDocketTracker(t)
	blob, m, tp := interopBlob(t, 1, announce)
	startAria2cSeeder(t, tp, m.Digest.String(), blob)
	if got := docketGet(t, tp); !bytes.Equal(got, blob) {
		t.Fatal("docket get's copy differs from the blob")
	}
}

// TestAria2cFromDocketSeeder: aria2c downloads a blob from a Docket seeder (plain and
// super-seeding, as origins do) given the Docket .torrent and Docket's tracker.
func TestAria2cFromDocketSeeder(t *testing.T) {
	for _, super := range []bool{false, true} {
		t.Run(fmt.Sprintf("superseed=%v", super), func(t *testing.T) {
			announce := startDocketTracker(t)
			blob, m, tp := interopBlob(t, 2, announce)
			startDocketSeeder(t, announce, m, blob, super)
			if got := aria2cDownload(t, tp, m.Digest.String()); !bytes.Equal(got, blob) {
				t.Fatal("aria2c's copy differs from the blob")
			}
		})
	}
}

// TestOpentracker: with Debian's opentracker as the tracker (bring your own tracker), a Docket
// seeder is found by `docket get` and by aria2c, and `docket get` also finds an aria2c seeder.
func TestOpentracker(t *testing.T) {
	bttest.RequireTool(t, "opentracker")
	t.Run("docket seeder", func(t *testing.T) {
		blob, m, _ := interopBlob(t, 3, "http://127.0.0.1:1/unused")
		announce := "http://" + bttest.StartOpentracker(t, m.InfoHash) + "/announce"
		tp := writeTorrent(t, m, announce)
		startDocketSeeder(t, announce, m, blob, true)
		if got := docketGet(t, tp); !bytes.Equal(got, blob) {
			t.Fatal("docket get's copy differs from the blob")
		}
		if got := aria2cDownload(t, tp, m.Digest.String()); !bytes.Equal(got, blob) {
			t.Fatal("aria2c's copy differs from the blob")
		}
	})
	t.Run("aria2c seeder", func(t *testing.T) {
		blob, m, _ := interopBlob(t, 4, "http://127.0.0.1:1/unused")
		announce := "http://" + bttest.StartOpentracker(t, m.InfoHash) + "/announce"
		tp := writeTorrent(t, m, announce)
		startAria2cSeeder(t, tp, m.Digest.String(), blob)
		if got := docketGet(t, tp); !bytes.Equal(got, blob) {
			t.Fatal("docket get's copy differs from the blob")
		}
	})
}

func writeTorrent(t *testing.T, m *core.MetaInfo, announce string) string {
	t.Helper()
	tb, err := metainfo.MarshalTorrent(m, announce)
	if err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(t.TempDir(), "blob.torrent")
	if err := os.WriteFile(tp, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	return tp
}

// mktorrent makes a stock .torrent (no SHA-256 piece hashes) of the file at path.
func mktorrent(t *testing.T, path, announce string) string {
	t.Helper()
	bin := bttest.RequireTool(t, "mktorrent")
	tp := filepath.Join(t.TempDir(), "stock.torrent")
	if out, err := exec.Command(bin, "-a", announce, "-l", "16", "-o", tp, path).CombinedOutput(); err != nil {
		t.Fatalf("mktorrent: %v\n%s", err, out)
	}
	return tp
}

// TestGetStockTorrent: `docket get` reads a torrent made by mktorrent, which carries SHA-1
// piece hashes only, and gets the file from an aria2c seeder, verifying pieces by SHA-1; when
// the file's name is a digest the whole file is checked against it, and a file that does not
// match its name fails with nothing left behind.
func TestGetStockTorrent(t *testing.T) {
	announce := startDocketTracker(t)
	blob, _, _ := interopBlob(t, 5, announce)
	for _, tc := range []struct {
		name    string
		wantErr string
	}{
		{"layer.tar", ""},
		{core.SHA256Digest(blob).String(), ""},
		{core.SHA256Digest([]byte("something else")).String(), "not " + core.SHA256Digest([]byte("something else")).String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), tc.name)
			if err := os.WriteFile(src, blob, 0o644); err != nil {
				t.Fatal(err)
			}
			tp := mktorrent(t, src, announce)
			b, err := os.ReadFile(tp)
			if err != nil {
				t.Fatal(err)
			}
			tor, err := metainfo.ParseTorrent(b)
			if err != nil {
				t.Fatal(err)
			}
			if !tor.Info.StockV1() || tor.Name != tc.name || tor.Announce != announce {
				t.Fatalf("parsed %+v", tor)
			}
			startAria2cSeeder(t, tp, tc.name, blob)
			if tc.wantErr == "" {
				if got := docketGet(t, tp); !bytes.Equal(got, blob) {
					t.Fatal("docket get's copy differs from the blob")
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
			defer cancel()
			dir := t.TempDir()
			code, _, stderr := runDocket(t, ctx, "get", "--out", filepath.Join(dir, "blob"), "--listen", "127.0.0.1:0", "--timeout", interopTimeout.String(), tp)
			if code == exitOK || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("docket get: exit %d, stderr %q, want an error containing %q", code, stderr, tc.wantErr)
			}
			assertOnlyFile(t, dir, "")
		})
	}
}

// TestGetErrors: `docket get` fails clearly, leaving nothing, on a file that is not a torrent,
// a multi-file torrent and a swarm without peers.
func TestGetErrors(t *testing.T) {
	announce := startDocketTracker(t)
	_, _, tp := interopBlob(t, 6, announce)
	junk := filepath.Join(t.TempDir(), "junk.torrent")
	if err := os.WriteFile(junk, []byte("d4:infoi3ee"), 0o644); err != nil {
		t.Fatal(err)
	}
	multi := filepath.Join(t.TempDir(), "multi.torrent")
	if err := os.WriteFile(multi, []byte("d8:announce5:http:4:infod5:filesld6:lengthi1e4:pathl1:aeee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, torrent, want string
	}{
		{"not a torrent", junk, "invalid metainfo"},
		{"multi-file", multi, "multi-file"},
		{"no peers", tp, "no peers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
			defer cancel()
			dir := t.TempDir()
			code, _, stderr := runDocket(t, ctx, "get", "--out", filepath.Join(dir, "blob"), "--listen", "127.0.0.1:0", "--timeout", "2s", tc.torrent)
			if code != exitError || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q, want exit %d with %q", code, stderr, exitError, tc.want)
			}
			assertOnlyFile(t, dir, "")
		})
	}
}

// TestAria2cFromOrigin: a blob pushed to a dev cluster's origin; `docket torrent` writes its
// .torrent from the cluster's tracker, and aria2c downloads the blob from the origin, which
// seeds it over the peer protocol and announces it to that tracker.
func TestAria2cFromOrigin(t *testing.T) {
	bttest.RequireTool(t, "aria2c")
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	c, err := devcluster.Start(ctx, devcluster.Options{DataDir: t.TempDir(),
		Metrics: func(string) *metrics.Registry { return metrics.NewNop() }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	blob := make([]byte, 3<<20+777)
	rng := rand.New(rand.NewPCG(8, 9))
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	d := core.SHA256Digest(blob)
	if err := originclient.New(c.Origin, nil).Upload(ctx, "lib/aria", d, int64(len(blob)), bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(t.TempDir(), "blob.torrent")
	if code, _, stderr := runDocket(t, ctx, "torrent", "--tracker", c.Tracker, "--ns", "lib/aria", "-o", tp, d.String()); code != exitOK {
		t.Fatalf("docket torrent: exit %d: %s", code, stderr)
	}
	if got := aria2cDownload(t, tp, d.String()); !bytes.Equal(got, blob) {
		t.Fatal("aria2c's copy differs from the blob")
	}
}
