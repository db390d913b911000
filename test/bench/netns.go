package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// testNet is the benchmark's own network: a bridge in the root namespace and one network
// namespace per host, joined by veth pairs and shaped by tc in both directions. Every name
// carries one prefix, and close removes everything, also after a failure. Addresses are in
// 10.215.<id>.0/24, which exists only on this bridge and inside these namespaces.
type testNet struct {
	id     int
	bridge string
	hosts  []string // namespace names, for cleanup
	fwd    bool     // an iptables FORWARD rule was added for the bridge
}

// namespacePrefix starts every namespace and link the benchmark creates.
const namespacePrefix = "dkb"

func run(name string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// newTestNet creates the bridge with the root namespace's address (.1).
func newTestNet() (*testNet, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the tc shaper needs root (network namespaces and tc)")
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("the tc shaper needs %s (iproute2): %w", tool, err)
		}
	}
	var n *testNet
	for range 50 {
		id := 100 + rand.IntN(150)
		br := fmt.Sprintf("%s%dbr", namespacePrefix, id)
		if exec.Command("ip", "link", "show", br).Run() == nil {
			continue
		}
		out, _ := exec.Command("ip", "-4", "addr").Output()
		if bytes.Contains(out, []byte(fmt.Sprintf(" 10.215.%d.", id))) {
			continue
		}
		n = &testNet{id: id, bridge: br}
		break
	}
	if n == nil {
		return nil, fmt.Errorf("no free network id for the benchmark")
	}
	for _, c := range [][]string{
		{"link", "add", n.bridge, "type", "bridge"},
		{"addr", "add", n.addr(1) + "/24", "dev", n.bridge},
		{"link", "set", n.bridge, "up"},
	} {
		if err := run("ip", c...); err != nil {
			n.close()
			return nil, err
		}
	}
	// With br_netfilter loaded (Docker loads it), bridged frames pass the FORWARD chain,
	// whose policy is often DROP.
	if b, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables"); err == nil && strings.TrimSpace(string(b)) == "1" {
		if run("iptables", "-I", "FORWARD", "-i", n.bridge, "-o", n.bridge, "-j", "ACCEPT") == nil {
			n.fwd = true
		}
	}
	return n, nil
}

// addr returns host i's address on the benchmark network.
func (n *testNet) addr(i int) string { return fmt.Sprintf("10.215.%d.%d", n.id, i) }

func (n *testNet) ns(name string) string { return fmt.Sprintf("%s%d-%s", namespacePrefix, n.id, name) }

func (n *testNet) hostVeth(name string) string {
	return fmt.Sprintf("%s%dh%s", namespacePrefix, n.id, name)
}

// addHost creates namespace name with address host index i, capped at rate bytes per second
// each way: tbf on the bridge side of its veth for traffic into it, htb on its eth0 for
// traffic out.
func (n *testNet) addHost(name string, i int, rate int64) error {
	ns, h, p := n.ns(name), n.hostVeth(name), fmt.Sprintf("%s%dp%s", namespacePrefix, n.id, name)
	n.hosts = append(n.hosts, ns)
	bits := strconv.FormatInt(rate*8, 10) + "bit"
	for _, c := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", h, "type", "veth", "peer", "name", p},
		{"ip", "link", "set", p, "netns", ns},
		{"ip", "link", "set", h, "master", n.bridge, "up"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", p, "name", "eth0"},
		{"ip", "netns", "exec", ns, "ip", "addr", "add", n.addr(i) + "/24", "dev", "eth0"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up"},
		{"tc", "qdisc", "add", "dev", h, "root", "tbf", "rate", bits, "burst", "256kb", "latency", "50ms"},
		{"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10"},
		{"ip", "netns", "exec", ns, "tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb",
			"rate", bits, "ceil", bits, "burst", "256k", "cburst", "256k", "quantum", "200000"},
	} {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// egressBytes returns how many bytes have left namespace name (received by the bridge side of
// its veth), link-layer headers included.
func (n *testNet) egressBytes(name string) (int64, error) {
	b, err := os.ReadFile("/sys/class/net/" + n.hostVeth(name) + "/statistics/rx_bytes")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// close removes the namespaces (their veths go with them), the bridge and the FORWARD rule.
func (n *testNet) close() {
	for _, ns := range n.hosts {
		_ = run("ip", "netns", "del", ns)
	}
	_ = run("ip", "link", "del", n.bridge)
	if n.fwd {
		_ = run("iptables", "-D", "FORWARD", "-i", n.bridge, "-o", n.bridge, "-j", "ACCEPT")
	}
}
