// Package registrybackend is a read-only backend over another OCI/Docker registry, so Docket
// can sit in front of an existing registry: a blob name (backend.BlobName) is read by digest
// from the repository of the namespace, first as a blob and then, since Docket stores
// manifests as blobs, as a manifest. Credentials are the registry's own: anonymous, basic, or
// bearer tokens (Docker Hub style: WWW-Authenticate challenge, token endpoint, tokens cached
// per scope until they expire and fetched again on a 401). Upload, List and Delete return
// backend.ErrReadOnly.
package registrybackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/httpbackend"
	"github.com/docket-p2p/docket/lib/registry"
)

// NamespacePlaceholder in Config.Repository stands for the namespace (repository name).
const NamespacePlaceholder = "{namespace}"

// manifestAccept is the Accept header of a manifest request: every kind Docket stores.
var manifestAccept = strings.Join([]string{
	registry.MediaTypeOCIManifest, registry.MediaTypeOCIIndex,
	registry.MediaTypeDockerManifest, registry.MediaTypeDockerList,
}, ", ")

// Config names the upstream registry and how to log in to it.
type Config struct {
	// Address is the registry's base URL, e.g. https://registry-1.docker.io.
	Address string `yaml:"address"`
	// Repository is the upstream repository; {namespace} is replaced by the namespace
	// (default "{namespace}": the same name upstream; "library/{namespace}" maps Docker
	// Hub's official images, "mirror" reads every namespace from one repository).
	Repository string `yaml:"repository"`
	// Username and Password log in (basic auth, or the token endpoint's basic auth);
	// without them the registry is read anonymously.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordEnv names an environment variable holding the password, read at start-up
	// (keeps the secret out of the file); it replaces Password.
	PasswordEnv string `yaml:"password_env"`
	// Timeout bounds connecting and waiting for response headers (default 30s), and a
	// whole token request.
	Timeout time.Duration `yaml:"timeout"`
}

// ApplyDefaults fills unset fields.
func (c *Config) ApplyDefaults() {
	if c.Repository == "" {
		c.Repository = NamespacePlaceholder
	}
	if c.Timeout == 0 {
		c.Timeout = httpbackend.DefaultTimeout
	}
}

// Validate reports what is wrong.
func (c *Config) Validate() error {
	u, err := url.Parse(c.Address)
	if c.Address == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("registry backend: address %q is not an http(s) URL", c.Address)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return fmt.Errorf("registry backend: address %q must be the registry's root URL (no path)", c.Address)
	}
	if repo := strings.ReplaceAll(c.Repository, NamespacePlaceholder, "x"); !registry.ValidName(repo) {
		return fmt.Errorf("registry backend: repository %q is not a repository name (with %s for the namespace)", c.Repository, NamespacePlaceholder)
	}
	if c.Password != "" && c.PasswordEnv != "" {
		return errors.New("registry backend: password and password_env exclude each other")
	}
	if (c.Password != "" || c.PasswordEnv != "") && c.Username == "" {
		return errors.New("registry backend: a password needs a username")
	}
	if c.Timeout < 0 {
		return errors.New("registry backend: timeout must not be negative")
	}
	return nil
}

// Client reads blobs and manifests of one upstream registry.
type Client struct {
	backend.ReadOnlyWrites
	base  string
	repo  string // Config.Repository, {namespace} not yet replaced
	ns    string
	hasNS bool
	http  *http.Client
	auth  *authenticator
}

var (
	_ backend.Client     = (*Client)(nil)
	_ backend.ReadOnly   = (*Client)(nil)
	_ backend.Namespaced = (*Client)(nil)
)

// New builds a client; it does not contact the registry. A password_env that is unset is an
// error.
func New(cfg Config) (*Client, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pass := cfg.Password
	if cfg.PasswordEnv != "" {
		v, ok := os.LookupEnv(cfg.PasswordEnv)
		if !ok {
			return nil, fmt.Errorf("registry backend: password_env %s is not set", cfg.PasswordEnv)
		}
		pass = v
	}
	hc := httpbackend.NewHTTPClient(cfg.Timeout)
	return &Client{
		ReadOnlyWrites: backend.ReadOnlyWrites{Source: "the upstream registry " + cfg.Address},
		base:           strings.TrimSuffix(cfg.Address, "/"),
		repo:           cfg.Repository,
		http:           hc,
		auth:           newAuthenticator(hc, cfg.Username, pass, strings.HasPrefix(cfg.Address, "http:"), cfg.Timeout, time.Now),
	}, nil
}

// ForNamespace returns the client of namespace ns; every namespace shares the token cache.
func (c *Client) ForNamespace(ns string) backend.Client {
	cc := *c
	cc.ns, cc.hasNS = ns, true
	return &cc
}

// repository is the upstream repository of this client's namespace.
func (c *Client) repository() (string, error) {
	if !strings.Contains(c.repo, NamespacePlaceholder) {
		return c.repo, nil
	}
	if !c.hasNS {
		return "", fmt.Errorf("registry backend: repository %q needs a namespace", c.repo)
	}
	repo := strings.ReplaceAll(c.repo, NamespacePlaceholder, c.ns)
	if !registry.ValidName(repo) {
		return "", fmt.Errorf("%w: %q is not a repository name", backend.ErrNotFound, repo)
	}
	return repo, nil
}

// open sends method for name's digest, as a blob and then as a manifest, and returns the
// first 200 response.
func (c *Client) open(ctx context.Context, method, name string) (*http.Response, error) {
	if err := backend.CheckName(name); err != nil {
		return nil, err
	}
	d, err := backend.ParseBlobName(name)
	if err != nil {
		return nil, err
	}
	repo, err := c.repository()
	if err != nil {
		return nil, err
	}
	resp, err := c.request(ctx, method, repo, "/blobs/", d, "")
	if errors.Is(err, backend.ErrNotFound) {
		resp, err = c.request(ctx, method, repo, "/manifests/", d, manifestAccept)
	}
	return resp, err
}

// request sends one authenticated request; a response other than 200 is an error
// (ErrNotFound for 404).
func (c *Client) request(ctx context.Context, method, repo, kind string, d core.Digest, accept string) (*http.Response, error) {
	u := c.base + "/v2/" + repo + kind + d.String()
	resp, err := c.auth.do(ctx, c.http, "repository:"+repo+":pull", func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err == nil && accept != "" {
			req.Header.Set("Accept", accept)
		}
		return req, err
	})
	if err != nil {
		return nil, fmt.Errorf("registry backend: %s %s: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, fmt.Errorf("registry backend: %w", httpbackend.StatusError(resp, repo+"@"+d.String()))
	}
	return resp, nil
}

// Stat is a HEAD of the blob, else of the manifest.
func (c *Client) Stat(ctx context.Context, name string) (backend.Info, error) {
	resp, err := c.open(ctx, http.MethodHead, name)
	if err != nil {
		return backend.Info{}, err
	}
	resp.Body.Close()
	return httpbackend.InfoOf(resp, name)
}

// Download is a GET of the blob, else of the manifest.
func (c *Client) Download(ctx context.Context, name string, w io.Writer) error {
	resp, err := c.open(ctx, http.MethodGet, name)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return httpbackend.CopyBody(ctx, w, resp, name)
}
