package scheduler

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
)

// taggedCounter is a counter's value for one peer kind.
func taggedCounter(n *node, name, kind string) int64 {
	for _, c := range n.scope.Snapshot().Counters() {
		if c.Name() == name && c.Tags()["peer"] == kind {
			return c.Value()
		}
	}
	return 0
}

// An origin registers nothing up front: the lookup resolves the info-hash on the first
// handshake, the torrent is super-seeded, and both sides count the bytes as origin traffic.
// The second leecher joins the first one's download through AddPeers and seeds it on after
// DownloadAndSeed returns.
func TestLookupAddPeersAndSeedOn(t *testing.T) {
	data, m := blob(t, 1<<20+77)
	lookups := 0
	origin := startNode(t, Config{}, AsOrigin(), WithLookup(func(h core.InfoHash) (*core.MetaInfo, io.ReaderAt, bool) {
		lookups++
		if h != m.InfoHash {
			return nil, nil, false
		}
		return m, bytes.NewReader(data), true
	}))
	first := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := first.s.DownloadAndSeed(ctx, m, []netip.AddrPort{origin.addr}, first.store); err != nil {
		t.Fatal(err)
	}
	checkStored(t, first, m, data)
	if got := taggedCounter(first, "bytes_in", kindOrigin); got != int64(len(data)) {
		t.Fatalf("first leecher got %d bytes from the origin, want %d", got, len(data))
	}
	if got := taggedCounter(origin, "bytes_out", kindAgent); got != int64(len(data)) {
		t.Fatalf("origin sent %d bytes to agents, want %d", got, len(data))
	}
	if got := first.s.Received(m.InfoHash); got[kindOrigin] != int64(len(data)) {
		t.Fatalf("Received = %v, want %d bytes from the origin", got, len(data))
	}
	if lookups != 1 {
		t.Fatalf("%d lookups, want 1", lookups)
	}

	// The second leecher starts with a peer that never answers the handshake and is handed
	// the first one while it waits.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	second := startNode(t, Config{})
	errc := make(chan error, 1)
	go func() {
		errc <- second.s.Download(ctx, m, []netip.AddrPort{netip.MustParseAddrPort(mute.Addr().String())}, second.store)
	}()
	nc, err := mute.Accept() // the download is running once it dials
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	second.s.AddPeers(m.InfoHash, []netip.AddrPort{first.addr})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	checkStored(t, second, m, data)
	if got := taggedCounter(second, "bytes_in", kindAgent); got != int64(len(data)) {
		t.Fatalf("second leecher got %d bytes from agents, want %d", got, len(data))
	}
	first.s.Unseed(m.InfoHash)
}

// A download whose only peer holds nothing gives up after ProgressTimeout.
func TestNoProgress(t *testing.T) {
	_, m := blob(t, 256<<10)
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	idle := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// idle downloads from a peer that never answers, so it holds the torrent and no piece.
	go func() {
		_ = idle.s.Download(ctx, m, []netip.AddrPort{netip.MustParseAddrPort(mute.Addr().String())}, idle.store)
	}()
	nc, err := mute.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	leecher := startNode(t, Config{ProgressTimeout: 300 * time.Millisecond})
	err = leecher.s.Download(ctx, m, []netip.AddrPort{idle.addr}, leecher.store)
	if !errors.Is(err, ErrNoProgress) {
		t.Fatalf("err = %v, want ErrNoProgress", err)
	}
}
