package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/test/bench"
)

// benchmarks are the `docket bench` subcommands.
var benchmarks = []struct {
	name string
	run  func(ctx context.Context, e *env) error
}{
	{"registry", benchRegistry},
	{"swarm", benchSwarm},
	{"fetch", benchFetch},
	{"ring", benchRing},
}

// runBench is `docket bench registry|swarm|fetch|ring [flags]`.
func runBench(ctx context.Context, e *env) error {
	if len(e.args) > 0 {
		for _, b := range benchmarks {
			if b.name == e.args[0] {
				sub := *e
				sub.args = e.args[1:]
				return b.run(ctx, &sub)
			}
		}
	}
	return fmt.Errorf("%w: want `bench registry [flags]` or `bench swarm [flags]`", errUsage)
}

// benchRegistry is `docket bench registry`: push and pull one image through Docket and through
// a plain registry in the same run.
func benchRegistry(ctx context.Context, e *env) error {
	fs := e.newFlagSet("bench registry", "[flags]")
	var o bench.RegistryOptions
	fs.Int64Var(&o.Size, "size", 512<<20, "total layer `bytes` of the image")
	fs.IntVar(&o.Layers, "layers", 8, "number of layers")
	fs.IntVar(&o.Reps, "reps", 3, "repetitions, each with a fresh image; medians are reported")
	fs.StringVar(&o.DocketBin, "docket-bin", "", "docket binary started as `docket dev` (default: this executable)")
	fs.StringVar(&o.RegistryBin, "registry-bin", "", "plain registry binary (default: docker-registry from PATH)")
	fs.StringVar(&o.WorkDir, "work-dir", "", "scratch `dir` (default: a temporary directory, removed afterwards)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	o.Out = e.stdout
	_, err := bench.RunRegistry(ctx, o)
	return err
}

// benchSwarm is `docket bench swarm`: one origin, a tracker and N agents, every host limited to
// the same rate each way; all agents pull one blob at once.
func benchSwarm(ctx context.Context, e *env) error {
	fs := e.newFlagSet("bench swarm", "[flags]")
	var o bench.SwarmOptions
	fs.IntVar(&o.Agents, "agents", 10, "number of agents `N`")
	fs.Int64Var(&o.Size, "size", 128<<20, "blob size in `bytes`")
	fs.Int64Var(&o.Rate, "rate", 8<<20, "`bytes` per second each way for every host, the origin too")
	fs.StringVar(&o.Shaper, "shaper", "tc", "how the rate is enforced: tc (kernel, a network namespace per host; needs root) or app")
	fs.BoolVar(&o.Baseline, "baseline", false, "also measure every agent pulling from the origin directly")
	fs.BoolVar(&o.Floor, "floor", false, "also measure the shaped network itself: every agent sending the size to the next over plain TCP (tc only)")
	fs.StringVar(&o.Backend, "backend", "fs", "where the blob is: fs (on the origin's disk) or s3 (only in a bucket, cold origin; a warm blob is measured too)")
	fs.StringVar(&o.VersitygwBin, "versitygw-bin", "", "S3 server for --backend s3 (default: versitygw from PATH or $(go env GOPATH)/bin)")
	fs.StringVar(&o.DocketBin, "docket-bin", "", "docket binary every host runs (default: this executable)")
	fs.StringVar(&o.WorkDir, "work-dir", "", "scratch `dir` (default: a temporary directory, removed afterwards)")
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	o.Out = e.stdout
	_, err := bench.RunSwarm(ctx, o)
	return err
}

// benchFetch is `docket bench fetch --at UNIX_NANOS --digest D URL`: what each agent's network
// namespace runs in the swarm benchmark. It waits until the given instant, downloads URL,
// verifies it against D and prints the seconds from that instant to the last byte.
func benchFetch(ctx context.Context, e *env) error {
	fs := e.newFlagSet("bench fetch", "--at UNIX_NANOS --digest DIGEST [--size BYTES --crc32c HEX] [--head] URL")
	at := fs.Int64("at", 0, "start `instant` in Unix nanoseconds (default: now)")
	digest := fs.String("digest", "", "expected `digest` of the content (checked by SHA-256 unless --crc32c is given)")
	size := fs.Int64("size", 0, "expected length in `bytes`, with --crc32c")
	crc := fs.String("crc32c", "", "expected CRC-32C (Castagnoli) of the content, 8 `hex` digits, checked instead of the digest")
	head := fs.Bool("head", false, "send HEAD instead of GET and check only the digest header: an agent answers once it has stored the whole blob")
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one URL", errUsage)
	}
	d, err := core.ParseDigest(*digest)
	if err != nil {
		return fmt.Errorf("%w: --digest: %v", errUsage, err)
	}
	want := bench.FetchWant{Digest: d, Head: *head}
	if *crc != "" {
		v, err := strconv.ParseUint(*crc, 16, 32)
		if err != nil || len(*crc) != 8 {
			return fmt.Errorf("%w: --crc32c: want 8 hex digits, got %q", errUsage, *crc)
		}
		if *size <= 0 {
			return fmt.Errorf("%w: --crc32c needs --size", errUsage)
		}
		want.CRC32C, want.Size, want.UseCRC = uint32(v), *size, true
	}
	start := time.Now()
	if *at != 0 {
		start = time.Unix(0, *at)
	}
	return bench.RunFetch(ctx, fs.Arg(0), start, want, e.stdout)
}

// benchRing is `docket bench ring --at UNIX_NANOS --listen ADDR --to ADDR --size BYTES`: what
// each agent's namespace runs in the swarm benchmark's floor round (--floor). It sends BYTES
// to --to over plain TCP while receiving as many on --listen, and prints the seconds from the
// given instant until both are done.
func benchRing(ctx context.Context, e *env) error {
	fs := e.newFlagSet("bench ring", "--at UNIX_NANOS --listen ADDR --to ADDR --size BYTES")
	at := fs.Int64("at", 0, "start `instant` in Unix nanoseconds (default: now)")
	listen := fs.String("listen", "", "`address` to receive on")
	to := fs.String("to", "", "`address` to send to")
	size := fs.Int64("size", 0, "`bytes` to send and to receive")
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 0 || *listen == "" || *to == "" || *size <= 0 {
		return fmt.Errorf("%w: want --listen, --to and a positive --size", errUsage)
	}
	start := time.Now()
	if *at != 0 {
		start = time.Unix(0, *at)
	}
	return bench.RunRing(ctx, *listen, *to, *size, start, e.stdout)
}
