// Package bench holds Docket's benchmarks that compare it with a baseline measured in the same
// run: `docket bench registry` pushes and pulls one image through Docket and through a plain
// distribution registry and prints each throughput and Docket's ratio to the plain registry.
package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/docket-p2p/docket/test/imagegen"
)

// pullJobs is how many layers a pull fetches at once, as the docker daemon does by default.
const pullJobs = 3

// RegistryOptions configures the registry benchmark.
type RegistryOptions struct {
	Size        int64     // total bytes of layers in the image (default 512 MiB)
	Layers      int       // number of layers (default 8)
	Reps        int       // repetitions, each with a fresh image (default 3); medians are reported
	DocketBin   string    // the docket binary started as `docket dev` (default: this executable)
	RegistryBin string    // the plain registry (default: docker-registry from PATH)
	WorkDir     string    // scratch space (default: a new temp dir, removed afterwards)
	Out         io.Writer // where the table and summary go
}

func (o *RegistryOptions) applyDefaults() error {
	if o.Size <= 0 {
		o.Size = 512 << 20
	}
	if o.Layers <= 0 {
		o.Layers = 8
	}
	if o.Reps <= 0 {
		o.Reps = 3
	}
	if o.DocketBin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.DocketBin = exe
	}
	if o.RegistryBin == "" {
		p, err := exec.LookPath("docker-registry")
		if err != nil {
			return fmt.Errorf("docker-registry (Debian package docker-registry): %w", errNoBinary)
		}
		o.RegistryBin = p
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	return nil
}

// RegistryResult holds median throughputs in bytes per second.
type RegistryResult struct {
	PlainPush, PlainPull                       float64
	DocketPush, DocketColdPull, DocketWarmPull float64
}

// RunRegistry runs the benchmark and prints a table and a summary line.
func RunRegistry(ctx context.Context, o RegistryOptions) (RegistryResult, error) {
	if err := o.applyDefaults(); err != nil {
		return RegistryResult{}, err
	}
	work := o.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "docket-bench-")
		if err != nil {
			return RegistryResult{}, err
		}
		defer os.RemoveAll(d)
		work = d
	}
	ports, err := freePorts(6)
	if err != nil {
		return RegistryResult{}, err
	}
	plainAddr := hostPort(ports[0])
	plain, err := startPlainRegistry(ctx, o.RegistryBin, work, plainAddr)
	if err != nil {
		return RegistryResult{}, err
	}
	defer plain.stop()
	proxyAddr, agentAddr := hostPort(ports[1]), hostPort(ports[2])
	docket, err := startProcess(ctx, filepath.Join(work, "docket.log"), "http://"+agentAddr+"/v2/",
		o.DocketBin, "dev", "--data-dir", filepath.Join(work, "docket-data"),
		"--proxy-port", strconv.Itoa(ports[1]), "--agent-port", strconv.Itoa(ports[2]),
		"--origin-port", strconv.Itoa(ports[3]), "--tracker-port", strconv.Itoa(ports[4]),
		"--build-index-port", strconv.Itoa(ports[5]))
	if err != nil {
		return RegistryResult{}, err
	}
	defer docket.stop()
	if err := waitReady(ctx, "http://"+proxyAddr+"/v2/", docket); err != nil {
		return RegistryResult{}, fmt.Errorf("docket proxy: %w", err)
	}

	sizes := make([]int64, o.Layers)
	for i := range sizes {
		sizes[i] = o.Size / int64(o.Layers)
	}
	var plainPush, plainPull, dPush, dCold, dWarm []float64
	tw := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rep\tplain push\tplain pull\tdocket push\tagent cold pull\tagent warm pull\t")
	for rep := range o.Reps {
		img, err := imagegen.RawImage(uint64(time.Now().UnixNano())+uint64(rep), sizes...)
		if err != nil {
			return RegistryResult{}, err
		}
		repo := fmt.Sprintf("bench/image%d:latest", rep)
		row := make([]float64, 5)
		steps := []struct {
			push bool
			addr string
			out  *[]float64
		}{
			{true, plainAddr, &plainPush}, {false, plainAddr, &plainPull},
			{true, proxyAddr, &dPush}, {false, agentAddr, &dCold}, {false, agentAddr, &dWarm},
		}
		for i, s := range steps {
			ref, err := name.ParseReference(s.addr+"/"+repo, name.Insecure)
			if err != nil {
				return RegistryResult{}, err
			}
			start := time.Now()
			if s.push {
				err = remote.Write(ref, img, remote.WithContext(ctx), remote.WithTransport(newTransport()))
			} else {
				err = pull(ctx, ref)
			}
			if err != nil {
				return RegistryResult{}, fmt.Errorf("rep %d step %d (%s): %w", rep, i, s.addr, err)
			}
			row[i] = float64(o.Size) / time.Since(start).Seconds()
			*s.out = append(*s.out, row[i])
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t\n", rep, mbps(row[0]), mbps(row[1]), mbps(row[2]), mbps(row[3]), mbps(row[4]))
	}
	res := RegistryResult{
		PlainPush: median(plainPush), PlainPull: median(plainPull),
		DocketPush: median(dPush), DocketColdPull: median(dCold), DocketWarmPull: median(dWarm),
	}
	fmt.Fprintf(tw, "median\t%s\t%s\t%s\t%s\t%s\t\n", mbps(res.PlainPush), mbps(res.PlainPull),
		mbps(res.DocketPush), mbps(res.DocketColdPull), mbps(res.DocketWarmPull))
	if err := tw.Flush(); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Out, "registry size=%d layers=%d reps=%d push_ratio=%.2f cold_pull_ratio=%.2f warm_pull_ratio=%.2f\n",
		o.Size, o.Layers, o.Reps, res.DocketPush/res.PlainPush, res.DocketColdPull/res.PlainPull,
		res.DocketWarmPull/res.PlainPull)
	return res, nil
}

func startPlainRegistry(ctx context.Context, bin, work, addr string) (*process, error) {
	root := filepath.Join(work, "plain")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(root, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(root, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return startProcess(ctx, filepath.Join(work, "plain.log"), "http://"+addr+"/v2/", bin, "serve", cfg)
}

// pull fetches the manifest and config and reads every layer in full, pullJobs at a time; the
// client verifies each layer against its digest as it reads.
func pull(ctx context.Context, ref name.Reference) error {
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithTransport(newTransport()))
	if err != nil {
		return err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(pullJobs)
	for _, l := range layers {
		g.Go(func() error { return readLayer(l) })
	}
	return g.Wait()
}

func readLayer(l v1.Layer) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return err
}

// newTransport returns a fresh transport so no run reuses another's connections.
func newTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = pullJobs * 2
	return t
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func mbps(bps float64) string { return fmt.Sprintf("%.0f MiB/s", bps/(1<<20)) }
