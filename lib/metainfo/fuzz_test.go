package metainfo

import (
	"bytes"
	"testing"
)

// FuzzUnmarshal checks that Unmarshal never panics and that whatever it accepts is consistent:
// counts agree with the length and re-marshalling gives an identical info-hash and torrent.
// Seeds live in testdata/fuzz/FuzzUnmarshal.
func FuzzUnmarshal(f *testing.F) {
	blob, d := randomBlob(f, 9, 3*MinPieceLength+5)
	m := mustGenerate(f, blob, d, MinPieceLength)
	good, err := Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	withAnnounce, err := MarshalTorrent(m, "http://127.0.0.1:15003/announce")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(withAnnounce)
	f.Add([]byte("d4:infod6:lengthi0eee"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Unmarshal(in)
		if err != nil {
			if m != nil {
				t.Fatal("non-nil metainfo with an error")
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted metainfo does not validate: %v", err)
		}
		info, err := MarshalInfo(m)
		if err != nil {
			t.Fatalf("accepted metainfo does not marshal: %v", err)
		}
		ih, err := InfoHash(m)
		if err != nil || ih != m.InfoHash {
			t.Fatalf("info hash %s on parse, %s (%v) on re-marshal", m.InfoHash, ih, err)
		}
		back, err := UnmarshalInfo(info)
		if err != nil || back.InfoHash != m.InfoHash {
			t.Fatalf("re-marshalled info does not parse back: %v", err)
		}
		if _, err := Marshal(m); err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if !bytes.Contains(in, info) {
			t.Fatal("the info dictionary received is not the one re-encoded")
		}
	})
}
