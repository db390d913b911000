package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
)

// handshakeTimeout bounds every handshake in these tests.
const handshakeTimeout = 5 * time.Second

func TestHandshakeEncoding(t *testing.T) {
	h := Handshake{Reserved: DefaultReserved(), InfoHash: core.InfoHash{1, 2, 3}, PeerID: core.NewPeerID()}
	b := AppendHandshake(nil, h)
	if len(b) != HandshakeLen || b[0] != 19 || string(b[1:20]) != "BitTorrent protocol" {
		t.Fatalf("encoding %q", b)
	}
	// BEP 10 sets bit 0x10 of reserved byte 5; BEP 6 sets bit 0x04 of byte 7.
	if b[20+5] != 0x10 || b[20+7] != 0x04 {
		t.Fatalf("reserved bytes %x", b[20:28])
	}
	got, err := DecodeHandshake(b)
	if err != nil || got != h {
		t.Fatalf("DecodeHandshake = %+v, %v", got, err)
	}
	if !got.Reserved.Extended() || !got.Reserved.Fast() {
		t.Fatal("extension bits lost")
	}
	if (Reserved{}).Extended() || (Reserved{}).Fast() {
		t.Fatal("zero Reserved announces extensions")
	}

	bad := append([]byte{}, b...)
	bad[5] = 'X'
	if _, err := DecodeHandshake(bad); !errors.Is(err, ErrHandshake) {
		t.Errorf("wrong protocol string: %v", err)
	}
	bad = append([]byte{}, b...)
	bad[0] = 18
	if _, err := DecodeHandshake(bad); !errors.Is(err, ErrHandshake) {
		t.Errorf("wrong protocol length: %v", err)
	}
	if _, err := ReadHandshake(bytes.NewReader(b[:40])); !errors.Is(err, ErrHandshake) {
		t.Errorf("truncated handshake: %v", err)
	}
	if _, err := ReadHandshake(bytes.NewReader(nil)); !errors.Is(err, io.EOF) {
		t.Errorf("no handshake: %v", err)
	}
}

// tcpPair returns the two ends of a loopback TCP connection; both are closed at the test's end.
func tcpPair(t *testing.T) (dialed, accepted net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	dialed, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialed.Close() })
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return dialed, r.c
}

type handshakeResult struct {
	c   *Conn
	err error
}

// handshakePair runs Respond on one end of a TCP pair and Initiate on the other.
func handshakePair(t *testing.T, local Handshake, p Params, respID core.PeerID, respReserved Reserved, lookup Lookup) (init, resp handshakeResult) {
	t.Helper()
	a, b := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	ch := make(chan handshakeResult, 1)
	go func() {
		c, err := Respond(ctx, b, respReserved, respID, lookup)
		if err != nil {
			b.Close() // as a caller must: unblocks the initiator
		}
		ch <- handshakeResult{c, err}
	}()
	c, err := Initiate(ctx, a, local, p)
	if err != nil {
		a.Close()
	}
	return handshakeResult{c, err}, <-ch
}

