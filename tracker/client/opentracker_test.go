package client_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/internal/bttest"
	"github.com/docket-p2p/docket/tracker/client"
)

// Info-hashes and peer ids are raw bytes in the query string. Debian's opentracker must see
// the same 20 bytes the client meant, whatever they are: a space (form encoding sends "+",
// which opentracker did not read back as a space for the hash below), "+", "%", "&", "=",
// NUL, 0xFF.
func TestAnnounceRawBytesToOpentracker(t *testing.T) {
	var hashes []core.InfoHash
	for _, b := range []byte{' ', '+', '%', '&', '=', '?', '#', 0x00, 0xff} {
		var h core.InfoHash
		for i := range h {
			h[i] = byte(i * 13)
		}
		h[3], h[17] = b, b
		hashes = append(hashes, h)
	}
	// A hash the form-encoding client once sent wrongly to opentracker (0x20 at byte 5).
	seen, err := core.ParseInfoHash("f8fa2fe7caf620cae58e4166a5cc0b61d5454f95")
	if err != nil {
		t.Fatal(err)
	}
	hashes = append(hashes, seen)
	c := client.New(bttest.StartOpentracker(t, hashes...), nil)
	ctx := context.Background()
	for _, h := range hashes {
		id := core.NewPeerID()
		copy(id[:], " +%&=")
		if _, err := c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: id, Port: 6881, Left: 0, Event: "started"}); err != nil {
			t.Fatalf("announce of %s: %v", h, err)
		}
		// A second peer sees the first one as a seeder of exactly this hash.
		r, err := c.Announce(ctx, client.AnnounceRequest{InfoHash: h, PeerID: core.NewPeerID(), Port: 6882, Left: 1, Event: "started"})
		if err != nil {
			t.Fatalf("second announce of %s: %v", h, err)
		}
		// opentracker may hand the asking peer back to itself.
		if r.Complete != 1 || !slices.ContainsFunc(r.Peers, func(p netip.AddrPort) bool { return p.Port() == 6881 }) {
			t.Fatalf("announce of %s: %+v, want the seeder on port 6881", h, r)
		}
	}
}
