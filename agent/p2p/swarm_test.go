package p2p_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/docket-p2p/docket/agent"
	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/internal/bttest"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/lib/scheduler"
	"github.com/docket-p2p/docket/lib/scheduler/bandwidth"
	"github.com/docket-p2p/docket/lib/wire"
	"github.com/docket-p2p/docket/origin"
	"github.com/docket-p2p/docket/origin/client"
	"github.com/docket-p2p/docket/tracker"
	trackerclient "github.com/docket-p2p/docket/tracker/client"
)

const repo = "lib/swarm"

var discard = slog.New(slog.DiscardHandler)

// served is a component serving on a listener until stop; kill closes it first, as a crash
// would, without waiting for the requests in flight.
type served struct {
	scope tally.TestScope
	stop  func()
	kill  func()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// serve runs srv on l until the returned stop (also run at cleanup), then closes it.
func serve(t *testing.T, srv interface {
	Serve(context.Context, net.Listener) error
	Close() error
}, l net.Listener, scope tally.TestScope) *served {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			srv.Close()
		})
	}
	kill := func() {
		once.Do(func() {
			srv.Close()
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return &served{scope: scope, stop: stop, kill: kill}
}

// swarm is an origin, a tracker and agents on 127.0.0.1.
type swarm struct {
	originAddr, trackerAddr string
	origin                  *served
	agents                  []*served
	agentURLs               []string
}

type swarmOptions struct {
	agents          int
	originAnnounces bool // the origin announces to the tracker (else it is never handed out)
	agentIngress    int64
	rate            int64  // every host's peer traffic each way, bytes/s (0: unlimited)
	tracker         string // another tracker's host:port (opentracker) instead of Docket's
	stallTimeout    time.Duration
	deletionPoll    time.Duration // agents' deletion_poll_interval (0: the default)
}

func startSwarm(t *testing.T, o swarmOptions) *swarm {
	t.Helper()
	ol, tl := listen(t), listen(t)
	s := &swarm{originAddr: ol.Addr().String(), trackerAddr: tl.Addr().String()}

	if o.tracker != "" {
		tl.Close()
		s.trackerAddr = o.tracker
	} else {
		treg, _ := metrics.NewTest()
		tr, err := tracker.New(tracker.Config{Listen: s.trackerAddr, Ring: client.Ring{Origins: []string{s.originAddr}, Replicas: 1},
			AnnounceInterval: time.Second, PeerTTL: 10 * time.Second}, discard, treg)
		if err != nil {
			t.Fatal(err)
		}
		serve(t, tr, tl, nil)
	}

	oreg, oscope := metrics.NewTest()
	announceTo := s.trackerAddr
	if !o.originAnnounces {
		announceTo = origin.TrackerNone
	}
	or, err := origin.New(origin.Config{Listen: s.originAddr, DataDir: t.TempDir(), Replicas: 1,
		PeerListen: "127.0.0.1:0", Tracker: announceTo,
		Scheduler: scheduler.Config{Bandwidth: bandwidth.Config{IngressBytesPerSec: o.rate, EgressBytesPerSec: o.rate}},
		Backend:   origin.BackendConfig{Type: "fs", Root: t.TempDir()}}, discard, oreg)
	if err != nil {
		t.Fatal(err)
	}
	s.origin = serve(t, or, ol, oscope)

	for range o.agents {
		areg, ascope := metrics.NewTest()
		al := listen(t)
		a, err := agent.New(agent.Config{Listen: al.Addr().String(), DataDir: t.TempDir(),
			Ring: client.Ring{Origins: []string{s.originAddr}, Replicas: 1}, BuildIndex: closedAddr(t),
			PeerListen: "127.0.0.1:0", Tracker: s.trackerAddr, SeedTime: time.Minute, DeletionPollInterval: o.deletionPoll,
			Scheduler: scheduler.Config{ProgressTimeout: 5 * time.Second, StallTimeout: o.stallTimeout, Bandwidth: bandwidth.Config{IngressBytesPerSec: max(o.agentIngress, o.rate), EgressBytesPerSec: o.rate}},
		}, discard, areg)
		if err != nil {
			t.Fatal(err)
		}
		s.agents = append(s.agents, serve(t, a, al, ascope))
		s.agentURLs = append(s.agentURLs, "http://"+al.Addr().String())
	}
	return s
}

func closedAddr(t *testing.T) string {
	l := listen(t)
	defer l.Close()
	return l.Addr().String()
}

// push commits a random blob of n bytes to the origin.
func (s *swarm) push(t *testing.T, n int) ([]byte, core.Digest) {
	t.Helper()
	ctx := context.Background()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	d := core.SHA256Digest(data)
	c := client.New(s.originAddr, nil)
	if err := c.StartUpload(ctx, repo, "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchUpload(ctx, repo, "u", 0, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitUpload(ctx, repo, "u", d); err != nil {
		t.Fatal(err)
	}
	return data, d
}

// pull fetches d through agent i's registry API and checks it byte for byte.
func (s *swarm) pull(i int, d core.Digest, want []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v2/%s/blobs/%s", s.agentURLs[i], repo, d), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent %d: status %d: %s", i, resp.StatusCode, got)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("agent %d: blob differs (%d bytes, want %d)", i, len(got), len(want))
	}
	return nil
}

