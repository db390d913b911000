package bench

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/store"
)

// SwarmOptions configures `docket bench swarm`.
type SwarmOptions struct {
	Agents int   // N (default 10)
	Size   int64 // blob bytes (default 128 MiB)
	Rate   int64 // bytes per second each way for every host, the origin too (default 8 MiB/s)
	// Shaper enforces Rate: "tc" puts each host in its own network namespace, shaped by the
	// kernel (needs root); "app" runs every host on 127.0.0.1 with Docket's own token buckets
	// (the scheduler's bandwidth limits on the origin and every agent).
	Shaper   string
	Baseline bool // also measure every agent pulling from the origin directly
	// Floor also measures the shaped network itself (tc only): every agent sends Size bytes
	// to the next over one plain TCP connection while receiving as much from the one before
	// (floorRound), the floor under the swarm's times on this machine.
	Floor bool
	// Backend is where the origin's blobs live: "fs" (default; the blob is already on the
	// origin's disk) or "s3" (the blob is only in a bucket and the origin starts empty; a blob
	// on the origin's disk is measured in the same run, as the warm figures to compare with).
	Backend      string
	VersitygwBin string    // the S3 server for --backend s3 (default: versitygw from PATH or GOPATH/bin)
	DocketBin    string    // the docket binary (default: this executable)
	WorkDir      string    // scratch space (default: a temp dir, removed afterwards)
	Out          io.Writer // table and summary line
}

// Ports of the components inside the benchmark network.
const (
	swarmOriginPort     = 15002
	swarmTrackerPort    = 15003
	swarmBuildIndexPort = 15004
	swarmAgentPort      = 16000
	swarmOriginPeerPort = 15005
	swarmBucketPort     = 15006
	swarmAgentPeerPort  = 16100
	// swarmStartDelay is how far ahead of now every fetcher is told to start, so that all
	// processes are running and waiting when the swarm is released.
	swarmStartDelay = 2 * time.Second
)

func (o *SwarmOptions) applyDefaults() error {
	if o.Agents <= 0 {
		o.Agents = 10
	}
	if o.Agents > 200 {
		return fmt.Errorf("--agents %d: at most 200", o.Agents)
	}
	if o.Size <= 0 {
		o.Size = 128 << 20
	}
	if o.Rate <= 0 {
		o.Rate = 8 << 20
	}
	if o.Shaper == "" {
		o.Shaper = "tc"
	}
	if o.Shaper != "tc" && o.Shaper != "app" {
		return fmt.Errorf("--shaper %q: want tc or app", o.Shaper)
	}
	if o.Backend == "" {
		o.Backend = "fs"
	}
	if o.Backend != "fs" && o.Backend != "s3" {
		return fmt.Errorf("--backend %q: want fs or s3", o.Backend)
	}
	if o.Shaper == "app" && o.Floor {
		return fmt.Errorf("--floor needs --shaper tc: without namespaces nothing shapes plain TCP")
	}
	if o.Shaper == "app" && o.Baseline {
		return fmt.Errorf("--baseline needs --shaper tc: the token buckets shape the peer protocol, not the origin's HTTP")
	}
	if o.DocketBin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.DocketBin = exe
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	return nil
}

// SwarmResult holds completion times as multiples of the ideal Size/Rate and the origin's
// egress as a multiple of Size. With the s3 backend they are the cold origin's, and Warm holds
// the same figures for a blob already on the origin's disk.
type SwarmResult struct {
	P50, P99, Max, OriginEgress, BaselineMax float64
	Warm                                     *SwarmResult
	// Floor holds the floor round's p50, p99 and max (with Floor), as multiples of the ideal.
	Floor *SwarmResult
}

