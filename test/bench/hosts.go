package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// swarmHosts is where the swarm benchmark's processes run and listen: one network namespace
// per host shaped by tc, or every host on 127.0.0.1 shaped by Docket's token buckets.
type swarmHosts struct {
	originAddr, trackerAddr, indexAddr string // as the others dial them
	originNS, originListen, originPeer string
	// The bucket of --backend s3 runs in the origin's namespace: it listens on bucketListen,
	// the origin reaches it at bucketAddr and the benchmark checks it at bucketReady.
	bucketListen, bucketAddr, bucketReady string
	scheduler                             string // YAML appended to the origin's and agents' configs
	agentNS                               func(i int) string
	agentListen, agentPeer                func(i int) string
	agentAddr                             func(i int) string // for the readiness check
	agentLocal                            func(i int) string // for the fetcher beside the agent
	originEgress                          func() (int64, error)
	// reassign gives agent i other ports after its start failed because one was taken
	// (nil where ports are fixed: every tc host has its own address).
	reassign func(i int) error
	close    func()
}

func newSwarmHosts(o SwarmOptions) (*swarmHosts, error) {
	if o.Shaper == "app" {
		return appHosts(o)
	}
	return tcHosts(o)
}

// tcHosts gives the origin and every agent a namespace; the tracker and build-index run on the
// bridge.
func tcHosts(o SwarmOptions) (*swarmHosts, error) {
	net, err := newTestNet()
	if err != nil {
		return nil, err
	}
	if err := net.addHost("o", 2, o.Rate); err != nil {
		net.close()
		return nil, err
	}
	for i := range o.Agents {
		if err := net.addHost(strconv.Itoa(i), 10+i, o.Rate); err != nil {
			net.close()
			return nil, err
		}
	}
	if err := net.staticNeighbours(); err != nil {
		net.close()
		return nil, err
	}
	root := net.addr(1)
	return &swarmHosts{
		originAddr:   fmt.Sprintf("%s:%d", net.addr(2), swarmOriginPort),
		trackerAddr:  fmt.Sprintf("%s:%d", root, swarmTrackerPort),
		indexAddr:    fmt.Sprintf("%s:%d", root, swarmBuildIndexPort),
		originNS:     net.ns("o"),
		originListen: fmt.Sprintf(":%d", swarmOriginPort),
		originPeer:   fmt.Sprintf(":%d", swarmOriginPeerPort),
		bucketListen: fmt.Sprintf(":%d", swarmBucketPort),
		bucketAddr:   hostPort(swarmBucketPort),
		bucketReady:  fmt.Sprintf("%s:%d", net.addr(2), swarmBucketPort),
		agentNS:      func(i int) string { return net.ns(strconv.Itoa(i)) },
		agentListen:  func(int) string { return fmt.Sprintf(":%d", swarmAgentPort) },
		agentPeer:    func(int) string { return fmt.Sprintf(":%d", swarmAgentPeerPort) },
		agentAddr:    func(i int) string { return fmt.Sprintf("%s:%d", net.addr(10+i), swarmAgentPort) },
		agentLocal:   func(int) string { return hostPort(swarmAgentPort) },
		originEgress: func() (int64, error) { return net.egressBytes("o") },
		close:        net.close,
	}, nil
}

// appHosts runs every process on 127.0.0.1 on free ports, with the scheduler's bandwidth
// limits on the origin and every agent; the origin's egress is what its peer protocol sent
// (its p2p bytes_out metric). A port found free may be taken by an outgoing connection before
// its agent binds it; reassign then picks others.
func appHosts(o SwarmOptions) (*swarmHosts, error) {
	ports, err := freePorts(5 + 2*o.Agents)
	if err != nil {
		return nil, err
	}
	h := &swarmHosts{
		originAddr:   hostPort(ports[0]),
		trackerAddr:  hostPort(ports[1]),
		indexAddr:    hostPort(ports[2]),
		originListen: hostPort(ports[0]),
		originPeer:   hostPort(ports[3]),
		bucketListen: hostPort(ports[4]),
		bucketAddr:   hostPort(ports[4]),
		bucketReady:  hostPort(ports[4]),
		scheduler: fmt.Sprintf("scheduler:\n  bandwidth: {ingress_bytes_per_sec: %d, egress_bytes_per_sec: %d}\n",
			o.Rate, o.Rate),
		agentNS:     func(int) string { return "" },
		agentListen: func(i int) string { return hostPort(ports[5+2*i]) },
		agentPeer:   func(i int) string { return hostPort(ports[6+2*i]) },
		close:       func() {},
	}
	h.reassign = func(i int) error {
		p, err := freePorts(2)
		if err != nil {
			return err
		}
		ports[5+2*i], ports[6+2*i] = p[0], p[1]
		return nil
	}
	h.agentAddr, h.agentLocal = h.agentListen, h.agentListen
	h.originEgress = func() (int64, error) {
		time.Sleep(metricsFlush) // the last bytes sent are in the metric once it has reported
		return scrapeSum("http://"+h.originAddr+"/metrics", "docket_origin_p2p_bytes_out")
	}
	return h, nil
}

// metricsFlush outlasts lib/metrics' report interval (1 s).
const metricsFlush = 1500 * time.Millisecond

// scrapeSum adds up the Prometheus samples of metric (every label set) at url.
func scrapeSum(url, metric string) (int64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		rest := strings.TrimPrefix(line, metric)
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return int64(sum), sc.Err()
}
