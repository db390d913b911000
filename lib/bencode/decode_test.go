package bencode

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		in   string
		want Value
	}{
		{"i0e", Int(0)},
		{"i42e", Int(42)},
		{"i-42e", Int(-42)},
		{"i9223372036854775807e", Int(math.MaxInt64)},
		{"i-9223372036854775808e", Int(math.MinInt64)},
		{"0:", String("")},
		{"4:spam", String("spam")},
		{"3:\x00\xff\x01", Bytes([]byte{0, 0xff, 1})},
		{"le", List()},
		{"l4:spami7ee", List(String("spam"), Int(7))},
		{"de", Dict()},
		{"d3:cow3:moo4:spam4:eggse", Dict(Entry{"cow", String("moo")}, Entry{"spam", String("eggs")})},
		{"d4:spaml1:a1:bee", Dict(Entry{"spam", List(String("a"), String("b"))})},
		{"d0:i1e1:ai2ee", Dict(Entry{"", Int(1)}, Entry{"a", Int(2)})},
		{"lllleeee", List(List(List(List())))},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%q): %v", tt.in, err)
			continue
		}
		if !Equal(got, tt.want) {
			t.Errorf("Decode(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if string(got.Raw()) != tt.in {
			t.Errorf("Decode(%q).Raw() = %q", tt.in, got.Raw())
		}
		enc, err := Marshal(got)
		if err != nil {
			t.Errorf("Marshal(Decode(%q)): %v", tt.in, err)
		} else if string(enc) != tt.in {
			t.Errorf("Marshal(Decode(%q)) = %q", tt.in, enc)
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrTruncated},
		{"i", ErrTruncated},
		{"i12", ErrTruncated},
		{"ie", ErrSyntax},
		{"i-e", ErrSyntax},
		{"i--1e", ErrSyntax},
		{"i1.5e", ErrSyntax},
		{"i+1e", ErrSyntax},
		{"i-0e", ErrNonCanonical},
		{"i00e", ErrNonCanonical},
		{"i012e", ErrNonCanonical},
		{"i-012e", ErrNonCanonical},
		{"i9223372036854775808e", ErrLimit},
		{"i-9223372036854775809e", ErrLimit},
		{"i99999999999999999999999e", ErrLimit},
		{"5:abc", ErrTruncated},
		{"5", ErrTruncated},
		{"05:hello", ErrNonCanonical},
		{"00:", ErrNonCanonical},
		{"3x:abc", ErrSyntax},
		{"99999999999999999999999:", ErrLimit},
		{"-1:a", ErrSyntax},
		{"l", ErrTruncated},
		{"li1e", ErrTruncated},
		{"d", ErrTruncated},
		{"d1:a", ErrTruncated},
		{"di1ei2ee", ErrSyntax},
		{"dlei2ee", ErrSyntax},
		{"d1:bi1e1:ai2ee", ErrNonCanonical},
		{"d1:ai1e1:ai2ee", ErrNonCanonical},
		{"x", ErrSyntax},
		{"e", ErrSyntax},
		{"i1ei2e", ErrTrailingData},
		{"lee", ErrTrailingData},
		{"4:spam ", ErrTrailingData},
	}
	for _, tt := range tests {
		v, err := Decode([]byte(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("Decode(%q) = %v, %v; want error %v", tt.in, v, err, tt.want)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	deep := strings.Repeat("l", 10) + strings.Repeat("e", 10)
	d := Decoder{Limits: Limits{MaxDepth: 10}}
	if _, err := d.Decode([]byte(deep)); err != nil {
		t.Fatalf("depth 10 at limit 10: %v", err)
	}
	d.Limits.MaxDepth = 9
	if _, err := d.Decode([]byte(deep)); !errors.Is(err, ErrLimit) {
		t.Fatalf("depth 10 at limit 9: %v, want ErrLimit", err)
	}
	// The default depth protects the stack from a long run of 'l'.
	if _, err := Decode(bytes.Repeat([]byte("l"), 1<<20)); !errors.Is(err, ErrLimit) {
		t.Fatalf("1 Mi nested lists: %v, want ErrLimit", err)
	}

	d = Decoder{Limits: Limits{MaxStringLength: 4}}
	if _, err := d.Decode([]byte("4:spam")); err != nil {
		t.Fatalf("4-byte string at limit 4: %v", err)
	}
	if _, err := d.Decode([]byte("5:spams")); !errors.Is(err, ErrLimit) {
		t.Fatalf("5-byte string at limit 4: %v, want ErrLimit", err)
	}

	d = Decoder{Limits: Limits{MaxValues: 3}}
	if _, err := d.Decode([]byte("li1ei2ee")); err != nil {
		t.Fatalf("3 values at limit 3: %v", err)
	}
	if _, err := d.Decode([]byte("li1ei2ei3ee")); !errors.Is(err, ErrLimit) {
		t.Fatalf("4 values at limit 3: %v, want ErrLimit", err)
	}
	// Dictionary keys count as values.
	if _, err := d.Decode([]byte("d1:ai1e1:bi2ee")); !errors.Is(err, ErrLimit) {
		t.Fatalf("dict of 2 entries at limit 3: %v, want ErrLimit", err)
	}
}

func TestAllowUnsortedKeys(t *testing.T) {
	in := []byte("d1:bi2e1:ai1ee")
	v, err := Decoder{AllowUnsortedKeys: true}.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(v, Dict(Entry{"a", Int(1)}, Entry{"b", Int(2)})) {
		t.Fatalf("got %v", v)
	}
	if !bytes.Equal(v.Raw(), in) {
		t.Fatalf("Raw = %q, want the bytes as received", v.Raw())
	}
	if i, err := v.GetInt("a"); err != nil || i != 1 {
		t.Fatalf("GetInt(a) = %d, %v", i, err)
	}
	for _, dup := range []string{"d1:ai1e1:bi2e1:ai3ee", "d1:bi1e1:ai2e1:bi3ee"} {
		if _, err := (Decoder{AllowUnsortedKeys: true}).Decode([]byte(dup)); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("Decode(%q) with unsorted keys allowed: %v, want ErrNonCanonical", dup, err)
		}
	}
}

func TestDecodePrefix(t *testing.T) {
	in := []byte("d8:msg_typei1e5:piecei0eeRAWDATA")
	v, n, err := Decoder{}.DecodePrefix(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(in[n:]) != "RAWDATA" {
		t.Fatalf("rest = %q", in[n:])
	}
	if typ, err := v.GetInt("msg_type"); err != nil || typ != 1 {
		t.Fatalf("msg_type = %d, %v", typ, err)
	}
}

func TestRawOfSubValue(t *testing.T) {
	info := "d6:lengthi5e4:name5:hello12:piece lengthi16384ee"
	in := []byte("d8:announce3:url4:info" + info + "e")
	v, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	iv, err := v.GetDict("info")
	if err != nil {
		t.Fatal(err)
	}
	if string(iv.Raw()) != info {
		t.Fatalf("info Raw = %q, want %q", iv.Raw(), info)
	}
	// Raw is capped: appending to it never overwrites the input.
	_ = append(iv.Raw(), 'X')
	if string(in[len(in)-1:]) != "e" {
		t.Fatal("append to Raw overwrote the input")
	}
}

func TestAccessors(t *testing.T) {
	v := Dict(
		Entry{"i", Int(3)},
		Entry{"s", String("str")},
		Entry{"l", List(Int(1))},
		Entry{"d", Dict(Entry{"x", Int(0)})},
	)
	if i, err := v.GetInt("i"); err != nil || i != 3 {
		t.Errorf("GetInt = %d, %v", i, err)
	}
	if s, err := v.GetString("s"); err != nil || s != "str" {
		t.Errorf("GetString = %q, %v", s, err)
	}
	if l, err := v.GetList("l"); err != nil || len(l) != 1 {
		t.Errorf("GetList = %v, %v", l, err)
	}
	if d, err := v.GetDict("d"); err != nil || d.Kind() != KindDict {
		t.Errorf("GetDict = %v, %v", d, err)
	}
	if _, err := v.GetInt("s"); !errors.Is(err, ErrType) {
		t.Errorf("GetInt on a string: %v, want ErrType", err)
	}
	if _, err := v.GetBytes("i"); !errors.Is(err, ErrType) {
		t.Errorf("GetBytes on an int: %v, want ErrType", err)
	}
	if _, err := v.GetList("d"); !errors.Is(err, ErrType) {
		t.Errorf("GetList on a dict: %v, want ErrType", err)
	}
	if _, err := v.GetDict("l"); !errors.Is(err, ErrType) {
		t.Errorf("GetDict on a list: %v, want ErrType", err)
	}
	if _, err := v.GetInt("missing"); !errors.Is(err, ErrMissingKey) {
		t.Errorf("GetInt(missing): %v, want ErrMissingKey", err)
	}
	if _, err := Int(1).Lookup("x"); !errors.Is(err, ErrType) {
		t.Errorf("Lookup on an int: %v, want ErrType", err)
	}
	if _, ok := Int(1).Get("x"); ok {
		t.Error("Get on an int found a key")
	}
	if got := v.String(); got != `{"d":{"x":0} "i":3 "l":[1] "s":"str"}` {
		t.Errorf("String() = %s", got)
	}
}
