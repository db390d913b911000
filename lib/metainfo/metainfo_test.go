package metainfo

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/bencode"
)

func randomBlob(t testing.TB, seed uint64, n int) ([]byte, core.Digest) {
	t.Helper()
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b, core.SHA256Digest(b)
}

func mustGenerate(t testing.TB, blob []byte, d core.Digest, pl int64) *core.MetaInfo {
	t.Helper()
	m, err := Generate(bytes.NewReader(blob), d, int64(len(blob)), pl)
	if err != nil {
		t.Fatalf("Generate(%d bytes, piece %d): %v", len(blob), pl, err)
	}
	return m
}

func TestGenerateHashes(t *testing.T) {
	const pl = MinPieceLength
	for _, size := range []int{1, pl - 1, pl, pl + 1, 3*pl - 7, 10 * pl, 37*pl + 5} {
		blob, d := randomBlob(t, uint64(size), size)
		m := mustGenerate(t, blob, d, pl)
		want := (size + pl - 1) / pl
		if m.NumPieces() != want || m.Length != int64(size) || m.PieceLength != pl || m.Digest != d {
			t.Fatalf("size %d: got %d pieces, length %d, piece length %d, digest %s",
				size, m.NumPieces(), m.Length, m.PieceLength, m.Digest)
		}
		for i := range want {
			p := blob[i*pl : min((i+1)*pl, size)]
			if int64(len(p)) != m.PieceSize(i) {
				t.Fatalf("size %d piece %d: PieceSize %d, want %d", size, i, m.PieceSize(i), len(p))
			}
			if m.PieceSHA1[i] != sha1.Sum(p) {
				t.Fatalf("size %d piece %d: wrong hash", size, i)
			}
		}
		checkChain(t, m, blob)
		info, err := MarshalInfo(m)
		if err != nil {
			t.Fatal(err)
		}
		if m.InfoHash != sha1.Sum(info) {
			t.Fatalf("size %d: InfoHash is not the SHA-1 of the info dictionary", size)
		}
	}
}

// Pieces longer than Generate's read chunk are hashed across several chunks.
func TestGenerateMultiChunkPieces(t *testing.T) {
	const pl = 4 * chunkSize
	for _, size := range []int{pl, 3*pl + chunkSize + 17, 5*pl - 1} {
		blob, d := randomBlob(t, uint64(size), size)
		m := mustGenerate(t, blob, d, pl)
		for i := range m.NumPieces() {
			p := blob[i*pl : min((i+1)*pl, size)]
			if m.PieceSHA1[i] != sha1.Sum(p) {
				t.Fatalf("size %d piece %d: wrong hash", size, i)
			}
		}
		checkChain(t, m, blob)
	}
}

// checkChain checks m's SHA-256 chain against blob: it ends at the blob's SHA-256, each value
// is SHA-256's state after the blob's first pieces (the rest of the blob, hashed on from it,
// gives the blob's SHA-256), every piece verifies, and a piece with one bit flipped does not.
func checkChain(t *testing.T, m *core.MetaInfo, blob []byte) {
	t.Helper()
	n := m.NumPieces()
	if m.ChainSHA256[n-1] != sha256.Sum256(blob) {
		t.Fatalf("%d bytes: the chain ends at %x, not the blob's SHA-256", len(blob), m.ChainSHA256[n-1])
	}
	for i := range n {
		start := int64(i) * m.PieceLength
		h, err := chainAt(m, i)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(blob[start:])
		if [32]byte(h.Sum(nil)) != sha256.Sum256(blob) {
			t.Fatalf("%d bytes: hashing on from the chain before piece %d misses the blob's SHA-256", len(blob), i)
		}
		p := blob[start : start+m.PieceSize(i)]
		if err := VerifyPiece(m, i, p); err != nil {
			t.Fatalf("%d bytes piece %d: %v", len(blob), i, err)
		}
		bad := bytes.Clone(p)
		bad[len(bad)/2] ^= 1
		if err := VerifyPiece(m, i, bad); !errors.Is(err, ErrPieceMismatch) {
			t.Fatalf("%d bytes piece %d with a flipped bit: %v, want ErrPieceMismatch", len(blob), i, err)
		}
	}
}

