package tracker

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/bencode"
)

// Limits of the announce API.
const (
	// DefaultNumWant is how many peers an announce gets when it does not ask.
	DefaultNumWant = 50
	// MaxNumWant bounds numwant.
	MaxNumWant = 200
	// maxOriginsPerResponse bounds how many origins one response offers, so origins stay a
	// fallback and a seed, not everybody's first hop.
	maxOriginsPerResponse = 2
	// maxQueryLength bounds an announce query string.
	maxQueryLength = 4096
)

// Events of BEP 3.
const (
	EventNone      = ""
	EventStarted   = "started"
	EventCompleted = "completed"
	EventStopped   = "stopped"
)

// AnnounceRequest is a parsed announce. IP comes from the connection, never from the query.
type AnnounceRequest struct {
	InfoHash   core.InfoHash
	PeerID     core.PeerID
	Port       uint16
	Uploaded   int64
	Downloaded int64
	Left       int64
	Event      string
	Compact    bool
	NumWant    int
	Origin     bool // Docket extension: origin=1 marks a Docket origin seeding every blob it holds
}

// ParseAnnounce parses an announce query (BEP 3, with compact of BEP 23 and Docket's origin
// flag). info_hash and peer_id are 20 raw bytes, percent-encoded.
func ParseAnnounce(rawQuery string) (AnnounceRequest, error) {
	var r AnnounceRequest
	if len(rawQuery) > maxQueryLength {
		return r, fmt.Errorf("%w: query longer than %d bytes", ErrBadAnnounce, maxQueryLength)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return r, fmt.Errorf("%w: %v", ErrBadAnnounce, err)
	}
	one := func(key string) (string, bool) {
		v, ok := q[key]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	ih, ok := one("info_hash")
	if !ok || len(ih) != len(r.InfoHash) {
		return r, fmt.Errorf("%w: info_hash must be 20 bytes", ErrBadAnnounce)
	}
	copy(r.InfoHash[:], ih)
	id, ok := one("peer_id")
	if !ok || len(id) != len(r.PeerID) {
		return r, fmt.Errorf("%w: peer_id must be 20 bytes", ErrBadAnnounce)
	}
	copy(r.PeerID[:], id)
	ps, _ := one("port")
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return r, fmt.Errorf("%w: port %q", ErrBadAnnounce, ps)
	}
	r.Port = uint16(port)
	for _, f := range []struct {
		key string
		dst *int64
	}{{"uploaded", &r.Uploaded}, {"downloaded", &r.Downloaded}, {"left", &r.Left}} {
		s, ok := one(f.key)
		if !ok {
			if f.key == "left" {
				return r, fmt.Errorf("%w: left is required", ErrBadAnnounce)
			}
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return r, fmt.Errorf("%w: %s %q", ErrBadAnnounce, f.key, s)
		}
		*f.dst = v
	}
	ev, _ := one("event")
	switch ev {
	case EventNone, EventStarted, EventCompleted, EventStopped:
		r.Event = ev
	case "empty", "paused":
		r.Event = EventNone
	default:
		return r, fmt.Errorf("%w: event %q", ErrBadAnnounce, ev)
	}
	c, _ := one("compact")
	r.Compact = c != "0"
	r.NumWant = DefaultNumWant
	if s, ok := one("numwant"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return r, fmt.Errorf("%w: numwant %q", ErrBadAnnounce, s)
		}
		r.NumWant = min(n, MaxNumWant)
	}
	o, _ := one("origin")
	r.Origin = o == "1"
	return r, nil
}

// choosePeers applies the hand-out policy to a random sample: at most maxOriginsPerResponse
// origins, placed at random positions among the others, n peers in all. Complete and
// incomplete peers mix as the shuffled sample has them.
func choosePeers(sample []Peer, n int) []Peer {
	out := make([]Peer, 0, min(n, len(sample)))
	var origins []Peer
	for _, p := range sample {
		if p.Origin {
			origins = append(origins, p)
			continue
		}
		if len(out) < n {
			out = append(out, p)
		}
	}
	for i := 0; i < len(origins) && i < maxOriginsPerResponse; i++ {
		if len(out) >= n {
			// Keep a place for one origin even in a full list: it always has the blob.
			if i > 0 || n == 0 {
				break
			}
			out = out[:n-1]
		}
		pos := rand.IntN(len(out) + 1)
		out = append(out, Peer{})
		copy(out[pos+1:], out[pos:])
		out[pos] = origins[i]
	}
	return out
}

// encodeResponse builds the bencoded announce response.
func encodeResponse(interval int64, peers []Peer, complete, incomplete int, compact bool) ([]byte, error) {
	var peerValue bencode.Value
	if compact {
		var v4, v6 []byte
		for _, p := range peers {
			a := p.Addr.Addr().Unmap()
			port := []byte{byte(p.Addr.Port() >> 8), byte(p.Addr.Port())}
			if a.Is4() {
				b := a.As4()
				v4 = append(append(v4, b[:]...), port...)
			} else {
				b := a.As16()
				v6 = append(append(v6, b[:]...), port...)
			}
		}
		peerValue = bencode.Bytes(v4)
		entries := []bencode.Entry{
			{Key: "complete", Value: bencode.Int(int64(complete))},
			{Key: "incomplete", Value: bencode.Int(int64(incomplete))},
			{Key: "interval", Value: bencode.Int(interval)},
			{Key: "min interval", Value: bencode.Int(interval)},
			{Key: "peers", Value: peerValue},
		}
		if len(v6) > 0 {
			entries = append(entries, bencode.Entry{Key: "peers6", Value: bencode.Bytes(v6)})
		}
		return bencode.Marshal(bencode.Dict(entries...))
	}
	list := make([]bencode.Value, 0, len(peers))
	for _, p := range peers {
		list = append(list, bencode.Dict(
			bencode.Entry{Key: "ip", Value: bencode.String(p.Addr.Addr().Unmap().String())},
			bencode.Entry{Key: "peer id", Value: bencode.Bytes(p.ID[:])},
			bencode.Entry{Key: "port", Value: bencode.Int(int64(p.Addr.Port()))},
		))
	}
	return bencode.Marshal(bencode.Dict(
		bencode.Entry{Key: "complete", Value: bencode.Int(int64(complete))},
		bencode.Entry{Key: "incomplete", Value: bencode.Int(int64(incomplete))},
		bencode.Entry{Key: "interval", Value: bencode.Int(interval)},
		bencode.Entry{Key: "min interval", Value: bencode.Int(interval)},
		bencode.Entry{Key: "peers", Value: bencode.List(list...)},
	))
}

func encodeFailure(reason string) []byte {
	b, _ := bencode.Marshal(bencode.Dict(bencode.Entry{Key: "failure reason", Value: bencode.String(reason)}))
	return b
}

// observedAddr returns the address of the connection with the announced port.
func observedAddr(remoteAddr string, port uint16) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: remote address %q", ErrBadAnnounce, remoteAddr)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), port), nil
}