// pullAll pulls d through the agents idx at once.
func (s *swarm) pullAll(t *testing.T, d core.Digest, want []byte, idx ...int) {
	t.Helper()
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for k, i := range idx {
		wg.Go(func() { errs[k] = s.pull(i, d, want) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// counter sums the counters named name (any prefix) with the given peer tag ("" for any).
func counter(scope tally.TestScope, name, peer string) int64 {
	var sum int64
	for _, c := range scope.Snapshot().Counters() {
		if strings.HasSuffix(c.Name(), name) && (peer == "" || c.Tags()["peer"] == peer) {
			sum += c.Value()
		}
	}
	return sum
}

// All agents start at once on a blob only the origin holds: each gets it byte for byte, the
// agents trade pieces among themselves, and the super-seeding origin sends little more than
// one copy.
func TestSwarmColdStart(t *testing.T) {
	const agents, size = 4, 16 << 20
	s := startSwarm(t, swarmOptions{agents: agents, originAnnounces: true})
	data, d := s.push(t, size)
	start := time.Now()
	s.pullAll(t, d, data, 0, 1, 2, 3)
	t.Logf("%d agents pulled %d MiB in %s", agents, size>>20, time.Since(start))
	var fromAgents, fallbacks int64
	for _, a := range s.agents {
		fromAgents += counter(a.scope, "p2p.bytes_in", "agent")
		fallbacks += counter(a.scope, "http_fallbacks", "")
	}
	originOut := counter(s.origin.scope, "p2p.bytes_out", "")
	t.Logf("origin sent %.2f copies over the peer protocol; agents got %.2f copies from each other",
		float64(originOut)/size, float64(fromAgents)/size)
	if fallbacks != 0 {
		t.Fatalf("%d pulls fell back to HTTP", fallbacks)
	}
	if fromAgents == 0 {
		t.Fatal("no bytes moved between agents")
	}
	if originOut < size || float64(originOut) > 1.5*size {
		t.Fatalf("origin sent %d bytes, want between 1 and 1.5 times %d", originOut, size)
	}
}

// An agent killed mid-transfer does not stop the others.
func TestSwarmAgentKilled(t *testing.T) {
	const size = 8 << 20
	s := startSwarm(t, swarmOptions{agents: 4, originAnnounces: true, agentIngress: 2 << 20})
	data, d := s.push(t, size)
	killed := make(chan error, 1)
	go func() { killed <- s.pull(0, d, data) }()
	done := make(chan struct{})
	go func() { defer close(done); s.pullAll(t, d, data, 1, 2, 3) }()
	// Stop agent 0 once it holds some of the blob (8 MiB at 2 MiB/s takes 4 s).
	deadline := time.Now().Add(30 * time.Second)
	for counter(s.agents[0].scope, "p2p.pieces_verified", "") < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s.agents[0].kill()
	if err := <-killed; err == nil {
		t.Fatal("agent 0 finished although it was stopped mid-transfer")
	}
	<-done
}

// When no peer answers (the tracker hands out only an address nobody listens on, and the
// origin does not announce), the pull falls back to the origin over HTTP.
func TestSwarmHTTPFallback(t *testing.T) {
	const size = 1 << 20
	s := startSwarm(t, swarmOptions{agents: 1})
	data, d := s.push(t, size)
	m, err := client.New(s.originAddr, nil).MetaInfo(context.Background(), repo, d)
	if err != nil {
		t.Fatal(err)
	}
	dead := closedAddr(t)
	_, port, _ := net.SplitHostPort(dead)
	var p uint16
	fmt.Sscan(port, &p)
	if _, err := trackerclient.New(s.trackerAddr, nil).Announce(context.Background(), trackerclient.AnnounceRequest{
		InfoHash: m.InfoHash, PeerID: core.NewPeerID(), Port: p, Left: 0, Event: "completed",
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.pull(0, d, data); err != nil {
		t.Fatal(err)
	}
	if n := counter(s.agents[0].scope, "http_fallbacks", ""); n != 1 {
		t.Fatalf("%d HTTP fallbacks, want 1", n)
	}
}

// All origins offline when an agent starts: a blob that peers already hold is still pulled,
// with the metainfo the tracker has cached.
func TestSwarmOriginsOffline(t *testing.T) {
	const size = 2 << 20
	s := startSwarm(t, swarmOptions{agents: 3, originAnnounces: true})
	data, d := s.push(t, size)
	s.pullAll(t, d, data, 0, 1)
	s.origin.stop()
	if err := s.pull(2, d, data); err != nil {
		t.Fatal(err)
	}
	// Blocks of the end game may arrive twice, so at least the size.
	if got := counter(s.agents[2].scope, "p2p.bytes_in", "agent"); got < size {
		t.Fatalf("agent 2 got %d bytes from agents, want %d", got, size)
	}
	if got := counter(s.agents[2].scope, "p2p.bytes_in", "origin"); got != 0 {
		t.Fatalf("agent 2 got %d bytes from the stopped origin", got)
	}
}

// Three bad peers join the swarm through the tracker, each claiming the whole blob: one sends
// corrupt blocks, one refuses what it claims, one never answers. The agents detect and ban
// each of them (peers_banned by reason) and still get the blob byte for byte over the peer
// protocol, without falling back to HTTP.
func TestSwarmBadPeers(t *testing.T) {
	const agents, size = 3, 8 << 20
	s := startSwarm(t, swarmOptions{agents: agents, originAnnounces: true, stallTimeout: time.Second})
	data, d := s.push(t, size)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := trackerclient.New(s.trackerAddr, nil).MetaInfo(ctx, repo, d)
	if err != nil {
		t.Fatal(err)
	}
	tc := trackerclient.New(s.trackerAddr, nil)
	for _, serve := range []func(*wire.Conn){bttest.Corrupt, bttest.Lie, bttest.Stall} {
		addr, id := bttest.FakeAgent(t, m, serve)
		if _, err := tc.Announce(ctx, trackerclient.AnnounceRequest{InfoHash: m.InfoHash, PeerID: id, Port: addr.Port(), Event: "started"}); err != nil {
			t.Fatal(err)
		}
	}
	s.pullAll(t, d, data, 0, 1, 2)
	bans := make(map[string]int64)
	var fallbacks int64
	for _, a := range s.agents {
		fallbacks += counter(a.scope, "http_fallbacks", "")
		for _, c := range a.scope.Snapshot().Counters() {
			if strings.HasSuffix(c.Name(), "peers_banned") {
				bans[c.Tags()["reason"]] += c.Value()
			}
		}
	}
	t.Logf("bans by reason over %d agents: %v", agents, bans)
	if fallbacks != 0 {
		t.Fatalf("%d pulls fell back to HTTP", fallbacks)
	}
	for _, reason := range []string{"bad_piece", "lying", "stalled"} {
		if bans[reason] == 0 {
			t.Errorf("no agent banned a peer for %s", reason)
		}
	}
}

// TestSwarmDeletedBlobNotServed: a blob deleted on the origins (as garbage collection does)
// leaves the agents' caches and swarms. An agent that asks for it afterwards gets 404, not a
// copy from a peer that was still seeding it.
func TestSwarmDeletedBlobNotServed(t *testing.T) {
	s := startSwarm(t, swarmOptions{agents: 2, originAnnounces: true, deletionPoll: 20 * time.Millisecond})
	data, d := s.push(t, 1<<20)
	s.pullAll(t, d, data, 0) // agent 0 holds and seeds it
	if err := client.New(s.originAddr, nil).Delete(context.Background(), repo, d); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.pull(0, d, data)
		if err != nil && strings.Contains(err.Error(), "status 404") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent 0 still serves the deleted blob 10 s after the delete (%v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.pull(1, d, data); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("agent 1 after the delete: %v, want 404", err)
	}
	if got := counter(s.agents[1].scope, "p2p.bytes_in", ""); got != 0 {
		t.Errorf("agent 1 received %d bytes of the deleted blob from peers", got)
	}
}

// A pull of a blob the agent is still downloading streams it: its first bytes arrive long
// before the last, the body is the blob byte for byte, and the download the pull started goes
// on to publish the blob after the response has ended (the next pull is served from it).
func TestSwarmPullStreams(t *testing.T) {
	const size, rate = 8 << 20, 4 << 20 // two seconds at the rate
	s := startSwarm(t, swarmOptions{agents: 1, originAnnounces: true, rate: rate})
	data, d := s.push(t, size)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v2/%s/blobs/%s", s.agentURLs[0], repo, d), nil)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != size {
		t.Fatalf("status %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	first := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	firstByte := time.Since(start)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	lastByte := time.Since(start)
	t.Logf("first byte after %s, last after %s", firstByte, lastByte)
	if !bytes.Equal(append(first, rest...), data) {
		t.Fatalf("blob differs (%d bytes, want %d)", 1+len(rest), size)
	}
	if firstByte > lastByte/2 {
		t.Errorf("first byte after %s of %s: the pull waited for the download", firstByte, lastByte)
	}
	deadline := time.Now().Add(10 * time.Second)
	for counter(s.agents[0].scope, "downloads", "") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the download was not published after the pull ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	received := counter(s.agents[0].scope, "p2p.bytes_in", "")
	if err := s.pull(0, d, data); err != nil {
		t.Fatal(err)
	}
	if n, got := counter(s.agents[0].scope, "downloads", ""), counter(s.agents[0].scope, "p2p.bytes_in", ""); n != 1 || got != received {
		t.Errorf("after a second pull: %d downloads, %d bytes received (was %d); want it served from the cache", n, got, received)
	}
}
