package bencode

import (
	"bytes"
	"fmt"
	"math"
)

// Default limits for untrusted input. A torrent's info dictionary is two levels deep and its
// largest string is the piece-hash list (about 32 bytes per piece with SHA-256; 2 MiB for a
// 1 TiB blob at 16 MiB pieces); announce responses and extension handshakes are far smaller.
const (
	// DefaultMaxDepth bounds the nesting of lists and dictionaries.
	DefaultMaxDepth = 32
	// DefaultMaxStringLength bounds one byte string.
	DefaultMaxStringLength = 16 << 20
	// DefaultMaxValues bounds the number of values (of any kind) in one input.
	DefaultMaxValues = 1 << 20
)

// Limits bound what a decoder accepts. A zero field means its Default constant.
type Limits struct {
	MaxDepth        int
	MaxStringLength int
	MaxValues       int
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxStringLength <= 0 {
		l.MaxStringLength = DefaultMaxStringLength
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultMaxValues
	}
	return l
}

// Decoder decodes bencode under limits. The zero Decoder is strict (canonical only) with the
// default limits.
type Decoder struct {
	Limits Limits
	// AllowUnsortedKeys accepts dictionaries whose keys are out of order (they are sorted in
	// the returned Value; Raw keeps the bytes as received). Repeated keys are still rejected.
	AllowUnsortedKeys bool
}

// Decode decodes b, which must hold exactly one canonical value, with the default limits.
func Decode(b []byte) (Value, error) { return Decoder{}.Decode(b) }

// Decode decodes b, which must hold exactly one value and nothing after it.
func (d Decoder) Decode(b []byte) (Value, error) {
	v, n, err := d.DecodePrefix(b)
	if err != nil {
		return Value{}, err
	}
	if n != len(b) {
		return Value{}, fmt.Errorf("%w: %d bytes at offset %d", ErrTrailingData, len(b)-n, n)
	}
	return v, nil
}

// DecodePrefix decodes the one value at the start of b and returns it with the number of bytes
// it took, for messages where other data follows a bencoded header (BEP 9 metadata pieces).
func (d Decoder) DecodePrefix(b []byte) (Value, int, error) {
	st := decodeState{b: b, lim: d.Limits.withDefaults(), unsorted: d.AllowUnsortedKeys}
	v, err := st.value(0)
	if err != nil {
		return Value{}, 0, err
	}
	return v, st.pos, nil
}

type decodeState struct {
	b        []byte
	pos      int
	lim      Limits
	unsorted bool
	values   int
}

func (s *decodeState) errAt(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", sentinel, s.pos, fmt.Sprintf(format, args...))
}

func (s *decodeState) value(depth int) (Value, error) {
	if s.pos >= len(s.b) {
		return Value{}, s.errAt(ErrTruncated, "want a value")
	}
	s.values++
	if s.values > s.lim.MaxValues {
		return Value{}, s.errAt(ErrLimit, "more than %d values", s.lim.MaxValues)
	}
	start := s.pos
	var v Value
	var err error
	switch c := s.b[s.pos]; {
	case c == 'i':
		v, err = s.integer()
	case c >= '0' && c <= '9':
		var str []byte
		str, err = s.str()
		v = Value{kind: KindString, s: str}
	case c == 'l' || c == 'd':
		if depth >= s.lim.MaxDepth {
			return Value{}, s.errAt(ErrLimit, "nesting deeper than %d", s.lim.MaxDepth)
		}
		if c == 'l' {
			v, err = s.listValue(depth)
		} else {
			v, err = s.dictValue(depth)
		}
	default:
		return Value{}, s.errAt(ErrSyntax, "unexpected byte %q", c)
	}
	if err != nil {
		return Value{}, err
	}
	v.raw = s.b[start:s.pos:s.pos]
	return v, nil
}