// RunSwarm starts an origin and N agents, each in its own shaped network namespace, and a
// tracker and build-index on the bridge; every agent pulls one blob at once.
func RunSwarm(ctx context.Context, o SwarmOptions) (SwarmResult, error) {
	if err := o.applyDefaults(); err != nil {
		return SwarmResult{}, err
	}
	work := o.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "docket-swarm-")
		if err != nil {
			return SwarmResult{}, err
		}
		defer os.RemoveAll(d)
		work = d
	}
	h, err := newSwarmHosts(o)
	if err != nil {
		return SwarmResult{}, err
	}
	defer h.close()

	// The blobs exist only on the origin, written into its store before it starts, or (s3)
	// only in the bucket, the origin starting empty.
	originDir := filepath.Join(work, "origin")
	var bucket *swarmBucket
	if o.Backend == "s3" {
		if bucket, err = newSwarmBucket(o.VersitygwBin, work); err != nil {
			return SwarmResult{}, err
		}
	}
	// place makes a blob of o.Size random bytes and puts it in the bucket (cold) or on the
	// origin's disk.
	wants := make(map[core.Digest]FetchWant) // what the fetchers check, by blob
	place := func(cold bool) (core.Digest, error) {
		data, d := randomBlob(o.Size)
		wants[d] = FetchWant{Digest: d, Size: o.Size, CRC32C: crc32.Checksum(data, castagnoli), UseCRC: true}
		if cold {
			return d, bucket.put(ctx, work, d, data)
		}
		return d, putStore(ctx, originDir, d, data)
	}
	cold := bucket != nil
	blob, err := place(cold)
	if err != nil {
		return SwarmResult{}, err
	}
	var warmBlob, baselineBlob core.Digest
	if cold {
		if warmBlob, err = place(false); err != nil {
			return SwarmResult{}, err
		}
	}
	if o.Baseline {
		if baselineBlob, err = place(cold); err != nil {
			return SwarmResult{}, err
		}
	}

	originAddr, trackerAddr, indexAddr := h.originAddr, h.trackerAddr, h.indexAddr
	var procs []*process
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	// startIn runs bin with args (inside namespace ns unless it is "") and waits until
	// readyURL answers.
	startIn := func(name, ns, readyURL, bin string, args ...string) error {
		if ns != "" {
			bin, args = "ip", append([]string{"netns", "exec", ns, bin}, args...)
		}
		p, err := startProcess(ctx, filepath.Join(work, name+".log"), readyURL, bin, args...)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		return nil
	}
	// start runs `docket COMPONENT --config` with the given configuration.
	start := func(component, name, ns, readyURL, config string) error {
		cfg := filepath.Join(work, name+".yaml")
		if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
			return err
		}
		return startIn(name, ns, readyURL, o.DocketBin, component, "--config", cfg)
	}
	if err := start("tracker", "tracker", "", "http://"+trackerAddr+"/health", fmt.Sprintf(
		"listen: %q\norigins: [%q]\nreplicas: 1\n", trackerAddr, originAddr)); err != nil {
		return SwarmResult{}, err
	}
	if err := start("build-index", "build-index", "", "http://"+indexAddr+"/health", fmt.Sprintf(
		"listen: %q\nbackend:\n  type: fs\n  root: %q\n", indexAddr, filepath.Join(work, "build-index"))); err != nil {
		return SwarmResult{}, err
	}
	originBackend := fmt.Sprintf("backend:\n  type: fs\n  root: %q\n", filepath.Join(work, "backend"))
	if cold {
		if err := startIn("bucket", h.originNS, "http://"+h.bucketReady+"/health", bucket.bin, bucket.args(h.bucketListen)...); err != nil {
			return SwarmResult{}, err
		}
		originBackend = bucket.backendConfig(h.bucketAddr)
	}
	if err := start("origin", "origin", h.originNS, "http://"+originAddr+"/health", fmt.Sprintf(
		"listen: %q\nself: %q\ncluster: [%q]\nreplicas: 1\ndata_dir: %q\n%speer_listen: %q\ntracker: %q\n%s",
		h.originListen, originAddr, originAddr, originDir, originBackend, h.originPeer, trackerAddr, h.scheduler)); err != nil {
		return SwarmResult{}, err
	}
	for i := range o.Agents {
		name := "agent-" + strconv.Itoa(i)
		for attempt := 1; ; attempt++ {
			err := start("agent", name, h.agentNS(i), "http://"+h.agentAddr(i)+"/health", fmt.Sprintf(
				"listen: %q\ndata_dir: %q\norigins: [%q]\nreplicas: 1\nbuild_index: %q\npeer_listen: %q\ntracker: %q\n%s",
				h.agentListen(i), filepath.Join(work, name), originAddr, indexAddr, h.agentPeer(i), trackerAddr, h.scheduler))
			if err == nil {
				break
			}
			if h.reassign == nil || attempt == 3 || !portTaken(filepath.Join(work, name+".log")) {
				return SwarmResult{}, err
			}
			if err := h.reassign(i); err != nil {
				return SwarmResult{}, err
			}
		}
	}

	ideal := float64(o.Size) / float64(o.Rate)
	// measure pulls d through every agent at once.
	measure := func(d core.Digest) ([]float64, SwarmResult, error) {
		url := func(i int) string {
			return fmt.Sprintf("http://%s/v2/bench/swarm/blobs/%s", h.agentLocal(i), d)
		}
		times, egress, err := swarmRound(ctx, o, h, url, wants[d], 1)
		if err != nil {
			return nil, SwarmResult{}, err
		}
		// A pull ends before its agent has stored the blob (fsync, rename): the next round
		// starts once every agent has, so that this one's write-out does not run into it.
		settle := FetchWant{Digest: d, Head: true}
		if _, _, err := swarmRound(ctx, o, h, url, settle, 1); err != nil {
			return nil, SwarmResult{}, fmt.Errorf("waiting for the agents to store the blob: %w", err)
		}
		r := spread(times, ideal)
		r.OriginEgress = float64(egress) / float64(o.Size)
		return times, r, nil
	}
	type series struct {
		name  string
		times []float64
	}
	var columns []series
	var warm SwarmResult
	if cold {
		times, r, err := measure(warmBlob)
		if err != nil {
			return SwarmResult{}, err
		}
		warm = r
		columns = append(columns, series{"warm", times})
	}
	times, res, err := measure(blob)
	if err != nil {
		return SwarmResult{}, err
	}
	if cold {
		res.Warm = &warm
	}
	if o.Baseline {
		baseTimes, _, err := swarmRound(ctx, o, h, func(int) string {
			return fmt.Sprintf("http://%s/blobs/%s", originAddr, baselineBlob)
		}, wants[baselineBlob], o.Agents)
		if err != nil {
			return SwarmResult{}, err
		}
		res.BaselineMax = slices.Max(baseTimes) / ideal
		columns = append(columns, series{"baseline", baseTimes})
	}
	if o.Floor {
		floorTimes, err := floorRound(ctx, o, h)
		if err != nil {
			return SwarmResult{}, err
		}
		floor := spread(floorTimes, ideal)
		res.Floor = &floor
		columns = append(columns, series{"floor", floorTimes})
	}
	tw := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "agent\tseconds\tx ideal\t")
	for _, c := range columns {
		fmt.Fprintf(tw, "%s seconds\t%s x ideal\t", c.name, c.name)
	}
	fmt.Fprintln(tw)
	for i, s := range times {
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t", i, s, s/ideal)
		for _, c := range columns {
			fmt.Fprintf(tw, "%.2f\t%.2f\t", c.times[i], c.times[i]/ideal)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return res, err
	}
	if cold {
		fmt.Fprintf(o.Out, "backend=s3: the columns without a name are a blob only in the bucket, pulled through a cold origin\n"+
			"warm p50=%.2f p99=%.2f max=%.2f origin_egress=%.2f; cold/warm p99=%.3f max=%.3f\n",
			warm.P50, warm.P99, warm.Max, warm.OriginEgress, res.P99/warm.P99, res.Max/warm.Max)
	}
	if f := res.Floor; f != nil {
		fmt.Fprintf(o.Out, "floor (each agent sending %d bytes to the next over plain TCP, same shaped network) "+
			"p50=%.2f p99=%.2f max=%.2f; swarm/floor p99=%.3f\n", o.Size, f.P50, f.P99, f.Max, res.P99/f.P99)
	}
	fmt.Fprintf(o.Out, "swarm agents=%d size=%d rate=%d p50=%.2f p99=%.2f max=%.2f origin_egress=%.2f baseline_max=%.2f\n",
		o.Agents, o.Size, o.Rate, res.P50, res.P99, res.Max, res.OriginEgress, res.BaselineMax)
	return res, nil
}

