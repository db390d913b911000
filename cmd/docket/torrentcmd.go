package main

import (
	"context"
	"fmt"
	"os"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metainfo"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// runTorrent is `docket torrent [--tracker HOST:PORT] [--ns REPO] [-o FILE] DIGEST`: it fetches
// the blob's metainfo from the tracker and writes a .torrent whose announce URL is that
// tracker, for stock BitTorrent clients (aria2c) to download the blob from Docket's origins
// and peers.
func runTorrent(ctx context.Context, e *env) error {
	fs := e.newFlagSet("torrent", "[flags] DIGEST")
	tracker := fs.String("tracker", "127.0.0.1:15003", "tracker `host:port`: where the metainfo comes from and the announce URL points")
	ns := fs.String("ns", "", "the blob's `repository` (selects the origin's backend)")
	out := fs.String("o", "", "output `file` (default: <hex of the digest>.torrent)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one DIGEST", errUsage)
	}
	d, err := core.ParseDigest(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	m, err := trackerclient.New(*tracker, nil).MetaInfo(ctx, *ns, d)
	if err != nil {
		return err
	}
	b, err := metainfo.MarshalTorrent(m, "http://"+*tracker+"/announce")
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = d.Hex() + ".torrent"
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s, %d bytes in %d pieces of %d, info hash %s\n",
		path, d, m.Length, m.NumPieces(), m.PieceLength, m.InfoHash)
	return nil
}