// integer parses "i<decimal>e" at s.pos.
func (s *decodeState) integer() (Value, error) {
	s.pos++ // 'i'
	neg := false
	if s.pos < len(s.b) && s.b[s.pos] == '-' {
		neg = true
		s.pos++
	}
	digits := s.pos
	var n uint64
	for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
		d := uint64(s.b[s.pos] - '0')
		if n > (math.MaxUint64-d)/10 {
			return Value{}, s.errAt(ErrLimit, "integer overflows int64")
		}
		n = n*10 + d
		s.pos++
	}
	if s.pos >= len(s.b) {
		return Value{}, s.errAt(ErrTruncated, "inside integer")
	}
	if s.pos == digits {
		return Value{}, s.errAt(ErrSyntax, "integer without digits")
	}
	if s.b[s.pos] != 'e' {
		return Value{}, s.errAt(ErrSyntax, "unexpected byte %q in integer", s.b[s.pos])
	}
	if s.b[digits] == '0' && s.pos-digits > 1 {
		return Value{}, s.errAt(ErrNonCanonical, "integer with leading zero")
	}
	if neg && n == 0 {
		return Value{}, s.errAt(ErrNonCanonical, "negative zero")
	}
	var i int64
	switch {
	case !neg && n <= math.MaxInt64:
		i = int64(n)
	case neg && n <= math.MaxInt64:
		i = -int64(n)
	case neg && n == math.MaxInt64+1:
		i = math.MinInt64
	default:
		return Value{}, s.errAt(ErrLimit, "integer overflows int64")
	}
	s.pos++ // 'e'
	return Value{kind: KindInt, i: i}, nil
}

// str parses "<length>:<bytes>" at s.pos and returns the bytes (aliasing the input).
func (s *decodeState) str() ([]byte, error) {
	digits := s.pos
	var n int
	for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
		d := int(s.b[s.pos] - '0')
		if n > (math.MaxInt-d)/10 {
			return nil, s.errAt(ErrLimit, "string length overflows")
		}
		n = n*10 + d
		if n > s.lim.MaxStringLength {
			return nil, s.errAt(ErrLimit, "string longer than %d bytes", s.lim.MaxStringLength)
		}
		s.pos++
	}
	if s.pos >= len(s.b) {
		return nil, s.errAt(ErrTruncated, "inside string length")
	}
	if s.pos == digits {
		return nil, s.errAt(ErrSyntax, "string without length")
	}
	if s.b[s.pos] != ':' {
		return nil, s.errAt(ErrSyntax, "unexpected byte %q in string length", s.b[s.pos])
	}
	if s.b[digits] == '0' && s.pos-digits > 1 {
		return nil, s.errAt(ErrNonCanonical, "string length with leading zero")
	}
	s.pos++ // ':'
	if n > len(s.b)-s.pos {
		return nil, s.errAt(ErrTruncated, "string of %d bytes, %d left", n, len(s.b)-s.pos)
	}
	str := s.b[s.pos : s.pos+n : s.pos+n]
	s.pos += n
	return str, nil
}

func (s *decodeState) listValue(depth int) (Value, error) {
	s.pos++ // 'l'
	list := []Value{}
	for {
		if s.pos >= len(s.b) {
			return Value{}, s.errAt(ErrTruncated, "inside list")
		}
		if s.b[s.pos] == 'e' {
			s.pos++
			return Value{kind: KindList, list: list}, nil
		}
		e, err := s.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		list = append(list, e)
	}
}

func (s *decodeState) dictValue(depth int) (Value, error) {
	s.pos++ // 'd'
	dict := []Entry{}
	var prev []byte
	sorted := true
	for {
		if s.pos >= len(s.b) {
			return Value{}, s.errAt(ErrTruncated, "inside dictionary")
		}
		c := s.b[s.pos]
		if c == 'e' {
			s.pos++
			break
		}
		if c < '0' || c > '9' {
			return Value{}, s.errAt(ErrSyntax, "dictionary key is not a string")
		}
		s.values++
		if s.values > s.lim.MaxValues {
			return Value{}, s.errAt(ErrLimit, "more than %d values", s.lim.MaxValues)
		}
		keyAt := s.pos
		key, err := s.str()
		if err != nil {
			return Value{}, err
		}
		if len(dict) > 0 {
			switch cmp := bytes.Compare(prev, key); {
			case cmp == 0:
				s.pos = keyAt
				return Value{}, s.errAt(ErrNonCanonical, "repeated dictionary key %q", key)
			case cmp > 0 && !s.unsorted:
				s.pos = keyAt
				return Value{}, s.errAt(ErrNonCanonical, "dictionary key %q out of order", key)
			case cmp > 0:
				sorted = false
			}
		}
		prev = key
		v, err := s.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		dict = append(dict, Entry{Key: string(key), Value: v})
	}
	if !sorted {
		d := Dict(dict...)
		for i := 1; i < len(d.dict); i++ {
			if d.dict[i-1].Key == d.dict[i].Key {
				return Value{}, fmt.Errorf("%w: repeated dictionary key %q", ErrNonCanonical, d.dict[i].Key)
			}
		}
		dict = d.dict
	}
	return Value{kind: KindDict, dict: dict}, nil
}
