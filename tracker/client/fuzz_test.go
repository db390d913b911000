package client

import (
	"testing"
)

// FuzzParseAnnounceResponse feeds arbitrary bytes to ParseAnnounceResponse, which reads what
// any tracker (Docket's, opentracker, ...) answers `docket get` and the agents: it must not
// panic, and what it accepts has a positive interval and valid peer addresses. Seeds live in
// testdata/fuzz/FuzzParseAnnounceResponse.
func FuzzParseAnnounceResponse(f *testing.F) {
	f.Add([]byte("d8:completei1e10:downloadedi0e10:incompletei1e8:intervali1725e12:min intervali862e5:peers12:\x7f\x00\x00\x01\x04\xd3\x7f\x00\x00\x01\x04\xd2e"))
	f.Add([]byte("d14:failure reason63:Requested download is not authorized for use with this tracker.e"))
	f.Add([]byte("d8:intervali3e5:peers0:6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseAnnounceResponse(in)
		if err != nil {
			return
		}
		if r.Interval <= 0 {
			t.Fatalf("accepted interval %s", r.Interval)
		}
		for _, p := range r.Peers {
			if !p.IsValid() {
				t.Fatalf("accepted invalid peer %v", p)
			}
		}
	})
}
