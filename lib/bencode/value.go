// Package bencode encodes and decodes bencode, BitTorrent's serialisation (BEP 3), strictly.
//
// Decoding is canonical-only by default: integers without leading zeros or "-0", string
// lengths without leading zeros, dictionary keys as byte strings in strictly ascending order
// with no repeats. Anything else is rejected (ErrNonCanonical), because a non-canonical
// encoding has more than one byte form for the same value and the info-hash, the SHA-1 of the
// info dictionary's bytes, must name exactly one torrent. Peers in the wild sometimes send
// extension handshakes with unsorted keys; Decoder.AllowUnsortedKeys accepts those (repeated
// keys are still rejected) for messages whose bytes are never hashed.
//
// Every decoded Value remembers the exact bytes it was decoded from (Raw), so a caller hashes
// a sub-value as received rather than as re-encoded. Decoded byte strings, and Raw, alias the
// input slice: the caller must not modify the input while it uses the values.
//
// Untrusted input is bounded by Limits: nesting depth, string length and the total number of
// values, so a small input cannot make the decoder allocate without bound.
package bencode

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
)

// Kind is the type of a bencode value.
type Kind uint8

// The four bencode kinds. The zero Kind marks an unset Value, which cannot be encoded.
const (
	KindInvalid Kind = iota
	KindInt
	KindString
	KindList
	KindDict
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindInt:
		return "integer"
	case KindString:
		return "string"
	case KindList:
		return "list"
	case KindDict:
		return "dictionary"
	default:
		return "invalid"
	}
}

// Value is one bencode value: an integer, a byte string, a list or a dictionary. Build values
// with Int, String, Bytes, List and Dict; read them with the accessors. A dictionary's entries
// are always held sorted by key.
type Value struct {
	kind Kind
	i    int64
	s    []byte
	list []Value
	dict []Entry
	raw  []byte
}

// Entry is one key/value pair of a dictionary.
type Entry struct {
	Key   string
	Value Value
}

// Int returns an integer value.
func Int(i int64) Value { return Value{kind: KindInt, i: i} }

// String returns a byte-string value holding s.
func String(s string) Value { return Value{kind: KindString, s: []byte(s)} }

// Bytes returns a byte-string value holding b (not copied).
func Bytes(b []byte) Value {
	if b == nil {
		b = []byte{}
	}
	return Value{kind: KindString, s: b}
}

// List returns a list value of vs (not copied).
func List(vs ...Value) Value {
	if vs == nil {
		vs = []Value{}
	}
	return Value{kind: KindList, list: vs}
}

// Dict returns a dictionary value of the entries, sorted by key (the argument is not
// modified). A repeated key makes the value unencodable: Marshal reports ErrInvalidValue.
func Dict(entries ...Entry) Value {
	es := make([]Entry, len(entries))
	copy(es, entries)
	sort.SliceStable(es, func(i, j int) bool { return es[i].Key < es[j].Key })
	return Value{kind: KindDict, dict: es}
}

// Kind returns the value's kind; KindInvalid for the zero Value.
func (v Value) Kind() Kind { return v.kind }

// Raw returns the exact bytes a decoded value was decoded from, or nil for a value built in
// code. It aliases the decoder's input.
func (v Value) Raw() []byte { return v.raw }

func (v Value) typeErr(want Kind) error {
	return fmt.Errorf("%w: want %s, have %s", ErrType, want, v.kind)
}

// Int returns the integer, or ErrType.
func (v Value) Int() (int64, error) {
	if v.kind != KindInt {
		return 0, v.typeErr(KindInt)
	}
	return v.i, nil
}

// Bytes returns the byte string (aliasing the decoder's input), or ErrType.
func (v Value) Bytes() ([]byte, error) {
	if v.kind != KindString {
		return nil, v.typeErr(KindString)
	}
	return v.s, nil
}

// Str returns the byte string as a Go string, or ErrType.
func (v Value) Str() (string, error) {
	if v.kind != KindString {
		return "", v.typeErr(KindString)
	}
	return string(v.s), nil
}

// List returns the list's elements, or ErrType.
func (v Value) List() ([]Value, error) {
	if v.kind != KindList {
		return nil, v.typeErr(KindList)
	}
	return v.list, nil
}