// portTaken reports whether the log of a process that failed to start says one of its ports
// was in use.
func portTaken(logPath string) bool {
	b, err := os.ReadFile(logPath)
	return err == nil && bytes.Contains(b, []byte("address already in use"))
}

// spread is the p50, p99 and max of a round's times, as multiples of ideal.
func spread(times []float64, ideal float64) SwarmResult {
	return SwarmResult{P50: nearestRank(times, 0.50) / ideal, P99: nearestRank(times, 0.99) / ideal,
		Max: slices.Max(times) / ideal}
}

// inAgentNS returns args (a binary and its arguments) run in agent i's namespace, if it has one.
func (h *swarmHosts) inAgentNS(i int, args ...string) []string {
	if ns := h.agentNS(i); ns != "" {
		return append([]string{"ip", "netns", "exec", ns}, args...)
	}
	return args
}

// roundTiming is when a round's hosts are released, far enough ahead that all of them are
// running and waiting by then, and how long each may take at most: twenty times the ideal,
// or twice the time for copies of the blob to cross one link if more (the baseline round,
// where the origin's link carries one copy per agent).
func (o SwarmOptions) roundTiming(copies int) (at time.Time, timeout time.Duration) {
	at = time.Now().Add(swarmStartDelay + time.Duration(o.Agents)*20*time.Millisecond)
	ideal := float64(o.Size) / float64(o.Rate) * float64(time.Second)
	return at, time.Duration(float64(max(20, 2*copies))*ideal) + time.Minute
}

