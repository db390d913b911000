package proxy

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/docket-p2p/docket/buildindex"
	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin"
	originclient "github.com/docket-p2p/docket/origin/client"
)

type server interface {
	Serve(ctx context.Context, l net.Listener) error
	Close() error
}

func serve(t *testing.T, l net.Listener, s server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		s.Close()
	})
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPushPullThreeOrigins runs the proxy in front of a real build-index and a ring of three
// real origins (replicas 2) and pushes and pulls images and an index with go-containerregistry:
// upload sessions are routed to one origin each, blobs land on their owners.
func TestPushPullThreeOrigins(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ls := []net.Listener{listen(t), listen(t), listen(t)}
	addrs := []string{ls[0].Addr().String(), ls[1].Addr().String(), ls[2].Addr().String()}
	backend := t.TempDir()
	origins := make([]*origin.Server, 3)
	for i, l := range ls {
		o, err := origin.New(origin.Config{Listen: addrs[i], PeerListen: "127.0.0.1:0", Tracker: origin.TrackerNone, Self: addrs[i], Cluster: addrs, Replicas: 2, DataDir: t.TempDir(),
			Backend: origin.BackendConfig{Type: "fs", Root: backend}}, log, metrics.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		origins[i] = o
		serve(t, l, o)
	}
	bl := listen(t)
	bi, err := buildindex.New(buildindex.Config{Listen: bl.Addr().String(),
		Backend: buildindex.BackendConfig{Type: buildindex.BackendFS, Root: t.TempDir()}}, log, metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	serve(t, bl, bi)
	pl := listen(t)
	p, err := New(Config{Listen: pl.Addr().String(), Ring: originclient.Ring{Origins: addrs, Replicas: 2}, BuildIndex: bl.Addr().String()}, log, metrics.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	serve(t, pl, p)
	host := pl.Addr().String()

	for i := range 3 {
		img, err := random.Image(300<<10, 4)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(host+"/proxy/test:"+string(rune('a'+i)), name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push: %v", err)
		}
		got, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(got); err != nil {
			t.Fatal(err)
		}
		// Every layer is on exactly its two owners.
		layers, _ := img.Layers()
		for _, l := range layers {
			h, _ := l.Digest()
			d := core.MustParseDigest(h.String())
			held := 0
			for _, o := range origins {
				if _, err := o.Store().Stat(d); err == nil {
					held++
				}
			}
			if held < 2 {
				t.Fatalf("layer %s is on %d origins, want at least 2", d, held)
			}
		}
	}
	idx, err := random.Index(64<<10, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	iref, _ := name.ParseReference(host+"/proxy/index:v1", name.Insecure)
	if err := remote.WriteIndex(iref, idx); err != nil {
		t.Fatal(err)
	}
	gotIdx, err := remote.Index(iref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(gotIdx); err != nil {
		t.Fatal(err)
	}
}
