package wire

import (
	"fmt"
	"math/bits"
)

// Bits is a set of piece indexes in the wire's bitfield layout: piece 0 is the high bit of the
// first byte. It keeps its count, so Count and Complete are O(1). It is not safe for
// concurrent use.
type Bits struct {
	b     []byte
	n     int
	count int
}

// NewBits returns an empty set for n pieces.
func NewBits(n int) *Bits {
	return &Bits{b: make([]byte, (n+7)/8), n: n}
}

// BitsFromBitfield copies a received bitfield payload for n pieces, checking its length and
// spare bits as the Reader does.
func BitsFromBitfield(payload []byte, n int) (*Bits, error) {
	if err := checkBitfield(payload, n); err != nil {
		return nil, err
	}
	s := &Bits{b: append([]byte(nil), payload...), n: n}
	for _, x := range s.b {
		s.count += bits.OnesCount8(x)
	}
	return s, nil
}

// Len returns the number of pieces the set covers.
func (s *Bits) Len() int { return s.n }

// Count returns the number of pieces in the set.
func (s *Bits) Count() int { return s.count }

// Complete reports whether every piece is in the set.
func (s *Bits) Complete() bool { return s.count == s.n }

// Has reports whether piece i is in the set; false for an index out of range.
func (s *Bits) Has(i int) bool {
	return i >= 0 && i < s.n && s.b[i/8]&(0x80>>(i%8)) != 0
}

// Set adds piece i and reports whether it was newly added. It panics for an index out of
// range, a bug in the caller (indexes from peers are checked by the Reader).
func (s *Bits) Set(i int) bool {
	s.check(i)
	if s.b[i/8]&(0x80>>(i%8)) != 0 {
		return false
	}
	s.b[i/8] |= 0x80 >> (i % 8)
	s.count++
	return true
}

// Clear removes piece i and reports whether it was present. It panics for an index out of
// range.
func (s *Bits) Clear(i int) bool {
	s.check(i)
	if s.b[i/8]&(0x80>>(i%8)) == 0 {
		return false
	}
	s.b[i/8] &^= 0x80 >> (i % 8)
	s.count--
	return true
}

// SetAll adds every piece (a have-all).
func (s *Bits) SetAll() {
	for i := range s.b {
		s.b[i] = 0xff
	}
	if spare := len(s.b)*8 - s.n; spare > 0 {
		s.b[len(s.b)-1] &^= 1<<spare - 1
	}
	s.count = s.n
}

// Bitfield returns a copy of the set as a bitfield message payload.
func (s *Bits) Bitfield() []byte { return append([]byte(nil), s.b...) }

// Clone returns an independent copy.
func (s *Bits) Clone() *Bits { return &Bits{b: s.Bitfield(), n: s.n, count: s.count} }

func (s *Bits) check(i int) {
	if i < 0 || i >= s.n {
		panic(fmt.Sprintf("wire: piece %d out of range [0, %d)", i, s.n))
	}
}