// swarmRound releases one fetcher per agent at the same instant and returns each one's
// completion time in seconds and the bytes that left the origin's namespace meanwhile;
// copies is how many copies of the blob one link has to carry (see roundTiming).
func swarmRound(ctx context.Context, o SwarmOptions, h *swarmHosts, url func(i int) string, want FetchWant, copies int) ([]float64, int64, error) {
	before, err := h.originEgress()
	if err != nil {
		return nil, 0, err
	}
	at, timeout := o.roundTiming(copies)
	cmds := make([][]string, o.Agents)
	for i := range o.Agents {
		args := append([]string{o.DocketBin, "bench", "fetch", "--at", strconv.FormatInt(at.UnixNano(), 10)}, want.args()...)
		cmds[i] = h.inAgentNS(i, append(args, url(i))...)
	}
	times, err := runEach(ctx, timeout, cmds)
	if err != nil {
		return nil, 0, err
	}
	after, err := h.originEgress()
	if err != nil {
		return nil, 0, err
	}
	return times, after - before, nil
}

// runEach runs every command (its binary and arguments) at once, each for at most timeout,
// and returns the seconds each printed as its only output, in order. It fails with the
// first command that fails, with its standard error.
func runEach(ctx context.Context, timeout time.Duration, cmds [][]string) ([]float64, error) {
	type result struct {
		i   int
		sec float64
		err error
	}
	results := make(chan result, len(cmds))
	for i, c := range cmds {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			cmd := exec.CommandContext(cctx, c[0], c[1:]...)
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Run(); err != nil {
				results <- result{i: i, err: fmt.Errorf("host %d: %v: %s", i, err, stderr.String())}
				return
			}
			sec, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
			results <- result{i: i, sec: sec, err: err}
		}()
	}
	times := make([]float64, len(cmds))
	var firstErr error
	for range cmds {
		r := <-results
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
		times[r.i] = r.sec
	}
	return times, firstErr
}

