// Package membership finds the members of a hash ring: a static list, or a DNS name resolved
// again and again — its A/AAAA records with a configured port, or its SRV records (target
// and port) — so that a ring of origins follows a Kubernetes headless service or any DNS.
package membership

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultInterval is how often a DNS name is resolved again.
const DefaultInterval = 30 * time.Second

// ErrNoMembers is returned when a name resolves to no address.
var ErrNoMembers = errors.New("membership: no members")

// Source says where members come from: DNS ("host:port" resolved for A/AAAA records, each
// address taking the port) or SRV (a name whose SRV records give targets and ports).
type Source struct {
	DNS string `yaml:"dns"`
	SRV string `yaml:"srv"`
	// Interval is how often the name is resolved again (default DefaultInterval).
	Interval time.Duration `yaml:"interval"`
	// Resolver answers the lookups when Resolve and Watch are given none (nil:
	// net.DefaultResolver); tests point it at their own DNS server.
	Resolver *net.Resolver `yaml:"-"`
}

// Enabled reports whether members come from DNS at all.
func (s Source) Enabled() bool { return s.DNS != "" || s.SRV != "" }

// Validate reports the first thing wrong with s.
func (s Source) Validate() error {
	if s.DNS != "" && s.SRV != "" {
		return errors.New("membership: dns and srv are exclusive")
	}
	if s.DNS != "" {
		if _, _, err := net.SplitHostPort(s.DNS); err != nil {
			return fmt.Errorf("membership: dns %q must be host:port: %w", s.DNS, err)
		}
	}
	if s.Interval < 0 {
		return errors.New("membership: interval must not be negative")
	}
	return nil
}

// Resolve returns the members s names now, as sorted, distinct host:port strings. r is the
// resolver (nil: s.Resolver, else net.DefaultResolver).
func (s Source) Resolve(ctx context.Context, r *net.Resolver) ([]string, error) {
	if r == nil {
		r = s.Resolver
	}
	if r == nil {
		r = net.DefaultResolver
	}
	var out []string
	switch {
	case s.SRV != "":
		_, srvs, err := r.LookupSRV(ctx, "", "", s.SRV)
		if err != nil {
			return nil, fmt.Errorf("membership: SRV %s: %w", s.SRV, err)
		}
		for _, srv := range srvs {
			out = append(out, net.JoinHostPort(strings.TrimSuffix(srv.Target, "."), strconv.Itoa(int(srv.Port))))
		}
	case s.DNS != "":
		host, port, _ := net.SplitHostPort(s.DNS)
		addrs, err := r.LookupHost(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("membership: %s: %w", host, err)
		}
		for _, a := range addrs {
			out = append(out, net.JoinHostPort(a, port))
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s%s", ErrNoMembers, s.DNS, s.SRV)
	}
	return out, nil
}

// Watch resolves s at every tick and calls changed with the new members whenever they differ
// from the last ones (first from initial), until ctx ends. A failed lookup keeps the last
// members (a DNS outage must not empty the ring) and is reported to onError.
func (s Source) Watch(ctx context.Context, r *net.Resolver, initial []string, tick <-chan time.Time,
	changed func([]string), onError func(error)) {
	last := initial
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		ms, err := s.Resolve(ctx, r)
		if err != nil {
			if ctx.Err() == nil {
				onError(err)
			}
			continue
		}
		if !slices.Equal(ms, last) {
			last = ms
			changed(ms)
		}
	}
}
