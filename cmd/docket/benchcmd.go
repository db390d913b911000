package main

import (
	"context"
	"fmt"

	"github.com/docket-p2p/docket/test/bench"
)

// runBench is `docket bench registry [flags]`.
func runBench(ctx context.Context, e *env) error {
	if len(e.args) == 0 || e.args[0] != "registry" {
		return fmt.Errorf("%w: want `bench registry [flags]`", errUsage)
	}
	sub := *e
	sub.args = e.args[1:]
	fs := sub.newFlagSet("bench registry", "[flags]")
	var o bench.RegistryOptions
	fs.Int64Var(&o.Size, "size", 512<<20, "total layer `bytes` of the image")
	fs.IntVar(&o.Layers, "layers", 8, "number of layers")
	fs.IntVar(&o.Reps, "reps", 3, "repetitions, each with a fresh image; medians are reported")
	fs.StringVar(&o.DocketBin, "docket-bin", "", "docket binary started as `docket dev` (default: this executable)")
	fs.StringVar(&o.RegistryBin, "registry-bin", "", "plain registry binary (default: docker-registry from PATH)")
	fs.StringVar(&o.WorkDir, "work-dir", "", "scratch `dir` (default: a temporary directory, removed afterwards)")
	if err := sub.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	o.Out = e.stdout
	_, err := bench.RunRegistry(ctx, o)
	return err
}
