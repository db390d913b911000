package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/fsutil"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/lib/scheduler"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// Pacing of `docket get`'s announces.
const (
	// getRetryInterval is how long get waits before announcing again when the tracker handed
	// out no peers or every peer went away (stock trackers ask for 30 minutes between announces;
	// a one-shot download cannot wait that long).
	getRetryInterval = time.Second
	// getMaxInterval caps the wait between announces during a download.
	getMaxInterval = 30 * time.Second
	// getStoppedTimeout bounds the final "stopped" announce.
	getStoppedTimeout = 5 * time.Second
)

// runGet is `docket get [--out PATH] [--listen ADDR] [--timeout D] FILE.torrent`: it downloads
// the torrent's file from the peers its tracker hands out, with Docket's scheduler, like a
// stock BitTorrent client would. Every piece is verified (SHA-256 for Docket's torrents, SHA-1
// for stock ones) and, when the torrent's name is a digest, the whole file against it; the
// file appears at PATH only once it is complete and verified.
func runGet(ctx context.Context, e *env) error {
	fs := e.newFlagSet("get", "[flags] FILE.torrent")
	out := fs.String("out", "", "output `path` (default: the torrent's name in the current directory)")
	listen := fs.String("listen", ":0", "peer listener `address`, announced to the tracker")
	timeout := fs.Duration("timeout", 0, "give up after this `duration` (0: never)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one FILE.torrent", errUsage)
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	tor, err := metainfo.ParseTorrent(b)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if tor.Announce == "" {
		return fmt.Errorf("%s: no announce URL (trackerless torrents are not supported)", fs.Arg(0))
	}
	tc, err := trackerclient.NewAnnounceURL(tor.Announce, nil)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		if path, err = outputName(tor.Name); err != nil {
			return err
		}
	}
	log, err := e.global.logger(e.stderr)
	if err != nil {
		return err
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	sched, err := scheduler.New(scheduler.Config{TempDir: filepath.Dir(path)}, log, tally.NoopScope)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("peer listener: %w", err)
	}
	self, _ := netip.ParseAddrPort(l.Addr().String())
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = sched.Serve(sctx, l) })
	defer wg.Wait()
	defer stop()

	m := tor.Info
	req := trackerclient.AnnounceRequest{InfoHash: m.InfoHash, PeerID: sched.PeerID(), Port: self.Port(), Left: m.Length, Event: "started"}
	start := time.Now()
	for {
		peers, interval, err := announceForPeers(ctx, tc, &req, self)
		if err != nil {
			return fmt.Errorf("get %s: %w", tor.Name, err)
		}
		actx, cancelAnnounces := context.WithCancel(ctx)
		var announces sync.WaitGroup
		stopAnnounces := func() { cancelAnnounces(); announces.Wait() }
		announces.Go(func() {
			req := req // this goroutine's own copy
			// Peers that join later (another seeder, leechers with pieces) reach the running
			// download; addresses it has tried already are skipped.
			for {
				select {
				case <-actx.Done():
					return
				case <-time.After(interval):
				}
				if more, _, err := announceForPeers(actx, tc, &req, self); err == nil {
					sched.AddPeers(m.InfoHash, more)
				}
			}
		})
		err = sched.Download(ctx, m, peers, fileCommitter{path: path})
		stopAnnounces()
		if err == nil {
			break
		}
		if !(errors.Is(err, scheduler.ErrNoPeers) || errors.Is(err, scheduler.ErrNoProgress)) || ctx.Err() != nil {
			return fmt.Errorf("get %s: %w", tor.Name, err)
		}
		log.Info("download stopped; announcing again", "err", err)
	}
	elapsed := time.Since(start)
	sctx2, cancel := context.WithTimeout(context.WithoutCancel(ctx), getStoppedTimeout)
	defer cancel()
	req.Event, req.Left, req.Downloaded = "stopped", 0, m.Length
	_, _ = tc.Announce(sctx2, req)
	fmt.Fprintf(e.stdout, "%s: %d bytes in %s (%.1f MiB/s), info hash %s\n",
		path, m.Length, elapsed.Round(time.Millisecond), float64(m.Length)/(1<<20)/max(elapsed.Seconds(), 1e-3), m.InfoHash)
	return nil
}

// announceForPeers announces until the tracker hands out at least one peer other than self;
// it returns them and how long to wait before the next announce (the tracker's interval,
// within [getRetryInterval, getMaxInterval]).
func announceForPeers(ctx context.Context, tc *trackerclient.Client, req *trackerclient.AnnounceRequest, self netip.AddrPort) ([]netip.AddrPort, time.Duration, error) {
	var last error
	for {
		resp, err := tc.Announce(ctx, *req)
		if err == nil {
			req.Event = ""
			interval := min(max(resp.Interval, getRetryInterval), getMaxInterval)
			if peers := resp.PeersExcept(self); len(peers) > 0 {
				return peers, interval, nil
			}
			last = errors.New("the tracker knows no peer for this torrent")
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("no peers: %w (last announce: %v)", ctx.Err(), last)
		case <-time.After(getRetryInterval):
		}
	}
}

// outputName is the default output path for a torrent's name: a plain file name in the
// current directory, never a path a torrent could steer elsewhere.
func outputName(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", fmt.Errorf("%w: the torrent's name %q is not a plain file name; give --out", errUsage, name)
	}
	return name, nil
}

// fileCommitter publishes a finished download at path: written to a temp file beside it,
// checked against the digest when the torrent names one, fsynced and renamed into place.
type fileCommitter struct{ path string }

func (f fileCommitter) Put(ctx context.Context, d core.Digest, size int64, r io.Reader) (err error) {
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".partial-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := io.Writer(tmp)
	var dg *core.Digester
	if !d.IsZero() {
		dg = d.NewDigester()
		w = io.MultiWriter(tmp, dg)
	}
	n, err := io.Copy(w, &fsutil.CtxReader{Ctx: ctx, R: r})
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("wrote %d bytes, want %d", n, size)
	}
	if dg != nil && dg.Digest() != d {
		return fmt.Errorf("the downloaded file is %s, not %s: every piece matched its hash, so the torrent's pieces do not describe its name", dg.Digest(), d)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}
