package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// testParams: 10 pieces of 64 KiB, the last one 1,000 bytes.
var testParams = Params{NumPieces: 10, PieceLength: 64 << 10, Length: 9*(64<<10) + 1000}

func allMessages() []Message {
	block := bytes.Repeat([]byte{0xab}, BlockSize)
	return []Message{
		{KeepAlive: true},
		{ID: Choke}, {ID: Unchoke}, {ID: Interested}, {ID: NotInterested},
		{ID: Bitfield, Payload: []byte{0xff, 0xc0}},
		{ID: Have, Index: 9},
		{ID: Request, Index: 3, Begin: 16384, Length: BlockSize},
		{ID: Request, Index: 9, Begin: 0, Length: 1000},
		{ID: Piece, Index: 3, Begin: 48 << 10, Payload: block},
		{ID: Piece, Index: 9, Begin: 999, Payload: []byte{1}},
		{ID: Cancel, Index: 3, Begin: 16384, Length: BlockSize},
		{ID: Port, Port: 6881},
		{ID: Suggest, Index: 1},
		{ID: RejectRequest, Index: 2, Begin: 0, Length: 100},
		{ID: AllowedFast, Index: 0},
		{ID: Extended, ExtendedID: 0, Payload: []byte("d1:md6:docketi1eee")},
		{ID: Extended, ExtendedID: 3, Payload: []byte{}},
		{ID: MessageID(42), Payload: []byte("future")},
	}
}

func equalMessage(a, b Message) bool {
	return a.KeepAlive == b.KeepAlive && a.ID == b.ID && a.Index == b.Index && a.Begin == b.Begin &&
		a.Length == b.Length && a.Port == b.Port && a.ExtendedID == b.ExtendedID && bytes.Equal(a.Payload, b.Payload)
}

// Messages written by a Writer come back from a Reader unchanged, in order, and each one's
// encoding is what AppendMessage gives.
func TestWriterReaderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	msgs := allMessages()
	var expect []byte
	for _, m := range msgs {
		if err := w.WriteMessage(m); err != nil {
			t.Fatalf("WriteMessage(%v): %v", m, err)
		}
		var err error
		if expect, err = AppendMessage(expect, m); err != nil {
			t.Fatalf("AppendMessage(%v): %v", m, err)
		}
	}
	if buf.Len() != 0 && w.Buffered() == 0 {
		t.Fatal("writer flushed by itself below its buffer size")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), expect) {
		t.Fatal("Writer and AppendMessage disagree")
	}
	r := NewReader(&buf, testParams, ReaderOptions{Fast: true, ExtensionProtocol: true})
	for _, want := range msgs {
		got, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage (want %v): %v", want, err)
		}
		if !equalMessage(got, want) {
			t.Fatalf("read %v, want %v", got, want)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

func TestFixedEncodings(t *testing.T) {
	for _, tt := range []struct {
		m    Message
		want []byte
	}{
		{Message{KeepAlive: true}, []byte{0, 0, 0, 0}},
		{Message{ID: Interested}, []byte{0, 0, 0, 1, 2}},
		{Message{ID: Have, Index: 258}, []byte{0, 0, 0, 5, 4, 0, 0, 1, 2}},
		{Message{ID: Request, Index: 1, Begin: 2, Length: 3}, []byte{0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}},
		{Message{ID: Piece, Index: 1, Begin: 2, Payload: []byte{9}}, []byte{0, 0, 0, 10, 7, 0, 0, 0, 1, 0, 0, 0, 2, 9}},
		{Message{ID: HaveAll}, []byte{0, 0, 0, 1, 14}},
		{Message{ID: Extended, ExtendedID: 1, Payload: []byte("x")}, []byte{0, 0, 0, 3, 20, 1, 'x'}},
	} {
		got, err := AppendMessage(nil, tt.m)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("AppendMessage(%v) = %v, %v; want %v", tt.m, got, err, tt.want)
		}
	}
}

func frame(id MessageID, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	return append(append(b, byte(id)), payload...)
}

