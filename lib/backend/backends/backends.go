// Package backends builds storage backends from configuration: one Config type that every
// component embeds (origin, build-index), and a Router that picks a backend per namespace by
// regular expression, first match wins, as Kraken's namespace-to-backend table does.
package backends

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/fs"
	"github.com/docket-p2p/docket/lib/backend/gcs"
	"github.com/docket-p2p/docket/lib/backend/httpbackend"
	"github.com/docket-p2p/docket/lib/backend/registrybackend"
	"github.com/docket-p2p/docket/lib/backend/s3"
)

// Backend kinds.
const (
	TypeFS  = "fs"
	TypeS3  = "s3"
	TypeGCS = "gcs"
	// TypeHTTP is a read-only web server (lib/backend/httpbackend).
	TypeHTTP = "http"
	// TypeRegistry is another registry, read through (lib/backend/registrybackend).
	TypeRegistry = "registry"
)

// typeList names every kind, for errors.
const typeList = "fs, s3, gcs, http or registry"

// Config selects and configures one backend.
type Config struct {
	// Type is fs (default), s3, gcs, http or registry.
	Type string `yaml:"type"`
	// Root is the fs backend's directory.
	Root string `yaml:"root"`
	// S3 configures the s3 backend.
	S3 s3.Config `yaml:"s3"`
	// GCS configures the gcs backend.
	GCS gcs.Config `yaml:"gcs"`
	// HTTP configures the read-only http backend.
	HTTP httpbackend.Config `yaml:"http"`
	// Registry configures the read-only registry backend.
	Registry registrybackend.Config `yaml:"registry"`
}

// ApplyDefaults fills unset fields; root is the fs directory to use when none is set.
func (c *Config) ApplyDefaults(root string) {
	if c.Type == "" {
		c.Type = TypeFS
	}
	switch c.Type {
	case TypeFS:
		if c.Root == "" {
			c.Root = root
		}
	case TypeS3:
		c.S3.ApplyDefaults()
	case TypeGCS:
		c.GCS.ApplyDefaults()
	case TypeHTTP:
		c.HTTP.ApplyDefaults()
	case TypeRegistry:
		c.Registry.ApplyDefaults()
	}
}

// Validate reports what is wrong.
func (c *Config) Validate() error {
	switch c.Type {
	case TypeFS:
		if c.Root == "" {
			return errors.New("backend fs: root is required")
		}
		return nil
	case TypeS3:
		return c.S3.Validate()
	case TypeGCS:
		return c.GCS.Validate()
	case TypeHTTP:
		return c.HTTP.Validate()
	case TypeRegistry:
		return c.Registry.Validate()
	}
	return fmt.Errorf("backend: unknown type %q (%s)", c.Type, typeList)
}

// ReadOnly reports whether the configured kind only serves reads (http, registry): fit for
// an origin's read-through, not for the build-index.
func (c *Config) ReadOnly() bool { return c.Type == TypeHTTP || c.Type == TypeRegistry }

// New builds the configured backend.
func New(ctx context.Context, c Config) (backend.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Type {
	case TypeS3:
		return s3.New(ctx, c.S3)
	case TypeGCS:
		return gcs.New(ctx, c.GCS)
	case TypeHTTP:
		return httpbackend.New(c.HTTP)
	case TypeRegistry:
		return registrybackend.New(c.Registry)
	default:
		return fs.New(c.Root)
	}
}

// NamespaceConfig is one row of the namespace table: repositories whose name matches
// Namespace (a regular expression, anchored by the caller if it wants) use Backend.
type NamespaceConfig struct {
	Namespace string `yaml:"namespace"`
	Backend   Config `yaml:"backend"`
}

// Router picks the backend of a namespace: the first matching row, else the default.
type Router struct {
	rows []routeRow
	def  backend.Client
}

type routeRow struct {
	re *regexp.Regexp
	c  backend.Client
}

// NewRouter builds every backend of the table and the default.
func NewRouter(ctx context.Context, def Config, table []NamespaceConfig) (*Router, error) {
	d, err := New(ctx, def)
	if err != nil {
		return nil, err
	}
	r := &Router{def: d}
	for i, row := range table {
		re, err := regexp.Compile(row.Namespace)
		if err != nil {
			return nil, fmt.Errorf("backend namespace %d %q: %w", i, row.Namespace, err)
		}
		c, err := New(ctx, row.Backend)
		if err != nil {
			return nil, fmt.Errorf("backend namespace %q: %w", row.Namespace, err)
		}
		r.rows = append(r.rows, routeRow{re: re, c: c})
	}
	return r, nil
}

// All returns every backend of the router: the default, then each row's, in table order.
// A namespaced backend (another registry) is returned as built, outside any namespace.
func (r *Router) All() []backend.Client {
	out := []backend.Client{r.def}
	for _, row := range r.rows {
		out = append(out, row.c)
	}
	return out
}

// For returns the backend of namespace ns; a backend whose objects depend on the namespace
// (backend.Namespaced, such as another registry) is given ns.
func (r *Router) For(ns string) backend.Client {
	c := r.def
	for _, row := range r.rows {
		if row.re.MatchString(ns) {
			c = row.c
			break
		}
	}
	if n, ok := c.(backend.Namespaced); ok {
		return n.ForNamespace(ns)
	}
	return c
}
