package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/docket-p2p/docket/lib/config"
	"github.com/docket-p2p/docket/lib/httpserver"
	"github.com/docket-p2p/docket/lib/metrics"
)

// service is what every component's *Server is: it serves on a listener until ctx ends. A
// server that owns background work also implements io.Closer.
type service interface {
	Serve(ctx context.Context, l net.Listener) error
}

// component describes one component the command can run: how to make its configuration, where
// it listens and how to create its server.
type component struct {
	name        string // subcommand, e.g. "build-index"
	metricsName string // metrics prefix after "docket_", e.g. "buildindex"
	summary     string
	newConfig   func() config.Config
	listenAddr  func(config.Config) string
	start       func(cfg config.Config, log *slog.Logger, reg *metrics.Registry) (service, error)
}

// define builds a component from a package's Config type, the accessor of its listen address
// and its New function; the type parameters keep each package's own signatures.
func define[C any, P interface {
	*C
	config.Config
}, S service](name, metricsName, summary string, listen func(P) string,
	newServer func(C, *slog.Logger, *metrics.Registry) (S, error)) component {
	return component{
		name:        name,
		metricsName: metricsName,
		summary:     summary,
		newConfig:   func() config.Config { return P(new(C)) },
		listenAddr:  func(c config.Config) string { return listen(c.(P)) },
		start: func(c config.Config, log *slog.Logger, reg *metrics.Registry) (service, error) {
			s, err := newServer(*c.(P), log, reg)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	}
}

// lookupComponent finds a component by its subcommand name.
func lookupComponent(name string) (component, error) {
	var names []string
	for _, c := range components() {
		if c.name == name {
			return c, nil
		}
		names = append(names, c.name)
	}
	return component{}, fmt.Errorf("%w: unknown component %q (want one of %v)", errUsage, name, names)
}

// loadConfig reads path into a fresh configuration of c (strict YAML, defaults, validation).
// An empty path yields the defaults, validated.
func (c component) loadConfig(path string) (config.Config, error) {
	cfg := c.newConfig()
	if path == "" {
		if err := config.Decode(nil, cfg); err != nil {
			return nil, fmt.Errorf("default %s config: %w", c.name, err)
		}
		return cfg, nil
	}
	if err := config.Load(path, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// runCommand is `docket COMPONENT --config FILE`: load the configuration, listen, serve until
// SIGINT or SIGTERM, then close the server.
func (c component) runCommand(ctx context.Context, e *env) error {
	cfg, log, err := c.configFromFlags(e, c.name)
	if err != nil {
		return err
	}
	return serveComponent(ctx, c, cfg, log)
}

// configFromFlags parses command's only flag, `--config FILE`, and returns c's configuration
// from it and the logger.
func (c component) configFromFlags(e *env, command string) (config.Config, *slog.Logger, error) {
	fs := e.newFlagSet(command, "[--config FILE]")
	path := fs.String("config", "", "YAML configuration `file` of the "+c.name+" (default: built-in defaults)")
	if err := e.parse(fs); err != nil {
		return nil, nil, err
	}
	if fs.NArg() != 0 {
		return nil, nil, fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	log, err := e.global.logger(e.stderr)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return nil, nil, err
	}
	return cfg, log, nil
}

// serveComponent runs one component with cfg until ctx ends.
func serveComponent(ctx context.Context, c component, cfg config.Config, log *slog.Logger) error {
	log = log.With("component", c.name)
	reg := metrics.New(c.metricsName)
	defer reg.Close()

	addr := c.listenAddr(cfg)
	l, err := httpserver.Listen(addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv, err := c.start(cfg, log, reg)
	if err != nil {
		l.Close()
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	log.Info("serving", "addr", l.Addr().String(), "version", version)
	serveErr := srv.Serve(ctx, l)
	var closeErr error
	if cl, ok := srv.(io.Closer); ok {
		closeErr = cl.Close()
	}
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if closeErr != nil {
		return fmt.Errorf("close: %w", closeErr)
	}
	log.Info("stopped")
	return nil
}
