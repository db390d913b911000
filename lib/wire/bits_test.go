package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestBits(t *testing.T) {
	s := NewBits(10)
	if s.Len() != 10 || s.Count() != 0 || s.Complete() || s.Has(0) || s.Has(-1) || s.Has(10) {
		t.Fatal("new set not empty")
	}
	if !s.Set(0) || !s.Set(9) || s.Set(9) {
		t.Fatal("Set reports wrong novelty")
	}
	if got := s.Bitfield(); !bytes.Equal(got, []byte{0x80, 0x40}) {
		t.Fatalf("bitfield %08b", got)
	}
	if s.Count() != 2 || !s.Has(9) || s.Has(8) {
		t.Fatal("membership wrong")
	}
	c := s.Clone()
	if !s.Clear(9) || s.Clear(9) || s.Count() != 1 {
		t.Fatal("Clear wrong")
	}
	if !c.Has(9) || c.Count() != 2 {
		t.Fatal("Clone shares state")
	}
	s.SetAll()
	if !s.Complete() || !bytes.Equal(s.Bitfield(), []byte{0xff, 0xc0}) {
		t.Fatalf("SetAll: %08b", s.Bitfield())
	}
	// What SetAll produces is a valid bitfield; what a peer sends is checked.
	back, err := BitsFromBitfield(s.Bitfield(), 10)
	if err != nil || !back.Complete() {
		t.Fatalf("BitsFromBitfield(full) = %v, %v", back, err)
	}
	if _, err := BitsFromBitfield([]byte{0xff, 0xe0}, 10); !errors.Is(err, ErrMalformed) {
		t.Fatalf("spare bit set: %v", err)
	}
	if _, err := BitsFromBitfield([]byte{0xff}, 10); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short bitfield: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Set(10) on 10 pieces did not panic")
			}
		}()
		s.Set(10)
	}()
	full := NewBits(16)
	full.SetAll()
	if !bytes.Equal(full.Bitfield(), []byte{0xff, 0xff}) || !full.Complete() {
		t.Fatal("SetAll on a byte-aligned set")
	}
}
