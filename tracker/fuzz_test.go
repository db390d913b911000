package tracker

import (
	"strings"
	"testing"
)

func FuzzParseAnnounce(f *testing.F) {
	ih := strings.Repeat("%01", 20)
	f.Add("info_hash=" + ih + "&peer_id=" + ih + "&port=6881&left=0&compact=1")
	f.Add("info_hash=" + ih + "&peer_id=" + ih + "&port=6881&left=10&event=started&numwant=500&origin=1")
	f.Add("info_hash=%zz")
	f.Add("port=1&port=2&left=1")
	f.Fuzz(func(t *testing.T, q string) {
		r, err := ParseAnnounce(q)
		if err != nil {
			return
		}
		if r.Port == 0 || r.NumWant < 0 || r.NumWant > MaxNumWant || r.Left < 0 {
			t.Fatalf("accepted %q as %+v", q, r)
		}
	})
}