// Content that does not hash to the sha256 digest it is named by has no metainfo.
func TestGenerateDigestMismatch(t *testing.T) {
	blob, _ := randomBlob(t, 9, 3*MinPieceLength)
	wrong := core.SHA256Digest([]byte("another blob"))
	if _, err := Generate(bytes.NewReader(blob), wrong, int64(len(blob)), MinPieceLength); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Generate under another digest = %v, want ErrDigestMismatch", err)
	}
}

// A reader that hands out a few bytes at a time must give the same result as one that hands
// out everything, and so must a reader that returns data with io.EOF.
func TestGenerateReaderShapes(t *testing.T) {
	blob, d := randomBlob(t, 7, 5*MinPieceLength+123)
	want := mustGenerate(t, blob, d, MinPieceLength)
	for name, r := range map[string]io.Reader{
		"onebyte":    iotest.OneByteReader(bytes.NewReader(blob)),
		"halfreader": iotest.HalfReader(bytes.NewReader(blob)),
		"dataerr":    iotest.DataErrReader(bytes.NewReader(blob)),
	} {
		got, err := Generate(r, d, int64(len(blob)), MinPieceLength)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.InfoHash != want.InfoHash {
			t.Fatalf("%s: info hash %s, want %s", name, got.InfoHash, want.InfoHash)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	blob, d := randomBlob(t, 1, 3*MinPieceLength)
	n := int64(len(blob))
	tests := []struct {
		name   string
		r      io.Reader
		d      core.Digest
		length int64
		pl     int64
		want   error
	}{
		{"short", bytes.NewReader(blob[:n-1]), d, n, MinPieceLength, ErrLengthMismatch},
		{"short by a piece", bytes.NewReader(blob[:MinPieceLength]), d, n, MinPieceLength, ErrLengthMismatch},
		{"long", bytes.NewReader(append(blob, 0)), d, n, MinPieceLength, ErrLengthMismatch},
		{"empty", bytes.NewReader(nil), core.SHA256Digest(nil), 0, MinPieceLength, ErrEmpty},
		{"negative", bytes.NewReader(nil), d, -1, MinPieceLength, ErrInvalid},
		{"zero digest", bytes.NewReader(blob), core.Digest{}, n, MinPieceLength, ErrInvalid},
		{"piece not power of two", bytes.NewReader(blob), d, n, MinPieceLength + 1, ErrInvalidPieceLength},
		{"piece too small", bytes.NewReader(blob), d, n, MinPieceLength / 2, ErrInvalidPieceLength},
		{"piece too large", bytes.NewReader(blob), d, n, 2 * MaxPieceLength, ErrInvalidPieceLength},
		{"too long", bytes.NewReader(nil), d, MaxLength + 1, MaxPieceLength, ErrTooLarge},
		{"too many pieces", bytes.NewReader(nil), d, MaxPieces*MinPieceLength + 1, MinPieceLength, ErrTooLarge},
	}
	for _, tt := range tests {
		m, err := Generate(tt.r, tt.d, tt.length, tt.pl)
		if !errors.Is(err, tt.want) || m != nil {
			t.Errorf("%s: Generate = %v, %v; want %v", tt.name, m, err, tt.want)
		}
	}
	readErr := errors.New("disk on fire")
	_, err := Generate(io.MultiReader(bytes.NewReader(blob[:100]), iotest.ErrReader(readErr)), d, n, MinPieceLength)
	if !errors.Is(err, readErr) {
		t.Errorf("read error: %v, want it wrapped", err)
	}
}

func TestRoundTrip(t *testing.T) {
	blob, d := randomBlob(t, 3, 5*MinPieceLength+17)
	m := mustGenerate(t, blob, d, MinPieceLength)
	for name, marshal := range map[string]func(*core.MetaInfo) ([]byte, error){
		"Marshal": Marshal,
		"MarshalTorrent": func(m *core.MetaInfo) ([]byte, error) {
			return MarshalTorrent(m, "http://127.0.0.1:15003/announce")
		},
		"MarshalInfo": MarshalInfo,
	} {
		b, err := marshal(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		unmarshal := Unmarshal
		if name == "MarshalInfo" {
			unmarshal = UnmarshalInfo
		}
		got, err := unmarshal(b)
		if err != nil {
			t.Fatalf("%s: unmarshal: %v", name, err)
		}
		if got.Digest != m.Digest || got.Length != m.Length || got.PieceLength != m.PieceLength ||
			got.InfoHash != m.InfoHash {
			t.Fatalf("%s: round trip changed the metainfo: %+v", name, got)
		}
		for i := range m.NumPieces() {
			if got.PieceSHA1[i] != m.PieceSHA1[i] || got.ChainSHA256[i] != m.ChainSHA256[i] {
				t.Fatalf("%s: piece %d hashes differ", name, i)
			}
		}
	}
	b, err := MarshalTorrent(m, "http://tracker/announce")
	if err != nil {
		t.Fatal(err)
	}
	top, err := bencode.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := top.GetString("announce"); a != "http://tracker/announce" {
		t.Fatalf("announce = %q", a)
	}
}

func TestMarshalChecks(t *testing.T) {
	blob, d := randomBlob(t, 4, 2*MinPieceLength)
	m := mustGenerate(t, blob, d, MinPieceLength)

	bad := *m
	bad.InfoHash[0] ^= 1
	if _, err := Marshal(&bad); !errors.Is(err, ErrInfoHashMismatch) {
		t.Errorf("wrong InfoHash: %v, want ErrInfoHashMismatch", err)
	}
	unset := *m
	unset.InfoHash = core.InfoHash{}
	if _, err := Marshal(&unset); err != nil {
		t.Errorf("unset InfoHash: %v", err)
	}
	short := *m
	short.ChainSHA256 = short.ChainSHA256[:1]
	if _, err := Marshal(&short); !errors.Is(err, ErrInvalid) {
		t.Errorf("missing SHA-256 chain value: %v, want ErrInvalid", err)
	}
	if _, err := Marshal(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil: %v, want ErrInvalid", err)
	}
	if _, err := MarshalTorrent(m, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty announce: %v, want ErrInvalid", err)
	}
	empty := &core.MetaInfo{Digest: core.SHA256Digest(nil), PieceLength: MinPieceLength}
	if _, err := Marshal(empty); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty blob: %v, want ErrEmpty", err)
	}
}

// info builds a torrent around an info dictionary given as entries, for the rejection table.
func torrent(t *testing.T, entries ...bencode.Entry) []byte {
	t.Helper()
	b, err := bencode.Marshal(bencode.Dict(bencode.Entry{Key: "info", Value: bencode.Dict(entries...)}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnmarshalRejects(t *testing.T) {
	blob, d := randomBlob(t, 5, 2*MinPieceLength+1)
	m := mustGenerate(t, blob, d, MinPieceLength)
	good, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := bencode.Decode(good)
	info, _ := top.GetDict("info")
	base, _ := info.Entries()
	with := func(key string, v bencode.Value) []byte {
		var es []bencode.Entry
		found := false
		for _, e := range base {
			if e.Key == key {
				found = true
				if v.Kind() == bencode.KindInvalid {
					continue
				}
				e.Value = v
			}
			es = append(es, e)
		}
		if !found {
			es = append(es, bencode.Entry{Key: key, Value: v})
		}
		return torrent(t, es...)
	}
	sha1s, _ := info.GetBytes("pieces")
	chain, _ := info.GetBytes("sha256 chain")
	otherEnd := bytes.Clone(chain)
	otherEnd[len(otherEnd)-1] ^= 1
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"not bencode", []byte("hello"), ErrInvalid},
		{"not a dict", []byte("i1e"), ErrInvalid},
		{"no info", []byte("d8:announce3:urle"), ErrInvalid},
		{"info not a dict", []byte("d4:infoi1ee"), ErrInvalid},
		{"non-canonical", bytes.Replace(good, []byte("i1e"), []byte("i01e"), 1), ErrInvalid},
		{"trailing", append(append([]byte{}, good...), 'x'), ErrInvalid},
		{"announce not a string", append([]byte("d8:announcei1e"), good[1:]...), ErrInvalid},
		{"extra key", with("files", bencode.List()), ErrInvalid},
		{"no private", with("private", bencode.Value{}), ErrInvalid},
		{"private 0", with("private", bencode.Int(0)), ErrInvalid},
		{"no sha256", with("sha256 chain", bencode.Value{}), ErrInvalid},
		{"old sha256 key", with("sha256 pieces", bencode.Bytes(chain)), ErrInvalid},
		{"name not a digest", with("name", bencode.String("layer.tar")), ErrInvalid},
		{"name md5", with("name", bencode.String("md5:d41d8cd98f00b204e9800998ecf8427e")), ErrInvalid},
		{"name int", with("name", bencode.Int(3)), ErrInvalid},
		{"length string", with("length", bencode.String("3")), ErrInvalid},
		{"length zero", with("length", bencode.Int(0)), ErrEmpty},
		{"length negative", with("length", bencode.Int(-5)), ErrInvalid},
		{"length too long", with("length", bencode.Int(MaxLength+1)), ErrTooLarge},
		{"length disagrees", with("length", bencode.Int(int64(len(blob))+MinPieceLength)), ErrInvalid},
		{"piece length odd", with("piece length", bencode.Int(MinPieceLength+1)), ErrInvalidPieceLength},
		{"piece length huge", with("piece length", bencode.Int(1<<40)), ErrInvalidPieceLength},
		{"sha1 short", with("pieces", bencode.Bytes(sha1s[:len(sha1s)-1])), ErrInvalid},
		{"sha1 extra", with("pieces", bencode.Bytes(append(append([]byte{}, sha1s...), sha1s[:20]...))), ErrInvalid},
		{"sha256 short", with("sha256 chain", bencode.Bytes(chain[:32])), ErrInvalid},
		{"chain not ending at the digest", with("sha256 chain", bencode.Bytes(otherEnd)), ErrInvalid},
		{"too big", make([]byte, MaxTorrentSize+1), ErrTooLarge},
		{"deep", []byte(strings.Repeat("l", 100) + strings.Repeat("e", 100)), ErrInvalid},
	}
	for _, tt := range tests {
		m, err := Unmarshal(tt.in)
		if !errors.Is(err, tt.want) || m != nil {
			t.Errorf("%s: Unmarshal = %v, %v; want %v", tt.name, m, err, tt.want)
		}
	}
	if _, err := UnmarshalInfo([]byte("le")); !errors.Is(err, ErrInvalid) {
		t.Errorf("UnmarshalInfo(list): %v", err)
	}
}

// Top-level keys outside the info dictionary do not change the torrent's identity.
func TestUnmarshalIgnoresOuterKeys(t *testing.T) {
	blob, d := randomBlob(t, 6, MinPieceLength)
	m := mustGenerate(t, blob, d, MinPieceLength)
	iv, err := infoValue(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bencode.Marshal(bencode.Dict(
		bencode.Entry{Key: "announce", Value: bencode.String("http://a/announce")},
		bencode.Entry{Key: "announce-list", Value: bencode.List(bencode.List(bencode.String("http://b/announce")))},
		bencode.Entry{Key: "comment", Value: bencode.String("hi")},
		bencode.Entry{Key: "creation date", Value: bencode.Int(1700000000)},
		bencode.Entry{Key: "info", Value: iv},
	))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.InfoHash != m.InfoHash {
		t.Fatalf("info hash %s, want %s", got.InfoHash, m.InfoHash)
	}
}

func BenchmarkGenerate(b *testing.B) {
	const size = 64 << 20
	blob, d := randomBlob(b, 1, size)
	pl := PieceLength(size, nil)
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Generate(bytes.NewReader(blob), d, size, pl); err != nil {
			b.Fatal(err)
		}
	}
}
