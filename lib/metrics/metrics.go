// Package metrics builds a component's tally scope, reported in Prometheus format on /metrics.
//
// Every component gets its own Prometheus registry, so several components can run in one
// process (docket dev) without their metric names colliding.
package metrics

import (
	"io"
	"net/http"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
)

// reportInterval is how often tally flushes buffered values to the Prometheus registry.
const reportInterval = time.Second

// Registry is a component's root scope and the handler that serves it.
type Registry struct {
	Scope   tally.Scope
	Handler http.Handler
	closer  io.Closer
}

// New returns a scope whose metric names start with "docket_<component>_".
func New(component string) *Registry {
	reg := prom.NewRegistry()
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		Gatherer:         reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		// A metric registered twice with other tag keys is a programming error, but it must
		// not take down a serving process.
		OnRegisterError: func(error) {},
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		Prefix:          "docket_" + component,
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &tallyprom.DefaultSanitizerOpts,
	}, reportInterval)
	return &Registry{Scope: scope, Handler: reporter.HTTPHandler(), closer: closer}
}

// NewNop returns a registry that records nothing, for tests and tools.
func NewNop() *Registry {
	return &Registry{Scope: tally.NoopScope, Handler: http.NotFoundHandler(), closer: io.NopCloser(nil)}
}

// Close flushes and stops the reporter.
func (r *Registry) Close() error { return r.closer.Close() }

// NewTest returns a registry recording into a tally test scope, whose snapshots tests read.
func NewTest() (*Registry, tally.TestScope) {
	scope := tally.NewTestScope("", nil)
	return &Registry{Scope: scope, Handler: http.NotFoundHandler(), closer: io.NopCloser(nil)}, scope
}
