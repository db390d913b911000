package membership

import (
	"context"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/docket-p2p/docket/lib/membership/membershiptest"
)

func TestResolveAddresses(t *testing.T) {
	s := membershiptest.StartDNS(t)
	s.SetA("origins.test.", "10.0.0.2", "10.0.0.1", "fd00::1")
	got, err := Source{DNS: "origins.test.:15002"}.Resolve(context.Background(), s.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.1:15002", "10.0.0.2:15002", "[fd00::1]:15002"}
	if !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	if _, err := (Source{DNS: "missing.test.:1"}).Resolve(context.Background(), s.Resolver()); err == nil {
		t.Fatal("a name that does not exist resolved")
	}
}

func TestResolveSRV(t *testing.T) {
	s := membershiptest.StartDNS(t)
	target := dnsmessage.MustNewName("origin-0.origins.test.")
	s.SetSRV("_docket._tcp.origins.test.",
		dnsmessage.SRVResource{Priority: 1, Weight: 1, Port: 15002, Target: target},
		dnsmessage.SRVResource{Priority: 1, Weight: 1, Port: 15012, Target: dnsmessage.MustNewName("origin-1.origins.test.")})
	got, err := Source{SRV: "_docket._tcp.origins.test."}.Resolve(context.Background(), s.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"origin-0.origins.test:15002", "origin-1.origins.test:15012"}
	if !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
}

// TestWatch: a change of records is reported at the next tick, an unchanged answer is not,
// and a failed lookup keeps the last members.
func TestWatch(t *testing.T) {
	s := membershiptest.StartDNS(t)
	s.SetA("origins.test.", "10.0.0.1")
	src := Source{DNS: "origins.test.:15002"}
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	changes := make(chan []string, 10)
	errs := make(chan error, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		src.Watch(ctx, s.Resolver(), []string{"10.0.0.1:15002"}, tick,
			func(ms []string) { changes <- ms }, func(err error) { errs <- err })
	}()
	defer func() { cancel(); <-done }()
	step := func() { tick <- time.Time{}; tick <- time.Time{} } // the second send waits for the first pass
	step()
	if len(changes) != 0 {
		t.Fatalf("unchanged members reported: %v", <-changes)
	}
	s.SetA("origins.test.", "10.0.0.1", "10.0.0.3")
	step()
	if got := <-changes; !slices.Equal(got, []string{"10.0.0.1:15002", "10.0.0.3:15002"}) {
		t.Fatalf("new members %v", got)
	}
	s.SetA("origins.test.") // NXDOMAIN
	step()
	if len(changes) != 0 || len(errs) == 0 {
		t.Fatalf("a failed lookup: %d changes, %d errors; want 0 and some", len(changes), len(errs))
	}
}
