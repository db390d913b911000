package bttest

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/wire"
)

// Misbehaviours for FakeAgent's serve: what a bad peer does with the requests it reads.
var (
	// Corrupt answers every request with a block of zeros.
	Corrupt = func(c *wire.Conn) {
		answer(c, func(m wire.Message) wire.Message {
			return wire.Message{ID: wire.Piece, Index: m.Index, Begin: m.Begin, Payload: make([]byte, m.Length)}
		})
	}
	// Lie refuses (BEP 6 reject) every request for the pieces it claimed.
	Lie = func(c *wire.Conn) {
		answer(c, func(m wire.Message) wire.Message {
			return wire.Message{ID: wire.RejectRequest, Index: m.Index, Begin: m.Begin, Length: m.Length}
		})
	}
	// Stall reads requests and answers none.
	Stall = func(c *wire.Conn) { answer(c, nil) }
)

// answer reads c's messages until it ends and writes reply(m) for each request m (nothing
// when reply is nil).
func answer(c *wire.Conn, reply func(wire.Message) wire.Message) {
	for {
		m, err := c.R.ReadMessage()
		if err != nil {
			return
		}
		if m.ID != wire.Request || m.KeepAlive || reply == nil {
			continue
		}
		if c.W.WriteMessage(reply(m)) != nil || c.W.Flush() != nil {
			return
		}
	}
}

// FakeAgent listens on 127.0.0.1 as a peer of m's torrent that says it is a Docket agent
// holding every piece (BEP 10 handshake, have-all, unchoke) and hands each connection to
// serve. It returns its listening address and peer id; its connections end with the test.
func FakeAgent(t testing.TB, m *core.MetaInfo, serve func(c *wire.Conn)) (netip.AddrPort, core.PeerID) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); l.Close(); wg.Wait() })
	eh, err := wire.ExtendedHandshake{V: "Docket"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	id := core.NewPeerID()
	wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				stop := wire.BindContext(ctx, nc)
				defer stop()
				c, err := wire.Respond(ctx, nc, wire.DefaultReserved(), id, func(core.InfoHash) (wire.Params, error) {
					return wire.ParamsFor(m), nil
				})
				if err != nil {
					return
				}
				_ = c.W.WriteMessage(wire.Message{ID: wire.Extended, ExtendedID: wire.ExtendedHandshakeID, Payload: eh})
				_ = c.W.WriteMessage(wire.Message{ID: wire.HaveAll})
				_ = c.W.WriteMessage(wire.Message{ID: wire.Unchoke})
				if c.W.Flush() == nil {
					serve(c)
				}
			})
		}
	})
	return netip.MustParseAddrPort(l.Addr().String()), id
}
