package bencode

import (
	"fmt"
	"strconv"
)

// Marshal returns the canonical encoding of v.
func Marshal(v Value) ([]byte, error) {
	return Append(make([]byte, 0, EncodedLen(v)), v)
}

// Append appends the canonical encoding of v to dst. It fails with ErrInvalidValue on an unset
// Value or a dictionary with a repeated key; dst is then returned unchanged.
func Append(dst []byte, v Value) ([]byte, error) {
	out, err := appendValue(dst, v)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func appendValue(dst []byte, v Value) ([]byte, error) {
	switch v.kind {
	case KindInt:
		dst = append(dst, 'i')
		dst = strconv.AppendInt(dst, v.i, 10)
		return append(dst, 'e'), nil
	case KindString:
		return appendString(dst, v.s), nil
	case KindList:
		dst = append(dst, 'l')
		for _, e := range v.list {
			var err error
			if dst, err = appendValue(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	case KindDict:
		dst = append(dst, 'd')
		for i, e := range v.dict {
			// Dict keeps entries sorted; a decoded dictionary is sorted too, so a repeat is
			// always adjacent.
			if i > 0 && v.dict[i-1].Key >= e.Key {
				if v.dict[i-1].Key == e.Key {
					return dst, fmt.Errorf("%w: repeated dictionary key %q", ErrInvalidValue, e.Key)
				}
				return dst, fmt.Errorf("%w: dictionary keys out of order at %q", ErrInvalidValue, e.Key)
			}
			dst = appendString(dst, []byte(e.Key))
			var err error
			if dst, err = appendValue(dst, e.Value); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	default:
		return dst, fmt.Errorf("%w: unset value", ErrInvalidValue)
	}
}

func appendString(dst, s []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// EncodedLen returns the length of v's encoding (for an encodable v), so a caller can size a
// buffer once.
func EncodedLen(v Value) int {
	switch v.kind {
	case KindInt:
		return 2 + decimalLen(v.i)
	case KindString:
		return decimalLen(int64(len(v.s))) + 1 + len(v.s)
	case KindList:
		n := 2
		for _, e := range v.list {
			n += EncodedLen(e)
		}
		return n
	case KindDict:
		n := 2
		for _, e := range v.dict {
			n += decimalLen(int64(len(e.Key))) + 1 + len(e.Key) + EncodedLen(e.Value)
		}
		return n
	default:
		return 0
	}
}

func decimalLen(i int64) int {
	n := 1
	if i < 0 {
		n++
		if i == -1<<63 {
			return 20
		}
		i = -i
	}
	for i >= 10 {
		i /= 10
		n++
	}
	return n
}
