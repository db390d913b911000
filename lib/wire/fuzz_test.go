package wire

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// fuzzParams: 20 pieces of 32 KiB, the last one 5 bytes, so bitfields have spare bits and the
// short last piece bounds blocks.
var fuzzParams = Params{NumPieces: 20, PieceLength: 32 << 10, Length: 19*(32<<10) + 5}

// FuzzReader feeds arbitrary bytes to a Reader. It must not panic, and every message it
// accepts must re-encode to exactly the bytes it was read from. Seeds live in
// testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	var stream []byte
	for _, m := range []Message{
		{ID: Bitfield, Payload: []byte{0xff, 0x00, 0xf0}},
		{KeepAlive: true}, {ID: Unchoke}, {ID: Interested}, {ID: Have, Index: 19},
		{ID: Request, Index: 19, Begin: 0, Length: 5},
		{ID: Piece, Index: 0, Begin: 16 << 10, Payload: []byte("block")},
		{ID: Cancel, Index: 1, Begin: 0, Length: BlockSize},
		{ID: RejectRequest, Index: 1, Begin: 0, Length: 1},
		{ID: Extended, ExtendedID: 0, Payload: []byte("d1:md6:docketi2eee")},
		{ID: Port, Port: 6881}, {ID: MessageID(77), Payload: []byte{1, 2}},
	} {
		var err error
		if stream, err = AppendMessage(stream, m); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(stream, true, true)
	f.Add(stream, false, false)
	f.Add([]byte{0, 0, 0, 1, byte(HaveAll)}, true, false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, true, true)
	f.Fuzz(func(t *testing.T, in []byte, fast, ext bool) {
		r := NewReader(bytes.NewReader(in), fuzzParams, ReaderOptions{Fast: fast, ExtensionProtocol: ext})
		rest := in
		for {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			n := 4 + int(binary.BigEndian.Uint32(rest))
			raw := rest[:n]
			rest = rest[n:]
			enc, err := AppendMessage(nil, m)
			if err != nil {
				t.Fatalf("accepted %v does not encode: %v", m, err)
			}
			if !bytes.Equal(enc, raw) {
				t.Fatalf("message read from %x re-encodes as %x", raw, enc)
			}
			if !m.KeepAlive {
				if m2, err := DecodeMessage(raw[4:], fuzzParams); err != nil || !equalMessage(m, m2) {
					t.Fatalf("DecodeMessage disagrees with Reader on %x: %v, %v", raw, m2, err)
				}
			}
		}
	})
}

// FuzzExtendedHandshake checks that decoding any bytes does not panic and that an accepted
// handshake survives a Marshal round trip unchanged. Seeds live in
// testdata/fuzz/FuzzExtendedHandshake.
func FuzzExtendedHandshake(f *testing.F) {
	f.Add([]byte("d1:md11:ut_metadatai3e6:docketi7ee1:pi6881e4:reqqi512e1:v6:Docket13:docket_origini1ee"))
	f.Add([]byte("d1:v12:aria2/1.36.01:md6:ut_pexi1ee6:yourip4:\x7f\x00\x00\x01e"))
	f.Add([]byte("de"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := UnmarshalExtendedHandshake(in)
		if err != nil {
			return
		}
		b, err := h.Marshal()
		if err != nil {
			// Names Marshal refuses (empty) may be received; nothing else may fail.
			if _, empty := h.M[""]; empty {
				return
			}
			t.Fatalf("accepted handshake %+v does not marshal: %v", h, err)
		}
		h2, err := UnmarshalExtendedHandshake(b)
		if err != nil {
			t.Fatalf("re-marshalled handshake %q does not parse: %v", b, err)
		}
		if len(h.M) == 0 && len(h2.M) == 0 {
			h.M, h2.M = nil, nil
		}
		if !reflect.DeepEqual(h, h2) {
			t.Fatalf("round trip changed %+v into %+v", h, h2)
		}
	})
}

// FuzzMetadataMessage checks that BEP 9 messages from peers never panic the decoder and that
// an accepted message re-encodes to one that decodes the same.
func FuzzMetadataMessage(f *testing.F) {
	f.Add([]byte("d8:msg_typei0e5:piecei0ee"))
	f.Add([]byte("d8:msg_typei1e5:piecei0e10:total_sizei3eeabc"))
	f.Add([]byte("d5:piecei1e8:msg_typei2ee"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := UnmarshalMetadataMessage(in)
		if err != nil {
			return
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("accepted %+v does not marshal: %v", m, err)
		}
		m2, err := UnmarshalMetadataMessage(b)
		if err != nil || m2.Type != m.Type || m2.Piece != m.Piece || m2.TotalSize != m.TotalSize || !bytes.Equal(m2.Data, m.Data) {
			t.Fatalf("round trip %+v → %+v, %v", m, m2, err)
		}
	})
}

// FuzzReadHandshake feeds arbitrary bytes to ReadHandshake: it must not panic, and a
// handshake it accepts must re-encode to the 68 bytes it read. Seeds live in
// testdata/fuzz/FuzzReadHandshake.
func FuzzReadHandshake(f *testing.F) {
	f.Add(AppendHandshake(nil, Handshake{Reserved: DefaultReserved()}))
	f.Add([]byte("\x13BitTorrent protocol"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ReadHandshake(bytes.NewReader(in))
		if err != nil {
			return
		}
		if again := AppendHandshake(nil, h); !bytes.Equal(again, in[:HandshakeLen]) {
			t.Fatalf("handshake re-encodes to %x, read from %x", again, in[:HandshakeLen])
		}
	})
}
