package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestMetadataMessages(t *testing.T) {
	size := 2*MetadataPieceSize + 100
	info := bytes.Repeat([]byte("i"), size)
	for _, m := range []MetadataMessage{
		{Type: MetadataRequest, Piece: 2},
		{Type: MetadataReject, Piece: 0},
		{Type: MetadataData, Piece: 0, TotalSize: size, Data: info[:MetadataPieceSize]},
		{Type: MetadataData, Piece: 2, TotalSize: size, Data: info[2*MetadataPieceSize:]},
	} {
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", m, err)
		}
		got, err := UnmarshalMetadataMessage(b)
		if err != nil {
			t.Fatalf("Unmarshal(%q): %v", b[:min(len(b), 60)], err)
		}
		if got.Type != m.Type || got.Piece != m.Piece || got.TotalSize != m.TotalSize || !bytes.Equal(got.Data, m.Data) {
			t.Fatalf("round trip %+v → %+v", m, got)
		}
	}
	// BEP 9's own example of a request.
	if got, err := UnmarshalMetadataMessage([]byte("d8:msg_typei0e5:piecei0ee")); err != nil || got.Type != MetadataRequest {
		t.Fatalf("BEP 9 request: %+v, %v", got, err)
	}
	if MetadataPieces(size) != 3 || MetadataPieces(MetadataPieceSize) != 1 {
		t.Fatal("MetadataPieces")
	}
}

func TestMetadataRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not bencode":       "x",
		"no msg_type":       "d5:piecei0ee",
		"no piece":          "d8:msg_typei0ee",
		"unknown type":      "d8:msg_typei3e5:piecei0ee",
		"negative piece":    "d8:msg_typei0e5:piecei-1ee",
		"request with data": "d8:msg_typei0e5:piecei0eeXX",
		"data no total":     "d8:msg_typei1e5:piecei0eeXX",
		"data short":        "d8:msg_typei1e5:piecei0e10:total_sizei3eeXX",
		"data long":         "d8:msg_typei1e5:piecei0e10:total_sizei1eeXX",
		"data past end":     "d8:msg_typei1e5:piecei1e10:total_sizei2eeXX",
		"total too big":     "d8:msg_typei1e5:piecei0e10:total_sizei99999999eeXX",
		"piece too big":     "d8:msg_typei0e5:piecei99999999ee",
		"type not int":      "d8:msg_type1:05:piecei0ee",
		"header a list":     "le",
	} {
		_, err := UnmarshalMetadataMessage([]byte(in))
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := (MetadataMessage{Type: MetadataData, Piece: 0, TotalSize: 5, Data: []byte("abc")}).Marshal(); err == nil {
		t.Error("Marshal accepted a data piece of the wrong length")
	}
}

func TestBlocks(t *testing.T) {
	for _, tt := range []struct {
		size  int64
		count int
		last  uint32
	}{
		{1, 1, 1}, {BlockSize, 1, BlockSize}, {BlockSize + 1, 2, 1}, {64 << 10, 4, BlockSize}, {1000, 1, 1000},
	} {
		if n := BlockCount(tt.size); n != tt.count {
			t.Errorf("BlockCount(%d) = %d, want %d", tt.size, n, tt.count)
		}
		var total int64
		for j := range BlockCount(tt.size) {
			b, l := Block(tt.size, j)
			if int64(b) != total || l == 0 || l > BlockSize {
				t.Fatalf("Block(%d, %d) = %d, %d", tt.size, j, b, l)
			}
			total += int64(l)
			if err := checkBlock(Params{NumPieces: 1, PieceLength: tt.size, Length: tt.size}, Request, 0, b, l); err != nil {
				t.Fatalf("Block(%d, %d) fails the Reader's check: %v", tt.size, j, err)
			}
		}
		if total != tt.size {
			t.Errorf("blocks of %d cover %d", tt.size, total)
		}
		if _, l := Block(tt.size, tt.count-1); l != tt.last {
			t.Errorf("last block of %d: %d bytes, want %d", tt.size, l, tt.last)
		}
	}
}