// castagnoli is the CRC-32C table (hardware-assisted on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FetchWant is what a fetched body must be: Digest's content, checked by SHA-256 as a
// registry client checks it, or, with UseCRC, Size bytes with CRC-32C CRC32C. The swarm
// benchmark uses the CRC: its N fetchers share the machine's cores with the N agents they
// measure, and N SHA-256 passes at the same moment (one per host, each on its own CPU in a
// real fleet) would be timed as the swarm's; the agent serving the body verified its
// SHA-256 before it did.
type FetchWant struct {
	Digest core.Digest
	Size   int64
	CRC32C uint32
	UseCRC bool
	// Head asks with HEAD instead: an agent answers it once it holds the whole blob (published
	// in its store), so it tells when an agent is done with a round, not when its pull was.
	Head bool
}

// args are want's `docket bench fetch` flags.
func (w FetchWant) args() []string {
	a := []string{"--digest", w.Digest.String()}
	if w.Head {
		a = append(a, "--head")
	}
	if w.UseCRC {
		a = append(a, "--size", strconv.FormatInt(w.Size, 10), "--crc32c", fmt.Sprintf("%08x", w.CRC32C))
	}
	return a
}

// check reads body to its end and compares it with want.
func (w FetchWant) check(body io.Reader) error {
	if !w.UseCRC {
		g := w.Digest.NewDigester()
		if _, err := io.Copy(g, body); err != nil {
			return err
		}
		if got := g.Digest(); got != w.Digest {
			return fmt.Errorf("content is %s, want %s", got, w.Digest)
		}
		return nil
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, body)
	if err != nil {
		return err
	}
	if n != w.Size || h.Sum32() != w.CRC32C {
		return fmt.Errorf("content has %d bytes with CRC-32C %08x, want %d with %08x (%s)", n, h.Sum32(), w.Size, w.CRC32C, w.Digest)
	}
	return nil
}

// RunFetch waits until at, downloads url, checks the body against want, and prints the
// seconds from at to the last byte. It is what every agent's namespace runs in the swarm
// benchmark (`docket bench fetch`).
func RunFetch(ctx context.Context, url string, at time.Time, want FetchWant, out io.Writer) error {
	select {
	case <-time.After(time.Until(at)):
	case <-ctx.Done():
		return ctx.Err()
	}
	method := http.MethodGet
	if want.Head {
		method = http.MethodHead
	}
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: status %d: %s", method, url, resp.StatusCode, b)
	}
	if want.Head {
		if got := resp.Header.Get("Docker-Content-Digest"); got != want.Digest.String() {
			return fmt.Errorf("HEAD %s: Docker-Content-Digest %q, want %s", url, got, want.Digest)
		}
	} else if err := want.check(resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	_, err = fmt.Fprintf(out, "%.4f\n", time.Since(at).Seconds())
	return err
}

// randomBlob returns size random bytes and their digest.
func randomBlob(size int64) ([]byte, core.Digest) {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	data := make([]byte, size)
	_, _ = rand.NewChaCha8(seed).Read(data)
	return data, core.SHA256Digest(data)
}

// putStore writes blob d into the store at dir with its metainfo, as an origin holds a blob
// pushed to it (it computes the metainfo at commit).
func putStore(ctx context.Context, dir string, d core.Digest, data []byte) error {
	st, err := store.New(dir, store.Options{})
	if err != nil {
		return err
	}
	if err := st.Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		return err
	}
	_, err = st.MetaInfo(ctx, d)
	return err
}

// nearestRank returns the p-quantile of v by the nearest-rank method.
func nearestRank(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}
