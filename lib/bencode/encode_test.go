package bencode

import (
	"errors"
	"math"
	"testing"
)

func TestMarshal(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Int(0), "i0e"},
		{Int(-7), "i-7e"},
		{Int(math.MinInt64), "i-9223372036854775808e"},
		{String(""), "0:"},
		{Bytes(nil), "0:"},
		{String("spam"), "4:spam"},
		{List(), "le"},
		{List(Int(1), String("a"), List()), "li1e1:alee"},
		{Dict(), "de"},
		// Dict sorts its entries by key bytes.
		{Dict(Entry{"zeta", Int(1)}, Entry{"alpha", Int(2)}, Entry{"Beta", Int(3)}),
			"d4:Betai3e5:alphai2e4:zetai1ee"},
		{Dict(Entry{"info", Dict(Entry{"piece length", Int(16384)}, Entry{"length", Int(1)})}),
			"d4:infod6:lengthi1e12:piece lengthi16384eee"},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.v)
		if err != nil {
			t.Errorf("Marshal(%v): %v", tt.v, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Marshal(%v) = %q, want %q", tt.v, got, tt.want)
		}
		if n := EncodedLen(tt.v); n != len(got) {
			t.Errorf("EncodedLen(%v) = %d, encoding has %d bytes", tt.v, n, len(got))
		}
		back, err := Decode(got)
		if err != nil {
			t.Errorf("Decode(Marshal(%v)): %v", tt.v, err)
		} else if !Equal(back, tt.v) {
			t.Errorf("Decode(Marshal(%v)) = %v", tt.v, back)
		}
	}
}

func TestMarshalInvalid(t *testing.T) {
	for _, v := range []Value{
		{},
		List(Int(1), Value{}),
		Dict(Entry{"a", Int(1)}, Entry{"a", Int(2)}),
		Dict(Entry{"x", Dict(Entry{"k", Value{}})}),
	} {
		dst := []byte("prefix")
		out, err := Append(dst, v)
		if !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Append(%v) = %q, %v; want ErrInvalidValue", v, out, err)
		}
		if string(out) != "prefix" {
			t.Errorf("Append(%v) changed dst to %q on error", v, out)
		}
	}
}

func TestDecimalLen(t *testing.T) {
	for _, i := range []int64{0, 9, 10, -1, -10, 99, 100, math.MaxInt64, math.MinInt64} {
		b, _ := Marshal(Int(i))
		if got := decimalLen(i); got != len(b)-2 {
			t.Errorf("decimalLen(%d) = %d, want %d", i, got, len(b)-2)
		}
	}
}
