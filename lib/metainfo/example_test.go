package metainfo_test

import (
	"bytes"
	"fmt"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metainfo"
)

func Example() {
	blob := bytes.Repeat([]byte("docket"), 50000) // 300,000 bytes
	d := core.SHA256Digest(blob)
	pl := metainfo.PieceLength(int64(len(blob)), metainfo.DefaultTable)
	m, err := metainfo.Generate(bytes.NewReader(blob), d, int64(len(blob)), pl)
	if err != nil {
		panic(err)
	}
	torrent, err := metainfo.MarshalTorrent(m, "http://127.0.0.1:15003/announce")
	if err != nil {
		panic(err)
	}
	back, err := metainfo.Unmarshal(torrent)
	if err != nil {
		panic(err)
	}
	fmt.Println(pl, m.NumPieces(), back.InfoHash == m.InfoHash)
	// Output: 65536 5 true
}
