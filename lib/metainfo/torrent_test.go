package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
)

// stockTorrent bencodes a single-file v1 torrent as mktorrent writes one (extra keys
// included) for blob under name.
func stockTorrent(blob []byte, name string, pieceLength int) []byte {
	var sums strings.Builder
	for off := 0; off < len(blob); off += pieceLength {
		s := sha1.Sum(blob[off:min(off+pieceLength, len(blob))])
		sums.Write(s[:])
	}
	return fmt.Appendf(nil, "d8:announce27:http://127.0.0.1:1/announce10:created by13:mktorrent 1.113:creation datei1e4:infod6:lengthi%de4:name%d:%s12:piece lengthi%de6:pieces%d:%s7:privatei1e6:source4:testee",
		len(blob), len(name), name, pieceLength, sums.Len(), sums.String())
}

func TestParseTorrent(t *testing.T) {
	blob, d := randomBlob(t, 11, 5*MinPieceLength+17)
	m := mustGenerate(t, blob, d, MinPieceLength)
	docket, err := MarshalTorrent(m, "http://127.0.0.1:2/announce")
	if err != nil {
		t.Fatal(err)
	}
	tor, err := ParseTorrent(docket)
	if err != nil {
		t.Fatal(err)
	}
	if tor.Info.StockV1() || tor.Info.InfoHash != m.InfoHash || tor.Name != d.String() || tor.Announce != "http://127.0.0.1:2/announce" {
		t.Fatalf("Docket torrent parsed as %+v", tor)
	}

	for _, name := range []string{"layer.tar", d.String()} {
		tor, err := ParseTorrent(stockTorrent(blob, name, MinPieceLength))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !tor.Info.StockV1() || tor.Name != name || tor.Info.NumPieces() != 6 || tor.Info.PieceSHA1[5] != m.PieceSHA1[5] {
			t.Fatalf("%s: parsed as %+v", name, tor.Info)
		}
		if (name == d.String()) != (tor.Info.Digest == d) {
			t.Fatalf("%s: digest %q", name, tor.Info.Digest)
		}
		// Pieces of a stock torrent are checked by SHA-1.
		if err := VerifyPiece(tor.Info, 5, blob[5*MinPieceLength:]); err != nil {
			t.Fatal(err)
		}
		bad := append([]byte{}, blob[:MinPieceLength]...)
		bad[3] ^= 1
		if err := VerifyPiece(tor.Info, 0, bad); !errors.Is(err, ErrPieceMismatch) {
			t.Fatalf("corrupt stock piece: %v", err)
		}
		if _, err := MarshalInfo(tor.Info); !errors.Is(err, ErrInvalid) {
			t.Fatalf("re-encoding a stock torrent: %v", err)
		}
	}

	for name, in := range map[string][]byte{
		"sha256 pieces in a foreign dictionary": []byte(strings.Replace(string(docket), "7:privatei1e", "7:privatei1e6:source1:x", 1)),
		"piece count":                           stockTorrent(blob[:len(blob)-20], "x", MinPieceLength/2),
		"multi-file":                            []byte("d4:infod5:filesld6:lengthi1e4:pathl1:aeee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"),
		"no info":                               []byte("d8:announce1:xe"),
	} {
		if _, err := ParseTorrent(in); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrInvalidPieceLength) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var zero core.MetaInfo
	if zero.Validate() == nil {
		t.Fatal("a zero MetaInfo validates")
	}
}

// FuzzParseTorrent checks that ParseTorrent never panics and that what it accepts is
// consistent: it validates, and a Docket torrent re-encodes to its own info-hash.
// Seeds live in testdata/fuzz/FuzzParseTorrent.
func FuzzParseTorrent(f *testing.F) {
	blob, d := randomBlob(f, 12, 2*MinPieceLength+3)
	m := mustGenerate(f, blob, d, MinPieceLength)
	docket, err := MarshalTorrent(m, "http://127.0.0.1:2/announce")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(docket)
	f.Add(stockTorrent(blob, "layer.tar", MinPieceLength))
	f.Add(stockTorrent(blob, d.String(), MinPieceLength))
	f.Fuzz(func(t *testing.T, in []byte) {
		tor, err := ParseTorrent(in)
		if err != nil {
			return
		}
		if err := tor.Info.Validate(); err != nil {
			t.Fatalf("accepted torrent does not validate: %v", err)
		}
		if !tor.Info.StockV1() {
			if ih, err := InfoHash(tor.Info); err != nil || ih != tor.Info.InfoHash {
				t.Fatalf("Docket torrent re-encodes to %s (%v), parsed %s", ih, err, tor.Info.InfoHash)
			}
		}
	})
}
