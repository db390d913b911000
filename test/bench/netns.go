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

// testNet is the benchmark's own network: a switch namespace holding a bridge, one network
// namespace per host joined to it by a veth pair shaped by tc in both directions, and a veth
// from the root namespace (unshaped, for the tracker, the build-index and the benchmark's
// client). The bridge lives in a namespace of its own so that bridged frames skip the root
// namespace's firewall: with br_netfilter loaded (Docker loads it) every frame would pass
// iptables there, a cost of this machine's setup, not of a network between hosts (about 4 %
// of both cores at 20 agents). Every name carries one prefix, and close removes everything,
// also after a failure. Addresses are in 10.215.<id>.0/24, which exists only in these
// namespaces and on the root namespace's veth.
type testNet struct {
	id    int
	hosts []string // namespace names, the switch's first, for cleanup
	// members are the hosts on the network by address index, the root namespace (1) too,
	// with their namespaces ("" for the root's) for neighbours.
	members []member
}

// member is one interface on the benchmark network: its namespace ("" for the root's), its
// device there, and its address index (see addr and mac).
type member struct {
	ns, dev string
	i       int
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

// newTestNet creates the switch namespace with its bridge and the root namespace's veth with
// address .1.
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
		cand := &testNet{id: id}
		if _, err := os.Stat("/run/netns/" + cand.ns("sw")); err == nil {
			continue
		}
		if exec.Command("ip", "link", "show", cand.rootVeth()).Run() == nil {
			continue
		}
		out, _ := exec.Command("ip", "-4", "addr").Output()
		if bytes.Contains(out, []byte(fmt.Sprintf(" 10.215.%d.", id))) {
			continue
		}
		n = cand
		break
	}
	if n == nil {
		return nil, fmt.Errorf("no free network id for the benchmark")
	}
	sw, r := n.ns("sw"), n.rootVeth()
	n.hosts = append(n.hosts, sw)
	for _, c := range [][]string{
		{"ip", "netns", "add", sw},
		{"ip", "-n", sw, "link", "set", "lo", "up"},
		{"ip", "-n", sw, "link", "add", "name", "swbr", "type", "bridge"},
		{"ip", "-n", sw, "link", "set", "swbr", "up"},
		// The bridge-nf settings are per namespace; this one's are the switch's own.
		{"ip", "netns", "exec", sw, "sh", "-c", "for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true"},
		{"ip", "link", "add", r, "address", n.mac(1), "type", "veth", "peer", "name", r + "p"},
		{"ip", "link", "set", r + "p", "netns", sw},
		{"ip", "-n", sw, "link", "set", r + "p", "master", "swbr", "up"},
		{"ip", "addr", "add", n.addr(1) + "/24", "dev", r},
		{"ip", "link", "set", r, "up"},
	} {
		if err := run(c[0], c[1:]...); err != nil {
			n.close()
			return nil, err
		}
	}
	n.members = append(n.members, member{dev: r, i: 1})
	return n, nil
}

// addr returns host i's address on the benchmark network.
func (n *testNet) addr(i int) string { return fmt.Sprintf("10.215.%d.%d", n.id, i) }

// mac returns host i's link-layer address: locally administered, fixed by the network's id
// and i, so neighbours can be written down instead of resolved (see staticNeighbours).
func (n *testNet) mac(i int) string { return fmt.Sprintf("02:d0:%02x:00:00:%02x", n.id, i) }

func (n *testNet) ns(name string) string { return fmt.Sprintf("%s%d-%s", namespacePrefix, n.id, name) }

// hostVeth is the switch side of host name's veth.
func (n *testNet) hostVeth(name string) string {
	return fmt.Sprintf("%s%dh%s", namespacePrefix, n.id, name)
}

// rootVeth is the root namespace's veth to the switch.
func (n *testNet) rootVeth() string { return fmt.Sprintf("%s%dr", namespacePrefix, n.id) }

// addHost creates namespace name with address host index i, capped at rate bytes per second
// each way: tbf on the switch side of its veth for traffic into it, htb on its eth0 for
// traffic out.
func (n *testNet) addHost(name string, i int, rate int64) error {
	sw, ns, h, p := n.ns("sw"), n.ns(name), n.hostVeth(name), fmt.Sprintf("%s%dp%s", namespacePrefix, n.id, name)
	n.hosts = append(n.hosts, ns)
	bits := strconv.FormatInt(rate*8, 10) + "bit"
	for _, c := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", h, "type", "veth", "peer", "name", p, "address", n.mac(i)},
		{"ip", "link", "set", p, "netns", ns},
		{"ip", "link", "set", h, "netns", sw},
		{"ip", "-n", sw, "link", "set", h, "master", "swbr", "up"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", p, "name", "eth0"},
		{"ip", "netns", "exec", ns, "ip", "addr", "add", n.addr(i) + "/24", "dev", "eth0"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up"},
		{"tc", "-n", sw, "qdisc", "add", "dev", h, "root", "tbf", "rate", bits, "burst", "256kb", "latency", "50ms"},
		{"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10"},
		{"ip", "netns", "exec", ns, "tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb",
			"rate", bits, "ceil", bits, "burst", "256k", "cburst", "256k", "quantum", "200000"},
	} {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	n.members = append(n.members, member{ns: ns, dev: "eth0", i: i})
	return nil
}

// staticNeighbours gives every member a permanent neighbour entry for every other one. The
// kernel's neighbour table is shared by all namespaces and holds 1024 resolved entries by
// default (gc_thresh3): with 40 agents, each talking to most others, it overflowed, and a
// connection to a host whose entry could not be made failed with "no route to host".
// Permanent entries are not counted against that limit, need no ARP, and change nothing
// on the host outside the benchmark's namespaces.
func (n *testNet) staticNeighbours() error {
	for _, m := range n.members {
		var batch strings.Builder
		for _, o := range n.members {
			if o.i != m.i {
				fmt.Fprintf(&batch, "neigh replace %s lladdr %s dev %s nud permanent\n", n.addr(o.i), n.mac(o.i), m.dev)
			}
		}
		args := []string{"-batch", "-"}
		if m.ns != "" {
			args = append([]string{"-n", m.ns}, args...)
		}
		cmd := exec.Command("ip", args...)
		cmd.Stdin = strings.NewReader(batch.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// egressBytes returns how many bytes have left namespace name (received by the switch side of
// its veth), link-layer headers included.
func (n *testNet) egressBytes(name string) (int64, error) {
	out, err := exec.Command("ip", "netns", "exec", n.ns("sw"), "cat", "/sys/class/net/"+n.hostVeth(name)+"/statistics/rx_bytes").Output()
	if err != nil {
		return 0, fmt.Errorf("read %s's egress: %w", name, err)
	}
	return strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
}

// close removes the namespaces, the switch's last (every veth goes with its namespace).
func (n *testNet) close() {
	for i := len(n.hosts) - 1; i >= 0; i-- {
		_ = run("ip", "netns", "del", n.hosts[i])
	}
	_ = exec.Command("ip", "link", "del", n.rootVeth()).Run()
}
