package wire

import (
	"fmt"
	"math"
	"net"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/bencode"
)

// ExtendedHandshakeID is the extended-message id of the BEP 10 handshake.
const ExtendedHandshakeID = 0

// Limits on an extended handshake's fields.
const (
	// MaxExtensions bounds the entries of the "m" dictionary.
	MaxExtensions = 64
	// MaxExtensionNameLen bounds one extension's name in "m".
	MaxExtensionNameLen = 64
	// MaxClientVersionLen bounds "v".
	MaxClientVersionLen = 256
	// maxExtendedValues bounds the bencode values in one extended handshake.
	maxExtendedValues = 1024
	// maxExtendedDepth bounds nesting: the handshake dictionary holds "m" one level down;
	// unknown keys may nest a little further.
	maxExtendedDepth = 4
)

// Keys of the extended handshake. The docket_ keys are Docket's own; stock clients ignore them.
const (
	extKeyM            = "m"
	extKeyV            = "v"
	extKeyP            = "p"
	extKeyReqq         = "reqq"
	extKeyYourIP       = "yourip"
	extKeyMetadataSize = "metadata_size"
	extKeyOrigin       = "docket_origin"
	extKeyDigest       = "docket_digest"
)

// ExtendedHandshake is the BEP 10 handshake dictionary, with Docket's keys. Zero fields are
// left out of the encoding; keys this package does not know are ignored on decoding.
type ExtendedHandshake struct {
	// M maps extension names to the message ids the sender wants to receive them on; id 0
	// means the extension is disabled.
	M map[string]uint8
	// V is the client's name and version ("v").
	V string
	// Port is the sender's listening TCP port ("p"), 0 if not given.
	Port uint16
	// Reqq is how many outstanding requests the sender accepts ("reqq"), 0 if not given.
	Reqq int
	// YourIP is the address the sender sees for the receiver ("yourip"), nil if not given.
	YourIP net.IP
	// MetadataSize is the info dictionary's size for BEP 9 ("metadata_size"), 0 if not given.
	MetadataSize int64
	// Origin is Docket's "I am an origin" flag ("docket_origin": 1): the sender is a seeder
	// of record that holds every blob it announces.
	Origin bool
	// Digest is the blob digest the connection's torrent carries ("docket_digest"); zero if
	// not given.
	Digest core.Digest
}

// ID returns the message id the peer assigned to extension name, and false if the peer does
// not support it or disabled it.
func (h ExtendedHandshake) ID(name string) (uint8, bool) {
	id, ok := h.M[name]
	return id, ok && id != 0
}

// Marshal encodes the handshake dictionary (the payload of an extended message with id
// ExtendedHandshakeID).
func (h ExtendedHandshake) Marshal() ([]byte, error) {
	if len(h.M) > MaxExtensions {
		return nil, fmt.Errorf("%w: %d extensions, limit %d", ErrExtendedHandshake, len(h.M), MaxExtensions)
	}
	ms := make([]bencode.Entry, 0, len(h.M))
	for name, id := range h.M {
		if name == "" || len(name) > MaxExtensionNameLen {
			return nil, fmt.Errorf("%w: extension name %q", ErrExtendedHandshake, name)
		}
		ms = append(ms, bencode.Entry{Key: name, Value: bencode.Int(int64(id))})
	}
	es := []bencode.Entry{{Key: extKeyM, Value: bencode.Dict(ms...)}}
	if h.V != "" {
		if len(h.V) > MaxClientVersionLen {
			return nil, fmt.Errorf("%w: client version of %d bytes", ErrExtendedHandshake, len(h.V))
		}
		es = append(es, bencode.Entry{Key: extKeyV, Value: bencode.String(h.V)})
	}
	if h.Port != 0 {
		es = append(es, bencode.Entry{Key: extKeyP, Value: bencode.Int(int64(h.Port))})
	}
	if h.Reqq != 0 {
		if h.Reqq < 0 {
			return nil, fmt.Errorf("%w: negative reqq %d", ErrExtendedHandshake, h.Reqq)
		}
		es = append(es, bencode.Entry{Key: extKeyReqq, Value: bencode.Int(int64(h.Reqq))})
	}
	if h.YourIP != nil {
		ip := h.YourIP.To4()
		if ip == nil {
			ip = h.YourIP.To16()
		}
		if ip == nil {
			return nil, fmt.Errorf("%w: yourip %v", ErrExtendedHandshake, h.YourIP)
		}
		es = append(es, bencode.Entry{Key: extKeyYourIP, Value: bencode.Bytes(ip)})
	}
	if h.MetadataSize != 0 {
		if h.MetadataSize < 0 {
			return nil, fmt.Errorf("%w: negative metadata_size", ErrExtendedHandshake)
		}
		es = append(es, bencode.Entry{Key: extKeyMetadataSize, Value: bencode.Int(h.MetadataSize)})
	}
	if h.Origin {
		es = append(es, bencode.Entry{Key: extKeyOrigin, Value: bencode.Int(1)})
	}
	if !h.Digest.IsZero() {
		es = append(es, bencode.Entry{Key: extKeyDigest, Value: bencode.String(h.Digest.String())})
	}
	b, err := bencode.Marshal(bencode.Dict(es...))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrExtendedHandshake, err)
	}
	if len(b) > MaxExtendedPayload {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(b), MaxExtendedPayload)
	}
	return b, nil
}

