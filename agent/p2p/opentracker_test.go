package p2p_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/internal/bttest"
	"github.com/docket-p2p/docket/lib/metainfo"
	"github.com/docket-p2p/docket/origin/client"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

// Bring your own tracker: Docket agents and the origin announce to Debian's opentracker, which
// serves only the whitelisted info-hash and knows nothing of Docket; the agents take the
// metainfo from the origins and still get the blob from each other and from the super-seeding
// origin over the peer protocol, never falling back to HTTP.
func TestSwarmWithOpentracker(t *testing.T) {
	const agents, size = 3, 8 << 20
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	d := core.SHA256Digest(data)
	// The origin cuts blobs by the default piece-length table; opentracker must know the
	// info-hash before it starts.
	m, err := metainfo.Generate(bytes.NewReader(data), d, size, metainfo.PieceLength(size, nil))
	if err != nil {
		t.Fatal(err)
	}
	ot := bttest.StartOpentracker(t, m.InfoHash)
	s := startSwarm(t, swarmOptions{agents: agents, originAnnounces: true, tracker: ot})
	if err := client.New(s.originAddr, nil).Upload(context.Background(), repo, d, size, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// The origin announces on commit, asynchronously: wait until opentracker lists it, so the
	// agents find a seeder on their first announce.
	tc := trackerclient.New(ot, nil)
	for deadline := time.Now().Add(10 * time.Second); ; {
		r, err := tc.Announce(context.Background(), trackerclient.AnnounceRequest{InfoHash: m.InfoHash, PeerID: core.NewPeerID(), Port: 1, Event: "stopped"})
		if err == nil && r.Complete > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the origin never announced to opentracker: %+v, %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.pullAll(t, d, data, 0, 1, 2)
	var fromAgents, fallbacks int64
	for _, a := range s.agents {
		fromAgents += counter(a.scope, "p2p.bytes_in", "agent")
		fallbacks += counter(a.scope, "http_fallbacks", "")
	}
	originOut := counter(s.origin.scope, "p2p.bytes_out", "")
	t.Logf("through opentracker: origin sent %.2f copies over the peer protocol; agents got %.2f copies from each other",
		float64(originOut)/size, float64(fromAgents)/size)
	if fallbacks != 0 {
		t.Fatalf("%d pulls fell back to HTTP", fallbacks)
	}
	if originOut == 0 {
		t.Fatal("the origin sent nothing over the peer protocol")
	}
}