func u32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func TestReaderRejects(t *testing.T) {
	both := ReaderOptions{Fast: true, ExtensionProtocol: true}
	tests := []struct {
		name string
		in   []byte
		opt  ReaderOptions
		want error
	}{
		{"length over limit", u32(testParams.maxMessageLength() + 1), both, ErrMessageTooLarge},
		{"length 4 GiB", u32(0xffffffff), both, ErrMessageTooLarge},
		{"choke with payload", frame(Choke, 0), both, ErrMalformed},
		{"have short", frame(Have, 0, 0, 1), both, ErrMalformed},
		{"have out of range", frame(Have, u32(10)...), both, ErrOutOfRange},
		{"request long", frame(Request, u32(0, 0)...), both, ErrMalformed},
		{"request over block size", frame(Request, u32(0, 0, BlockSize+1)...), both, ErrBlockTooLarge},
		{"request empty", frame(Request, u32(0, 0, 0)...), both, ErrMalformed},
		{"request past piece end", frame(Request, u32(0, 64<<10-100, 200)...), both, ErrOutOfRange},
		{"request past short last piece", frame(Request, u32(9, 900, 200)...), both, ErrOutOfRange},
		{"request begin overflow", frame(Request, u32(0, 0xffffff00, 0x200)...), both, ErrOutOfRange},
		{"request bad piece", frame(Request, u32(10, 0, 1)...), both, ErrOutOfRange},
		{"cancel bad piece", frame(Cancel, u32(1<<31, 0, 1)...), both, ErrOutOfRange},
		{"reject past end", frame(RejectRequest, u32(9, 1000, 1)...), both, ErrOutOfRange},
		{"piece short header", frame(Piece, 0, 0, 0, 0, 0), both, ErrMalformed},
		{"piece empty block", frame(Piece, u32(0, 0)...), both, ErrMalformed},
		{"piece over block size", frame(Piece, append(u32(0, 0), make([]byte, BlockSize+1)...)...), both, ErrBlockTooLarge},
		{"piece past end", frame(Piece, append(u32(9, 999), 1, 2)...), both, ErrOutOfRange},
		{"bitfield short", frame(Bitfield, 0xff), both, ErrMalformed},
		{"bitfield long", frame(Bitfield, 0xff, 0xc0, 0), both, ErrMalformed},
		{"bitfield spare bit", frame(Bitfield, 0xff, 0xe0), both, ErrMalformed},
		{"bitfield last spare bit", frame(Bitfield, 0x00, 0x01), both, ErrMalformed},
		{"have all without fast", frame(HaveAll), ReaderOptions{ExtensionProtocol: true}, ErrNotNegotiated},
		{"reject without fast", frame(RejectRequest, u32(0, 0, 1)...), ReaderOptions{}, ErrNotNegotiated},
		{"extended without BEP 10", frame(Extended, 0, 'd', 'e'), ReaderOptions{Fast: true}, ErrNotNegotiated},
		{"extended without id", frame(Extended), both, ErrMalformed},
		{"port short", frame(Port, 1), both, ErrMalformed},
		{"suggest out of range", frame(Suggest, u32(10)...), both, ErrOutOfRange},
		{"allowed fast out of range", frame(AllowedFast, u32(11)...), both, ErrOutOfRange},
	}
	for _, tt := range tests {
		r := NewReader(bytes.NewReader(tt.in), testParams, tt.opt)
		var err error
		for err == nil {
			_, err = r.ReadMessage()
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// A body cut short is an unexpected EOF, not a clean end of stream.
func TestReaderTruncated(t *testing.T) {
	full := frame(Have, u32(1)...)
	for cut := 1; cut < len(full); cut++ {
		r := NewReader(bytes.NewReader(full[:cut]), testParams, ReaderOptions{})
		_, err := r.ReadMessage()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}

// The length limit grows with the bitfield for torrents of many pieces.
func TestMaxMessageLengthFitsBitfield(t *testing.T) {
	p := Params{NumPieces: MaxPieces, PieceLength: 16 << 10, Length: MaxPieces * (16 << 10)}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	bits := bytes.Repeat([]byte{0xff}, p.BitfieldLen())
	in, err := AppendMessage(nil, Message{ID: Bitfield, Payload: bits})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewReader(bytes.NewReader(in), p, ReaderOptions{}).ReadMessage()
	if err != nil || len(m.Payload) != len(bits) {
		t.Fatalf("full bitfield of %d pieces: %v", MaxPieces, err)
	}
}

func TestWriterRejects(t *testing.T) {
	w := NewWriter(io.Discard)
	for _, m := range []Message{
		{ID: Request, Length: 0},
		{ID: Request, Length: BlockSize + 1},
		{ID: Cancel, Length: BlockSize * 2},
		{ID: RejectRequest},
		{ID: Piece, Payload: nil},
		{ID: Piece, Payload: make([]byte, BlockSize+1)},
		{ID: Extended, Payload: make([]byte, MaxExtendedPayload+1)},
		{ID: Bitfield, Payload: make([]byte, MaxPieces/8+1)},
		{ID: MessageID(99), Payload: make([]byte, MaxUnknownPayload+1)},
	} {
		if err := w.WriteMessage(m); err == nil {
			t.Errorf("WriteMessage(%v) accepted", m)
		}
		if w.Buffered() != 0 {
			t.Fatalf("WriteMessage(%v) buffered bytes on error", m)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	if err := testParams.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Params{
		{},
		{NumPieces: 2, PieceLength: 10, Length: 30},
		{NumPieces: 3, PieceLength: 10, Length: 20},
		{NumPieces: MaxPieces + 1, PieceLength: 1, Length: MaxPieces + 1},
		{NumPieces: 1, PieceLength: 0, Length: 1},
	} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("Validate(%+v) = %v", p, err)
		}
	}
	if s := testParams.PieceSize(9); s != 1000 {
		t.Errorf("last piece size %d", s)
	}
	if s := testParams.PieceSize(10); s != 0 {
		t.Errorf("piece 10 size %d", s)
	}
}

func TestDecodeMessage(t *testing.T) {
	m, err := DecodeMessage([]byte{byte(Have), 0, 0, 0, 2}, testParams)
	if err != nil || m.ID != Have || m.Index != 2 {
		t.Fatalf("DecodeMessage(have 2) = %v, %v", m, err)
	}
	if m, err := DecodeMessage(nil, testParams); err != nil || !m.KeepAlive {
		t.Fatalf("DecodeMessage(empty) = %v, %v", m, err)
	}
	if _, err := DecodeMessage(make([]byte, testParams.maxMessageLength()+1), testParams); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized body: %v", err)
	}
}

// The Reader reuses one buffer: reading a run of piece messages allocates nothing per message.
func TestReaderReusesBuffer(t *testing.T) {
	var stream []byte
	for i := range 200 {
		var err error
		stream, err = AppendMessage(stream, Message{ID: Piece, Index: uint32(i % 9), Payload: make([]byte, BlockSize)})
		if err != nil {
			t.Fatal(err)
		}
	}
	br := bytes.NewReader(stream)
	r := NewReader(br, testParams, ReaderOptions{})
	if _, err := r.ReadMessage(); err != nil { // warm up: allocates the buffer once
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("%.1f allocations per message", allocs)
	}
}

func TestMessageString(t *testing.T) {
	for _, m := range allMessages() {
		if m.String() == "" {
			t.Errorf("empty String for %#v", m)
		}
	}
	if s := (Message{ID: Request, Index: 1, Begin: 2, Length: 3}).String(); s != "request(1, 2, 3)" {
		t.Errorf("String = %q", s)
	}
}

func BenchmarkReadPiece(b *testing.B) {
	one, err := AppendMessage(nil, Message{ID: Piece, Index: 1, Payload: make([]byte, BlockSize)})
	if err != nil {
		b.Fatal(err)
	}
	stream := bytes.Repeat(one, 64)
	br := bytes.NewReader(stream)
	r := NewReader(br, testParams, ReaderOptions{})
	b.SetBytes(int64(len(one)))
	for i := 0; b.Loop(); i++ {
		if i%64 == 0 {
			br.Reset(stream)
		}
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
