// Package membershiptest serves DNS records a test controls, for the membership resolver and
// its users.
package membershiptest

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is a tiny authoritative DNS server on 127.0.0.1 (UDP) whose records the test
// changes while it runs.
type DNS struct {
	conn net.PacketConn
	mu   sync.Mutex
	a    map[string][]netip.Addr // name → A and AAAA addresses
	srv  map[string][]dnsmessage.SRVResource
}

// StartDNS starts a server that the test stops when it ends.
func StartDNS(t *testing.T) *DNS {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &DNS{conn: conn, a: map[string][]netip.Addr{}, srv: map[string][]dnsmessage.SRVResource{}}
	done := make(chan struct{})
	go func() { defer close(done); s.serve() }()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// SetA sets name's A and AAAA records (fully qualified, with the final dot); none removes it.
func (s *DNS) SetA(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.a, name) // no addresses: the name does not exist
	for _, a := range addrs {
		s.a[name] = append(s.a[name], netip.MustParseAddr(a))
	}
}

func (s *DNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp, err := s.answer(buf[:n]); err == nil {
			_, _ = s.conn.WriteTo(resp, from)
		}
	}
}

func (s *DNS) answer(req []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := q.Name.String()
	s.mu.Lock()
	addrs, srvs := s.a[name], s.srv[name]
	s.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}
	if addrs == nil && srvs == nil {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			err = b.AResource(hdr, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			err = b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, err
		}
	}
	if q.Type == dnsmessage.TypeSRV {
		for _, r := range srvs {
			if err := b.SRVResource(hdr, r); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// Resolver sends every query to s.
func (s *DNS) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

// SetSRV sets name's SRV records.
func (s *DNS) SetSRV(name string, rs ...dnsmessage.SRVResource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv[name] = rs
}
