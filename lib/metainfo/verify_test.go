package metainfo

import (
	"errors"
	"testing"
)

func TestVerifyPiece(t *testing.T) {
	const pl = MinPieceLength
	blob, d := randomBlob(t, 8, 3*pl+10)
	m := mustGenerate(t, blob, d, pl)
	for i := range m.NumPieces() {
		p := blob[i*pl : min((i+1)*pl, len(blob))]
		if err := VerifyPiece(m, i, p); err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		if err := VerifyPieceSHA1(m, i, p); err != nil {
			t.Fatalf("piece %d SHA-1: %v", i, err)
		}
	}
	bad := append([]byte{}, blob[:pl]...)
	bad[100] ^= 0x20
	for name, err := range map[string]error{
		"flipped bit":      VerifyPiece(m, 0, bad),
		"flipped bit sha1": VerifyPieceSHA1(m, 0, bad),
		"wrong piece":      VerifyPiece(m, 1, blob[:pl]),
		"short":            VerifyPiece(m, 3, blob[3*pl:len(blob)-1]),
		"long":             VerifyPiece(m, 3, blob[3*pl-1:]),
	} {
		if !errors.Is(err, ErrPieceMismatch) {
			t.Errorf("%s: %v, want ErrPieceMismatch", name, err)
		}
	}
	for _, i := range []int{-1, 4} {
		if err := VerifyPiece(m, i, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("index %d: %v, want ErrInvalid", i, err)
		}
		if err := VerifyPieceSHA1(m, i, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("SHA-1 index %d: %v, want ErrInvalid", i, err)
		}
	}
}