func TestInitiateRespond(t *testing.T) {
	ih := core.InfoHash{9}
	local := Handshake{Reserved: DefaultReserved(), InfoHash: ih, PeerID: core.NewPeerID()}
	remoteID := core.NewPeerID()
	lookup := func(h core.InfoHash) (Params, error) {
		if h != ih {
			return Params{}, ErrUnknownTorrent
		}
		return testParams, nil
	}
	init, resp := handshakePair(t, local, testParams, remoteID, DefaultReserved(), lookup)
	if init.err != nil || resp.err != nil {
		t.Fatalf("Initiate: %v; Respond: %v", init.err, resp.err)
	}
	if init.c.Remote.PeerID != remoteID || resp.c.Remote.PeerID != local.PeerID || resp.c.Local.InfoHash != ih {
		t.Fatal("handshakes not exchanged")
	}
	if !init.c.Fast || !init.c.ExtensionProtocol || !resp.c.Fast || !resp.c.ExtensionProtocol {
		t.Fatal("extensions not negotiated")
	}

	// Messages flow both ways over the established connection, concurrently.
	block := bytes.Repeat([]byte("docket!!"), BlockSize/8)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		w := init.c.W
		for _, m := range []Message{
			{ID: HaveNone}, {ID: Interested},
			{ID: Request, Index: 0, Begin: 0, Length: BlockSize},
			{ID: Request, Index: 9, Begin: 0, Length: 1000},
		} {
			if err := w.WriteMessage(m); err != nil {
				errs <- err
				return
			}
		}
		errs <- w.Flush()
	})
	wg.Go(func() {
		w := resp.c.W
		for _, m := range []Message{
			{ID: HaveAll}, {ID: Unchoke},
			{ID: Piece, Index: 0, Begin: 0, Payload: block},
			{ID: Piece, Index: 9, Begin: 0, Payload: block[:1000]},
		} {
			if err := w.WriteMessage(m); err != nil {
				errs <- err
				return
			}
		}
		errs <- w.Flush()
	})
	wantInit := []MessageID{HaveAll, Unchoke, Piece, Piece}
	for i, want := range wantInit {
		m, err := init.c.R.ReadMessage()
		if err != nil || m.ID != want {
			t.Fatalf("initiator message %d: %v, %v; want %s", i, m, err, want)
		}
		if m.ID == Piece && !bytes.Equal(m.Payload, block[:len(m.Payload)]) {
			t.Fatalf("piece %d: corrupted block", m.Index)
		}
	}
	wantResp := []MessageID{HaveNone, Interested, Request, Request}
	for i, want := range wantResp {
		m, err := resp.c.R.ReadMessage()
		if err != nil || m.ID != want {
			t.Fatalf("responder message %d: %v, %v; want %s", i, m, err, want)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestHandshakeNegotiation(t *testing.T) {
	ih := core.InfoHash{7}
	local := Handshake{Reserved: DefaultReserved(), InfoHash: ih, PeerID: core.NewPeerID()}
	lookup := func(core.InfoHash) (Params, error) { return testParams, nil }
	// A peer without extension bits (a plain BEP 3 client): neither side may use them.
	init, resp := handshakePair(t, local, testParams, core.NewPeerID(), Reserved{}, lookup)
	if init.err != nil || resp.err != nil {
		t.Fatalf("Initiate: %v; Respond: %v", init.err, resp.err)
	}
	if init.c.Fast || init.c.ExtensionProtocol || resp.c.Fast || resp.c.ExtensionProtocol {
		t.Fatal("extensions negotiated with a peer that did not announce them")
	}
	if err := resp.c.W.WriteMessage(Message{ID: HaveAll}); err != nil {
		t.Fatal(err)
	}
	if err := resp.c.W.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := init.c.R.ReadMessage(); !errors.Is(err, ErrNotNegotiated) {
		t.Fatalf("have-all without BEP 6: %v", err)
	}
}

func TestHandshakeFailures(t *testing.T) {
	ih := core.InfoHash{5}
	id := core.NewPeerID()
	local := Handshake{Reserved: DefaultReserved(), InfoHash: ih, PeerID: id}
	known := func(core.InfoHash) (Params, error) { return testParams, nil }

	init, resp := handshakePair(t, local, testParams, core.NewPeerID(), DefaultReserved(),
		func(h core.InfoHash) (Params, error) { return Params{}, fmt.Errorf("%w: %s", ErrUnknownTorrent, h) })
	if !errors.Is(resp.err, ErrUnknownTorrent) || init.err == nil {
		t.Errorf("unknown torrent: Respond %v, Initiate %v", resp.err, init.err)
	}

	init, resp = handshakePair(t, local, testParams, id, DefaultReserved(), known)
	if !errors.Is(resp.err, ErrSelfConnection) || init.err == nil {
		t.Errorf("self connection: Respond %v, Initiate %v", resp.err, init.err)
	}

	init, resp = handshakePair(t, local, testParams, core.NewPeerID(), DefaultReserved(),
		func(core.InfoHash) (Params, error) { return Params{NumPieces: 1}, nil })
	if !errors.Is(resp.err, ErrInvalidParams) || init.err == nil {
		t.Errorf("invalid params: Respond %v, Initiate %v", resp.err, init.err)
	}

	a, _ := tcpPair(t)
	if _, err := Initiate(context.Background(), a, local, Params{}); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("Initiate with invalid params: %v", err)
	}

	// A responder that answers for another torrent.
	a, b := tcpPair(t)
	go func() {
		if _, err := ReadHandshake(b); err == nil {
			_ = WriteHandshake(b, Handshake{InfoHash: core.InfoHash{6}, PeerID: core.NewPeerID()})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if _, err := Initiate(ctx, a, local, testParams); !errors.Is(err, ErrInfoHashMismatch) {
		t.Errorf("wrong info hash: %v", err)
	}
}

// A peer that never answers cannot hold a handshake past its context, whether the context
// times out or is cancelled.
func TestHandshakeContext(t *testing.T) {
	local := Handshake{InfoHash: core.InfoHash{1}, PeerID: core.NewPeerID()}

	a, _ := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Initiate(ctx, a, local, testParams)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent responder, deadline: %v", err)
	}
	if d := time.Since(start); d > handshakeTimeout {
		t.Errorf("Initiate returned after %v", d)
	}

	_, b := tcpPair(t)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = Respond(ctx, b, DefaultReserved(), core.NewPeerID(),
		func(core.InfoHash) (Params, error) { return testParams, nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("silent initiator, cancel: %v", err)
	}
}

// After a successful handshake BindContext's deadline is cleared: the connection stays usable
// for slow reads.
func TestBindContextClears(t *testing.T) {
	a, b := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	stop := BindContext(ctx, a)
	if !stop() {
		t.Fatal("stop reported an ended context")
	}
	cancel()
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = b.Write([]byte("x"))
	}()
	buf := make([]byte, 1)
	if _, err := a.Read(buf); err != nil {
		t.Fatalf("read after stop: %v", err)
	}
}

// BenchmarkLoopbackPieces measures piece throughput through Writer, loopback TCP and Reader.
func BenchmarkLoopbackPieces(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	dst, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	src, ok := <-accepted
	if !ok {
		b.Fatal("accept failed")
	}
	defer src.Close()
	block := make([]byte, BlockSize)
	const batch = 16
	b.SetBytes(BlockSize * batch)
	errc := make(chan error, 1)
	n := b.N
	go func() {
		w := NewWriter(src)
		for i := range n * batch {
			if err := w.WriteMessage(Message{ID: Piece, Index: uint32(i % 9), Payload: block}); err != nil {
				errc <- err
				return
			}
			if i%batch == batch-1 {
				if err := w.Flush(); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- nil
	}()
	r := NewReader(dst, testParams, ReaderOptions{})
	b.ResetTimer()
	for range n * batch {
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
