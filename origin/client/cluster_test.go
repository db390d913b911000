package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/hashring"
	"github.com/docket-p2p/docket/lib/membership"
	"github.com/docket-p2p/docket/lib/membership/membershiptest"
)

// fakeClient is a hand-written Client whose Stat answers from a script and logs the order of
// calls across all fakes of a test.
type fakeClient struct {
	Client // unused methods panic
	addr   string
	err    error // Stat's answer; nil means found
	log    *callLog
}

type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeClient) Addr() string { return f.addr }

func (f *fakeClient) Stat(ctx context.Context, ns string, d core.Digest) (int64, error) {
	f.log.mu.Lock()
	f.log.calls = append(f.log.calls, f.addr)
	f.log.mu.Unlock()
	return 7, f.err
}

func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

func fakeCluster(t *testing.T, errs map[string]error) (*Cluster, *callLog, *time.Time) {
	t.Helper()
	var addrs []string
	for a := range errs {
		addrs = append(addrs, a)
	}
	c, err := NewCluster(addrs, len(addrs), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := &callLog{}
	for a, e := range errs {
		c.members.Load().clients[a] = &fakeClient{addr: a, err: e, log: log}
	}
	now := time.Unix(1000, 0)
	c.health = NewHealth(func() time.Time { return now })
	return c, log, &now
}

func TestClusterTriesFailedOwnersLast(t *testing.T) {
	ctx := context.Background()
	d := core.SHA256Digest([]byte("blob"))
	c, log, now := fakeCluster(t, map[string]error{"a:1": nil, "b:1": nil, "c:1": nil})
	ring := c.Ring().Owners(d.String())
	first := c.members.Load().clients[ring[0]].(*fakeClient)
	first.err = fmt.Errorf("%w: refused", ErrUnavailable)
	if n, err := c.Stat(ctx, "ns", d); err != nil || n != 7 {
		t.Fatalf("Stat: %d, %v", n, err)
	}
	if got := log.take(); !slices.Equal(got, ring[:2]) {
		t.Fatalf("first call order %v, want %v", got, ring[:2])
	}
	// The failed owner is now tried last, without waiting for it.
	if _, err := c.Stat(ctx, "ns", d); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); !slices.Equal(got, ring[1:2]) {
		t.Fatalf("second call order %v, want only %v", got, ring[1:2])
	}
	// Once downFor has passed and it answers again, it is first again.
	first.err = nil
	*now = now.Add(downFor + time.Second)
	if _, err := c.Stat(ctx, "ns", d); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); !slices.Equal(got, ring[:1]) {
		t.Fatalf("after recovery %v, want %v", got, ring[:1])
	}
}

