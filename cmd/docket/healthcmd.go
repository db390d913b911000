package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// defaultHealthTimeout bounds `docket health` when --timeout is not given.
const defaultHealthTimeout = 2 * time.Second

// maxHealthBody bounds how much of a /health answer is read.
const maxHealthBody = 4 << 10

// runHealth is `docket health [--timeout D] HOST:PORT`: GET /health on a component and exit 0
// if it answers 200. Images built FROM scratch have no curl, so container health checks use
// this.
func runHealth(ctx context.Context, e *env) error {
	fs := e.newFlagSet("health", "[--timeout D] HOST:PORT")
	timeout := fs.Duration("timeout", defaultHealthTimeout, "give up after this `duration`")
	if err := e.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one HOST:PORT", errUsage)
	}
	url := fs.Arg(0)
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	url = strings.TrimSuffix(url, "/") + "/health"
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", url, strings.TrimSpace(string(body)))
	return nil
}