// Entries returns the dictionary's entries in key order, or ErrType.
func (v Value) Entries() ([]Entry, error) {
	if v.kind != KindDict {
		return nil, v.typeErr(KindDict)
	}
	return v.dict, nil
}

// Get returns the value under key in a dictionary; false if v is not a dictionary or has no
// such key.
func (v Value) Get(key string) (Value, bool) {
	if v.kind != KindDict {
		return Value{}, false
	}
	i := sort.Search(len(v.dict), func(i int) bool { return v.dict[i].Key >= key })
	if i < len(v.dict) && v.dict[i].Key == key {
		return v.dict[i].Value, true
	}
	return Value{}, false
}

// Lookup is Get with errors: ErrType if v is not a dictionary, ErrMissingKey if key is absent.
func (v Value) Lookup(key string) (Value, error) {
	if v.kind != KindDict {
		return Value{}, v.typeErr(KindDict)
	}
	e, ok := v.Get(key)
	if !ok {
		return Value{}, fmt.Errorf("%w: %q", ErrMissingKey, key)
	}
	return e, nil
}

// GetInt returns the integer under key (ErrMissingKey, ErrType).
func (v Value) GetInt(key string) (int64, error) {
	e, err := v.Lookup(key)
	if err != nil {
		return 0, err
	}
	i, err := e.Int()
	if err != nil {
		return 0, fmt.Errorf("key %q: %w", key, err)
	}
	return i, nil
}

// GetBytes returns the byte string under key (ErrMissingKey, ErrType).
func (v Value) GetBytes(key string) ([]byte, error) {
	e, err := v.Lookup(key)
	if err != nil {
		return nil, err
	}
	b, err := e.Bytes()
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	return b, nil
}

// GetString returns the byte string under key as a Go string (ErrMissingKey, ErrType).
func (v Value) GetString(key string) (string, error) {
	b, err := v.GetBytes(key)
	return string(b), err
}

// GetList returns the list under key (ErrMissingKey, ErrType).
func (v Value) GetList(key string) ([]Value, error) {
	e, err := v.Lookup(key)
	if err != nil {
		return nil, err
	}
	l, err := e.List()
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	return l, nil
}

// GetDict returns the dictionary under key (ErrMissingKey, ErrType).
func (v Value) GetDict(key string) (Value, error) {
	e, err := v.Lookup(key)
	if err != nil {
		return Value{}, err
	}
	if e.kind != KindDict {
		return Value{}, fmt.Errorf("key %q: %w", key, e.typeErr(KindDict))
	}
	return e, nil
}

// Equal reports whether a and b hold the same value (Raw is ignored).
func Equal(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KindInt:
		return a.i == b.i
	case KindString:
		return bytes.Equal(a.s, b.s)
	case KindList:
		if len(a.list) != len(b.list) {
			return false
		}
		for i := range a.list {
			if !Equal(a.list[i], b.list[i]) {
				return false
			}
		}
		return true
	case KindDict:
		if len(a.dict) != len(b.dict) {
			return false
		}
		for i := range a.dict {
			if a.dict[i].Key != b.dict[i].Key || !Equal(a.dict[i].Value, b.dict[i].Value) {
				return false
			}
		}
		return true
	default:
		return true
	}
}

// String renders the value for logs and test failures: integers in decimal, strings quoted
// (Go syntax), lists in brackets, dictionaries in braces.
func (v Value) String() string {
	var b []byte
	b = v.appendDebug(b)
	return string(b)
}

func (v Value) appendDebug(b []byte) []byte {
	switch v.kind {
	case KindInt:
		return strconv.AppendInt(b, v.i, 10)
	case KindString:
		return strconv.AppendQuote(b, string(v.s))
	case KindList:
		b = append(b, '[')
		for i, e := range v.list {
			if i > 0 {
				b = append(b, ' ')
			}
			b = e.appendDebug(b)
		}
		return append(b, ']')
	case KindDict:
		b = append(b, '{')
		for i, e := range v.dict {
			if i > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendQuote(b, e.Key)
			b = append(b, ':')
			b = e.Value.appendDebug(b)
		}
		return append(b, '}')
	default:
		return append(b, "<invalid>"...)
	}
}
