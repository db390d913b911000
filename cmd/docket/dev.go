package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/docket-p2p/docket/internal/devcluster"
)

// runDev is `docket dev`: the whole cluster in one process until SIGINT or SIGTERM.
func runDev(ctx context.Context, e *env) error {
	fs := e.newFlagSet("dev", "[flags]")
	o := devcluster.Options{}
	fs.StringVar(&o.DataDir, "data-dir", devcluster.DefaultDataDir, "`dir` holding every component's data, one subfolder each")
	fs.StringVar(&o.Host, "listen-host", devcluster.DefaultHost, "`host` every component listens on (0.0.0.0 for all interfaces)")
	fs.IntVar(&o.ProxyPort, "proxy-port", devcluster.DefaultProxyPort, "proxy `port` (0 picks a free port)")
	fs.IntVar(&o.AgentPort, "agent-port", devcluster.DefaultAgentPort, "first agent's `port`; agent i listens on port+i (0 picks free ports)")
	fs.IntVar(&o.OriginPort, "origin-port", devcluster.DefaultOriginPort, "origin `port` (0 picks a free port)")
	fs.IntVar(&o.TrackerPort, "tracker-port", devcluster.DefaultTrackerPort, "tracker `port` (0 picks a free port)")
	fs.IntVar(&o.BuildIndexPort, "build-index-port", devcluster.DefaultBuildIndexPort, "build-index `port` (0 picks a free port)")
	fs.IntVar(&o.Agents, "agents", 1, fmt.Sprintf("number of agents (1 to %d)", devcluster.MaxAgents))
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if o.Agents < 1 {
		return fmt.Errorf("%w: --agents %d: want 1 to %d", errUsage, o.Agents, devcluster.MaxAgents)
	}
	if err := o.CheckPorts(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	log, err := e.global.logger(e.stderr)
	if err != nil {
		return err
	}
	o.Log = log

	c, err := devcluster.Start(ctx, o)
	if err != nil {
		return err
	}
	printCluster(e.stdout, c)
	serveErr := c.Wait()
	closeErr := c.Close()
	if serveErr != nil {
		return serveErr
	}
	if closeErr != nil {
		return closeErr
	}
	fmt.Fprintln(e.stdout, "docket dev: stopped")
	return nil
}

// displayPath shows dir relative to the working directory when it lies under it, "-" when
// empty.
func displayPath(dir string) string {
	if dir == "" {
		return "-"
	}
	wd, err := os.Getwd()
	if err != nil {
		return dir
	}
	if rel, err := filepath.Rel(wd, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel
	}
	return dir
}

// printCluster writes the table of what the dev cluster started and the ready line.
func printCluster(w io.Writer, c *devcluster.Cluster) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tADDRESS\tDATA")
	for _, p := range c.Components {
		data := displayPath(p.DataDir)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Addr, data)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "docket dev ready: push to %s, pull from %s (Ctrl-C stops)\n", c.Proxy, c.Agent)
}
