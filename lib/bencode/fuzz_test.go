package bencode

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that the decoder never panics and that whatever it accepts is canonical:
// re-encoding a decoded value gives back exactly the input, and Raw covers the whole input.
// Seeds live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"i0e", "i-1e", "4:spam", "le", "de", "d1:ai1e1:bl1:cee",
		"d8:announce3:url4:infod6:lengthi5e4:name5:hello12:piece lengthi16384e6:pieces0:ee",
		"i-0e", "d1:bi1e1:ai2ee", "05:hello", "l",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Decode(in)
		if err != nil {
			// The lenient decoder must reject at least what the strict one rejects for other
			// reasons than key order; it must not panic either.
			_, _ = Decoder{AllowUnsortedKeys: true}.Decode(in)
			return
		}
		if !bytes.Equal(v.Raw(), in) {
			t.Fatalf("Raw = %q, input %q", v.Raw(), in)
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of decoded %q: %v", in, err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("canonical input %q re-encoded as %q", in, out)
		}
		if EncodedLen(v) != len(in) {
			t.Fatalf("EncodedLen = %d, input has %d bytes", EncodedLen(v), len(in))
		}
		lv, err := Decoder{AllowUnsortedKeys: true}.Decode(in)
		if err != nil || !Equal(lv, v) {
			t.Fatalf("lenient decoder disagrees on canonical input %q: %v, %v", in, lv, err)
		}
	})
}