// UnmarshalExtendedHandshake decodes a peer's extended handshake. Stock clients' handshakes
// are accepted with their keys in any order; unknown keys are ignored; a known key of the
// wrong type or out of range is an error (ErrExtendedHandshake).
func UnmarshalExtendedHandshake(b []byte) (ExtendedHandshake, error) {
	var h ExtendedHandshake
	if len(b) > MaxExtendedPayload {
		return h, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(b))
	}
	dec := bencode.Decoder{
		Limits:            bencode.Limits{MaxDepth: maxExtendedDepth, MaxStringLength: MaxExtendedPayload, MaxValues: maxExtendedValues},
		AllowUnsortedKeys: true,
	}
	v, err := dec.Decode(b)
	if err != nil {
		return h, fmt.Errorf("%w: %v", ErrExtendedHandshake, err)
	}
	if v.Kind() != bencode.KindDict {
		return h, fmt.Errorf("%w: a %s, not a dictionary", ErrExtendedHandshake, v.Kind())
	}
	bad := func(key string, format string, args ...any) error {
		return fmt.Errorf("%w: %q: %s", ErrExtendedHandshake, key, fmt.Sprintf(format, args...))
	}
	intIn := func(key string, lo, hi int64) (int64, bool, error) {
		e, ok := v.Get(key)
		if !ok {
			return 0, false, nil
		}
		i, err := e.Int()
		if err != nil {
			return 0, false, bad(key, "%v", err)
		}
		if i < lo || i > hi {
			return 0, false, bad(key, "%d not in [%d, %d]", i, lo, hi)
		}
		return i, true, nil
	}
	if mv, ok := v.Get(extKeyM); ok {
		entries, err := mv.Entries()
		if err != nil {
			return h, bad(extKeyM, "%v", err)
		}
		if len(entries) > MaxExtensions {
			return h, bad(extKeyM, "%d extensions, limit %d", len(entries), MaxExtensions)
		}
		h.M = make(map[string]uint8, len(entries))
		for _, e := range entries {
			if len(e.Key) > MaxExtensionNameLen {
				return h, bad(extKeyM, "extension name of %d bytes", len(e.Key))
			}
			id, err := e.Value.Int()
			if err != nil || id < 0 || id > math.MaxUint8 {
				return h, bad(extKeyM, "extension %q: id %v (%v)", e.Key, id, err)
			}
			h.M[e.Key] = uint8(id)
		}
	}
	if e, ok := v.Get(extKeyV); ok {
		s, err := e.Str()
		if err != nil || len(s) > MaxClientVersionLen {
			return h, bad(extKeyV, "%d bytes (%v)", len(s), err)
		}
		h.V = s
	}
	if p, ok, err := intIn(extKeyP, 0, math.MaxUint16); err != nil {
		return h, err
	} else if ok {
		h.Port = uint16(p)
	}
	if q, ok, err := intIn(extKeyReqq, 0, math.MaxInt32); err != nil {
		return h, err
	} else if ok {
		h.Reqq = int(q)
	}
	if n, ok, err := intIn(extKeyMetadataSize, 0, math.MaxInt32); err != nil {
		return h, err
	} else if ok {
		h.MetadataSize = n
	}
	if e, ok := v.Get(extKeyYourIP); ok {
		ip, err := e.Bytes()
		if err != nil || (len(ip) != net.IPv4len && len(ip) != net.IPv6len) {
			return h, bad(extKeyYourIP, "%d bytes (%v)", len(ip), err)
		}
		// An IPv4-mapped IPv6 address is kept in its 4-byte form, as Marshal sends it.
		h.YourIP = append(net.IP(nil), ip...)
		if v4 := h.YourIP.To4(); v4 != nil {
			h.YourIP = v4
		}
	}
	if o, ok, err := intIn(extKeyOrigin, 0, 1); err != nil {
		return h, err
	} else if ok {
		h.Origin = o == 1
	}
	if e, ok := v.Get(extKeyDigest); ok {
		s, err := e.Str()
		if err != nil {
			return h, bad(extKeyDigest, "%v", err)
		}
		d, err := core.ParseDigest(s)
		if err != nil {
			return h, bad(extKeyDigest, "%v", err)
		}
		h.Digest = d
	}
	return h, nil
}