func TestClusterErrors(t *testing.T) {
	ctx := context.Background()
	d := core.SHA256Digest([]byte("blob"))
	unavailable := fmt.Errorf("%w: refused", ErrUnavailable)
	notFound := fmt.Errorf("%w: no", ErrBlobNotFound)
	bad := errors.New("origin: status 400")

	c, log, _ := fakeCluster(t, map[string]error{"a:1": unavailable, "b:1": notFound})
	if _, err := c.Stat(ctx, "ns", d); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("one down, one without the blob: %v", err)
	}
	log.take()

	c, log, _ = fakeCluster(t, map[string]error{"a:1": unavailable, "b:1": unavailable})
	if _, err := c.Stat(ctx, "ns", d); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("all down: %v", err)
	}
	if got := log.take(); len(got) != 2*clusterRounds {
		t.Fatalf("all down: %d calls (%v), want %d", len(got), got, 2*clusterRounds)
	}

	c, log, _ = fakeCluster(t, map[string]error{"a:1": bad, "b:1": nil})
	ring := c.Ring().Owners(d.String())
	c.members.Load().clients[ring[0]].(*fakeClient).err = bad
	c.members.Load().clients[ring[1]].(*fakeClient).err = nil
	if _, err := c.Stat(ctx, "ns", d); !errors.Is(err, bad) {
		t.Fatalf("a final error must not fail over: %v", err)
	}
	if got := log.take(); len(got) != 1 {
		t.Fatalf("final error: calls %v", got)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	c, _, _ = fakeCluster(t, map[string]error{"a:1": unavailable})
	if _, err := c.Stat(cctx, "ns", d); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestClusterStandIns: with every owner unavailable the stand-ins are tried, in ring order;
// an owner's "not found" is final and no stand-in is asked.
func TestClusterStandIns(t *testing.T) {
	ctx := context.Background()
	d := core.SHA256Digest([]byte("blob"))
	errs := map[string]error{"a:1": nil, "b:1": nil, "c:1": nil, "d:1": nil, "e:1": nil}
	c, log, _ := fakeCluster(t, errs)
	c.members.Load().ring = hashring.New([]string{"a:1", "b:1", "c:1", "d:1", "e:1"}, 2)
	walk := c.Ring().Walk(d.String(), 5)
	if got := c.Holders(d); len(got) != HolderSpan*2 || got[0].Addr() != walk[0] || got[3].Addr() != walk[3] {
		t.Fatalf("Holders: %d clients, want the first %d of %v", len(got), HolderSpan*2, walk)
	}
	unavailable := fmt.Errorf("%w: refused", ErrUnavailable)
	c.members.Load().clients[walk[0]].(*fakeClient).err = unavailable
	c.members.Load().clients[walk[1]].(*fakeClient).err = unavailable
	if _, err := c.Stat(ctx, "ns", d); err != nil {
		t.Fatalf("Stat with both owners down: %v", err)
	}
	if got := log.take(); !slices.Equal(got, walk[:3]) {
		t.Fatalf("calls %v, want %v", got, walk[:3])
	}

	c, log, _ = fakeCluster(t, errs)
	c.members.Load().ring = hashring.New([]string{"a:1", "b:1", "c:1", "d:1", "e:1"}, 2)
	c.members.Load().clients[walk[0]].(*fakeClient).err = unavailable
	c.members.Load().clients[walk[1]].(*fakeClient).err = fmt.Errorf("%w: no", ErrBlobNotFound)
	if _, err := c.Stat(ctx, "ns", d); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("owner says not found: %v", err)
	}
	if got := log.take(); !slices.Equal(got, walk[:2]) {
		t.Fatalf("calls %v, want only the owners %v", got, walk[:2])
	}
}

// TestClusterFollowsDNS: a cluster built from a DNS name starts with the addresses it resolves
// to, and rebuilds its ring at a resolution that finds another member; a lookup that fails
// keeps the ring.
func TestClusterFollowsDNS(t *testing.T) {
	dns := membershiptest.StartDNS(t)
	dns.SetA("origins.test.", "127.0.0.1")
	src := membership.Source{DNS: "origins.test.:15002", Resolver: dns.Resolver()}
	c, err := NewClusterFrom(context.Background(), []string{"ignored:1"}, src, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Ring().Members(); !slices.Equal(got, []string{"127.0.0.1:15002"}) {
		t.Fatalf("members %v, want the resolved address", got)
	}
	first := c.Client("127.0.0.1:15002")
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() { defer close(done); c.followDNS(ctx, src, tick, slog.New(slog.DiscardHandler)) }()
	dns.SetA("origins.test.", "127.0.0.1", "127.0.0.2")
	tick <- time.Time{}
	tick <- time.Time{}       // taken once the resolution above is over
	dns.SetA("origins.test.") // gone from DNS: the ring stays
	tick <- time.Time{}
	tick <- time.Time{} // the previous resolution is over
	cancel()
	<-done
	want := []string{"127.0.0.1:15002", "127.0.0.2:15002"}
	if got := c.Ring().Members(); !slices.Equal(got, want) {
		t.Fatalf("members after the resolutions %v, want %v", got, want)
	}
	if c.Client("127.0.0.1:15002") != first {
		t.Error("a member that stayed got a new client")
	}
	if owners := c.Owners(core.SHA256Digest([]byte("x"))); len(owners) != 2 || owners[0] == nil || owners[1] == nil {
		t.Errorf("owners %v, want both members", owners)
	}
}
