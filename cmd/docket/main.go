// Command docket runs Docket's components: one subcommand per component (proxy, origin,
// tracker, build-index, agent), `docket dev` for the whole cluster in one process, and tools
// (config validation, benchmarks, version).
//
// The subcommand dispatcher is the standard library's flag package: each subcommand owns a
// FlagSet, and the global flags (--log-level, --log-format) are accepted both before the
// subcommand and among its own flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// errUsage marks an error whose message is a usage problem; the command prints it and exits 2.
var errUsage = errors.New("usage")

// env is what a subcommand runs with: its arguments, output streams and the global options.
type env struct {
	args   []string
	stdout io.Writer
	stderr io.Writer
	global *globalFlags
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env) error
}

func commands() []command {
	cmds := []command{
		{"dev", "run the whole cluster in one process (proxy, agent, origin, tracker, build-index)", runDev},
		{"config", "configuration tools: `config validate COMPONENT FILE`, `config defaults COMPONENT`", runConfig},
		{"bench", "benchmarks: `bench registry`, `bench swarm` (and `bench fetch`, run by the swarm)", runBench},
		{"gc", "collect unreferenced blobs once, on the origins and backend a proxy config names: `gc --config proxy.yaml`", runGC},
		{"health", "check a component: `health HOST:PORT` exits 0 if its /health answers 200", runHealth},
		{"get", "download a .torrent's file from its swarm, verified: `get FILE.torrent`", runGet},
		{"torrent", "write a blob's .torrent for stock BitTorrent clients: `torrent DIGEST`", runTorrent},
		{"version", "print the version", runVersion},
	}
	for _, c := range components() {
		cmds = append(cmds, command{name: c.name, summary: c.summary, run: c.runCommand})
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful stop; restoring the default handling then lets a
	// second Ctrl-C end the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the global flags, dispatches to the subcommand and maps its error to an exit
// code. ctx ends on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globalFlags{}
	fs := flag.NewFlagSet("docket", flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.register(fs)
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		usage(stderr, fs)
		return exitUsage
	}
	name := rest[0]
	if name == "help" {
		usage(stdout, fs)
		return exitOK
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, &env{args: rest[1:], stdout: stdout, stderr: stderr, global: g})
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "docket %s: %v\n", name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "docket %s: %v\n", name, err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "docket: unknown command %q\n\n", name)
	usage(stderr, fs)
	return exitUsage
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Docket %s: peer-to-peer distribution of container images.\n\n", version)
	fmt.Fprintln(w, "Usage: docket [global flags] COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nGlobal flags (also accepted after the command):")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nRun `docket COMMAND --help` for a command's flags.")
}

// globalFlags are accepted before the subcommand and by every subcommand's FlagSet.
type globalFlags struct {
	logLevel  string
	logFormat string
}

func (g *globalFlags) register(fs *flag.FlagSet) {
	if g.logLevel == "" {
		g.logLevel = "info"
	}
	if g.logFormat == "" {
		g.logFormat = "text"
	}
	fs.StringVar(&g.logLevel, "log-level", g.logLevel, "log level: debug, info, warn or error")
	fs.StringVar(&g.logFormat, "log-format", g.logFormat, "log format: text or json")
}

// logger builds the process's slog.Logger from the global flags, writing to w.
func (g *globalFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(g.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("%w: --log-format %q: want text or json", errUsage, g.logFormat)
	}
}

// newFlagSet returns a subcommand's FlagSet with the global flags registered on it.
func (e *env) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("docket "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	e.global.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: docket %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses e.args into fs; a parse error is a usage error (already printed by fs).
func (e *env) parse(fs *flag.FlagSet) error {
	if err := fs.Parse(e.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func runVersion(_ context.Context, e *env) error {
	fs := e.newFlagSet("version", "")
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: version takes no arguments", errUsage)
	}
	fmt.Fprintf(e.stdout, "docket %s\n", version)
	return nil
}
