// Package httpbackend is a read-only backend over plain HTTP: any web server or CDN that
// serves objects at a URL made from a template. Stat is a HEAD, Download a GET; 404 (and 410)
// mean ErrNotFound. Upload, List and Delete return backend.ErrReadOnly, so an origin never
// writes back to it.
package httpbackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/docket-p2p/docket/lib/backend"
)

// DefaultTimeout bounds connecting and waiting for response headers (not the body: a large
// download may take longer).
const DefaultTimeout = 30 * time.Second

// errorBodyLimit is how much of an error response's body is quoted in the error.
const errorBodyLimit = 512

// Placeholders of Config.DownloadURL.
const (
	PlaceholderName      = "{name}"      // the object name, each component escaped
	PlaceholderNamespace = "{namespace}" // the namespace (repository name), each component escaped
	PlaceholderDigest    = "{digest}"    // a blob name's digest, "sha256:<hex>"
	PlaceholderHex       = "{hex}"       // a blob name's digest's hex part
)

var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

// Config locates objects on a web server.
type Config struct {
	// DownloadURL is the URL template of an object, for example
	// "https://cdn.example.com/docket/{name}" or "http://blobs.internal/{namespace}/{hex}".
	DownloadURL string `yaml:"download_url"`
	// Headers are added to every request (for example an API key).
	Headers map[string]string `yaml:"headers"`
	// Username and Password, when set, authenticate every request with HTTP basic auth.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Timeout bounds connecting and waiting for response headers (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// ApplyDefaults fills unset fields.
func (c *Config) ApplyDefaults() {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
}

// Validate reports what is wrong.
func (c *Config) Validate() error {
	if c.DownloadURL == "" {
		return errors.New("http backend: download_url is required")
	}
	u, err := url.Parse(placeholderRE.ReplaceAllString(c.DownloadURL, "x"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("http backend: download_url %q is not an http(s) URL", c.DownloadURL)
	}
	object := false
	for _, p := range placeholderRE.FindAllString(c.DownloadURL, -1) {
		switch p {
		case PlaceholderName, PlaceholderDigest, PlaceholderHex:
			object = true
		case PlaceholderNamespace:
		default:
			return fmt.Errorf("http backend: download_url: unknown placeholder %s (%s, %s, %s or %s)",
				p, PlaceholderName, PlaceholderNamespace, PlaceholderDigest, PlaceholderHex)
		}
	}
	if !object {
		return fmt.Errorf("http backend: download_url %q names no object (%s, %s or %s)",
			c.DownloadURL, PlaceholderName, PlaceholderDigest, PlaceholderHex)
	}
	if c.Password != "" && c.Username == "" {
		return errors.New("http backend: password without username")
	}
	if c.Timeout < 0 {
		return errors.New("http backend: timeout must not be negative")
	}
	return nil
}

// Client reads objects from a web server.
type Client struct {
	backend.ReadOnlyWrites
	cfg   Config
	http  *http.Client
	ns    string
	hasNS bool
}

var (
	_ backend.Client     = (*Client)(nil)
	_ backend.ReadOnly   = (*Client)(nil)
	_ backend.Namespaced = (*Client)(nil)
)

// New builds a client; it does not contact the server.
func New(cfg Config) (*Client, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{
		ReadOnlyWrites: backend.ReadOnlyWrites{Source: "the read-only http backend"},
		cfg:            cfg,
		http:           NewHTTPClient(cfg.Timeout),
	}, nil
}

// NewHTTPClient is an HTTP client whose connects and response headers are bounded by timeout;
// bodies are bounded only by the request's context.
func NewHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = timeout
	t.ResponseHeaderTimeout = timeout
	return &http.Client{Transport: t}
}

// ForNamespace returns a client whose {namespace} is ns.
func (c *Client) ForNamespace(ns string) backend.Client {
	cc := *c
	cc.ns, cc.hasNS = ns, true
	return &cc
}

// url expands the template for name.
func (c *Client) url(name string) (string, error) {
	if err := backend.CheckName(name); err != nil {
		return "", err
	}
	var err error
	u := placeholderRE.ReplaceAllStringFunc(c.cfg.DownloadURL, func(p string) string {
		switch p {
		case PlaceholderName:
			return escapePath(name)
		case PlaceholderNamespace:
			if !c.hasNS || c.ns == "" {
				err = errors.Join(err, errors.New("http backend: download_url uses {namespace} but no namespace was given"))
			}
			return escapePath(c.ns)
		}
		d, derr := backend.ParseBlobName(name)
		if derr != nil {
			err = errors.Join(err, derr)
			return ""
		}
		if p == PlaceholderDigest {
			return d.String()
		}
		return d.Hex()
	})
	return u, err
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func (c *Client) do(ctx context.Context, method, name string) (*http.Response, error) {
	u, err := c.url(name)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	if c.cfg.Username != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("http backend: %s %s: %w", method, name, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, StatusError(resp, name)
	}
	return resp, nil
}

// Stat is a HEAD of the object's URL.
func (c *Client) Stat(ctx context.Context, name string) (backend.Info, error) {
	resp, err := c.do(ctx, http.MethodHead, name)
	if err != nil {
		return backend.Info{}, err
	}
	resp.Body.Close()
	return InfoOf(resp, name)
}

// Download is a GET of the object's URL; a body shorter or longer than its Content-Length
// is an error.
func (c *Client) Download(ctx context.Context, name string, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, name)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return CopyBody(ctx, w, resp, name)
}

// StatusError is the error of a response other than 200: ErrNotFound for 404 and 410, else
// the status and the start of the body.
func StatusError(resp *http.Response, name string) error {
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return fmt.Errorf("%w: %s (%s)", backend.ErrNotFound, name, resp.Status)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	return fmt.Errorf("%s %s: %s: %s", resp.Request.Method, name, resp.Status, strings.TrimSpace(string(body)))
}

// InfoOf is the Info of a 200 response: its Content-Length (required) and Last-Modified.
func InfoOf(resp *http.Response, name string) (backend.Info, error) {
	if resp.ContentLength < 0 {
		return backend.Info{}, fmt.Errorf("%s %s: the response has no Content-Length", resp.Request.Method, name)
	}
	info := backend.Info{Name: name, Size: resp.ContentLength}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		info.ModTime = t
	}
	return info, nil
}

// CopyBody copies a 200 response's body to w until ctx ends (checked before every read, so
// bytes the connection has already buffered are not delivered after it); a body that ends
// before or runs past its Content-Length is an error.
func CopyBody(ctx context.Context, w io.Writer, resp *http.Response, name string) error {
	n, err := io.Copy(w, ctxReader{ctx: ctx, r: resp.Body})
	if err != nil {
		return fmt.Errorf("%s %s: after %d bytes: %w", resp.Request.Method, name, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("%s %s: %d bytes, Content-Length %d", resp.Request.Method, name, n, resp.ContentLength)
	}
	return nil
}

// ctxReader fails every read once its context has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
