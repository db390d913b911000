package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/proxy"
)

// runGC is `docket gc [--config proxy.yaml]`: one garbage collection of unreferenced blobs
// (proxy/gc.go) against the origins and build-index a proxy configuration names, printed as
// one JSON line. The proxy itself collects every gc_interval when that is set; this is the
// same pass on demand (from cron, or after a large delete).
func runGC(ctx context.Context, e *env) error {
	c, err := lookupComponent("proxy")
	if err != nil {
		return err
	}
	cfg, log, err := c.configFromFlags(e, "gc")
	if err != nil {
		return err
	}
	pcfg := *cfg.(*proxy.Config)
	pcfg.GCInterval = 0 // one pass, no loop
	p, err := proxy.New(pcfg, log, metrics.NewNop())
	if err != nil {
		return err
	}
	defer p.Close()
	res, err := p.CollectGarbage(ctx)
	b, _ := json.Marshal(res)
	fmt.Fprintln(e.stdout, string(b))
	return err
}
