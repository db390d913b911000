package wire

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/docket-p2p/docket/core"
)

func TestExtendedHandshakeRoundTrip(t *testing.T) {
	d := core.SHA256Digest([]byte("blob"))
	h := ExtendedHandshake{
		M:            map[string]uint8{"ut_metadata": 3, "docket": 7, "ut_pex": 0},
		V:            "Docket 0.1",
		Port:         16881,
		Reqq:         MaxRequestQueue,
		YourIP:       net.IPv4(127, 0, 0, 1),
		MetadataSize: 1234,
		Origin:       true,
		Digest:       d,
	}
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalExtendedHandshake(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.V != h.V || got.Port != h.Port || got.Reqq != h.Reqq || !got.YourIP.Equal(h.YourIP) ||
		got.MetadataSize != h.MetadataSize || !got.Origin || got.Digest != d || len(got.M) != 3 {
		t.Fatalf("round trip: %+v", got)
	}
	if id, ok := got.ID("docket"); !ok || id != 7 {
		t.Errorf("ID(docket) = %d, %v", id, ok)
	}
	if _, ok := got.ID("ut_pex"); ok {
		t.Error("a disabled extension (id 0) reported as supported")
	}
	if _, ok := got.ID("lt_donthave"); ok {
		t.Error("an absent extension reported as supported")
	}

	// The zero handshake encodes just an empty "m".
	b, err = ExtendedHandshake{}.Marshal()
	if err != nil || string(b) != "d1:mdee" {
		t.Fatalf("zero handshake = %q, %v", b, err)
	}
}

// A stock client's handshake, keys in its own order and with keys Docket does not know.
func TestExtendedHandshakeStockClient(t *testing.T) {
	in := "d1:v12:aria2/1.36.01:md11:ut_metadatai8e6:ut_pexi1ee13:metadata_sizei321e4:reqqi250e" +
		"6:yourip4:\x7f\x00\x00\x0112:complete_agoi-1e1:pi6881e4:ipv44:\x0a\x00\x00\x01e"
	h, err := UnmarshalExtendedHandshake([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if h.V != "aria2/1.36.0" || h.Port != 6881 || h.Reqq != 250 || h.MetadataSize != 321 || h.Origin || !h.Digest.IsZero() {
		t.Fatalf("%+v", h)
	}
	if id, ok := h.ID("ut_metadata"); !ok || id != 8 {
		t.Fatalf("ut_metadata id %d, %v", id, ok)
	}
}

func TestExtendedHandshakeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not bencode":        "hello",
		"list":               "le",
		"m not dict":         "d1:mi1ee",
		"m id too big":       "d1:md1:xi256eee",
		"m id negative":      "d1:md1:xi-1eee",
		"m id string":        "d1:md1:x1:1ee",
		"m name too long":    "d1:md" + "65:" + strings.Repeat("x", 65) + "i1eee",
		"port too big":       "d1:pi65536ee",
		"port string":        "d1:p4:6881e",
		"reqq negative":      "d4:reqqi-1ee",
		"yourip 5 bytes":     "d6:yourip5:abcdee",
		"v not string":       "d1:vi1ee",
		"v too long":         "d1:v257:" + strings.Repeat("v", 257) + "e",
		"origin 2":           "d13:docket_origini2ee",
		"digest bad":         "d13:docket_digest3:abce",
		"digest md5":         "d13:docket_digest36:md5:d41d8cd98f00b204e9800998ecf8427ee",
		"duplicate key":      "d1:pi1e1:pi2ee",
		"too deep":           "d1:xlllllleeeeeee",
		"trailing":           "d1:pi1eex",
		"too many entries m": "d1:md" + manyExtensions(MaxExtensions+1) + "ee",
	} {
		if _, err := UnmarshalExtendedHandshake([]byte(in)); !errors.Is(err, ErrExtendedHandshake) {
			t.Errorf("%s: %v, want ErrExtendedHandshake", name, err)
		}
	}
	if _, err := UnmarshalExtendedHandshake(make([]byte, MaxExtendedPayload+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	for name, h := range map[string]ExtendedHandshake{
		"empty name":    {M: map[string]uint8{"": 1}},
		"long version":  {V: strings.Repeat("v", MaxClientVersionLen+1)},
		"negative reqq": {Reqq: -1},
		"bad ip":        {YourIP: net.IP{1, 2, 3}},
	} {
		if _, err := h.Marshal(); !errors.Is(err, ErrExtendedHandshake) {
			t.Errorf("Marshal %s: %v", name, err)
		}
	}
}

func manyExtensions(n int) string {
	var b strings.Builder
	for i := range n {
		name := string(rune('a'+i/26)) + string(rune('a'+i%26))
		b.WriteString("2:" + name + "i1e")
	}
	return b.String()
}
