// Package gcs is the Google Cloud Storage backend over cloud.google.com/go/storage.
// Credentials come from the config file's credentials_file when given, else from Application
// Default Credentials; STORAGE_EMULATOR_HOST (an emulator such as fake-gcs-server) is
// honoured by the library, and Endpoint points at one explicitly.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/docket-p2p/docket/lib/backend"
)

// DefaultChunkSize is the resumable upload chunk (the library buffers one chunk at a time).
const DefaultChunkSize = 16 << 20

// Config selects a bucket.
type Config struct {
	Bucket string `yaml:"bucket"`
	// Prefix is prepended to every object name; it must end with "/".
	Prefix string `yaml:"prefix"`
	// CredentialsFile is a service-account JSON key (default: Application Default Credentials).
	CredentialsFile string `yaml:"credentials_file"`
	// Endpoint overrides the JSON API endpoint, e.g. http://127.0.0.1:4443/storage/v1/ for an
	// emulator; it turns authentication off.
	Endpoint string `yaml:"endpoint"`
	// ChunkSize is the upload chunk size (default 16 MiB).
	ChunkSize int `yaml:"chunk_size"`
}

// ApplyDefaults fills unset fields.
func (c *Config) ApplyDefaults() {
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
}

// Validate reports what is wrong.
func (c *Config) Validate() error {
	if c.Bucket == "" {
		return errors.New("gcs: bucket is required")
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("gcs: prefix %q must end with /", c.Prefix)
	}
	if c.ChunkSize < 0 {
		return errors.New("gcs: chunk_size must not be negative")
	}
	return nil
}

// Client is a GCS bucket as a backend.Client.
type Client struct {
	cfg    Config
	client *storage.Client
	bucket *storage.BucketHandle
}

var _ backend.Client = (*Client)(nil)

// New builds a client; it does not contact the service.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var opts []option.ClientOption
	switch {
	case cfg.Endpoint != "":
		opts = append(opts, option.WithEndpoint(cfg.Endpoint), option.WithoutAuthentication())
	case cfg.CredentialsFile != "":
		opts = append(opts, option.WithCredentialsFile(cfg.CredentialsFile))
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcs: %w", err)
	}
	return &Client{cfg: cfg, client: client, bucket: client.Bucket(cfg.Bucket)}, nil
}

// Close releases the client's connections.
func (c *Client) Close() error { return c.client.Close() }

func (c *Client) object(name string) (*storage.ObjectHandle, error) {
	if err := backend.CheckName(name); err != nil {
		return nil, err
	}
	return c.bucket.Object(c.cfg.Prefix + name), nil
}

func wrap(name string, err error) error {
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, name)
	}
	return fmt.Errorf("gcs %s: %w", name, err)
}

// Stat implements backend.Client.
func (c *Client) Stat(ctx context.Context, name string) (backend.Info, error) {
	o, err := c.object(name)
	if err != nil {
		return backend.Info{}, err
	}
	attrs, err := o.Attrs(ctx)
	if err != nil {
		return backend.Info{}, wrap(name, err)
	}
	return backend.Info{Name: name, Size: attrs.Size, ModTime: attrs.Updated}, nil
}

// Download implements backend.Client.
func (c *Client) Download(ctx context.Context, name string, w io.Writer) error {
	o, err := c.object(name)
	if err != nil {
		return err
	}
	r, err := o.NewReader(ctx)
	if err != nil {
		return wrap(name, err)
	}
	defer r.Close()
	n, err := io.Copy(w, r)
	if err != nil {
		return fmt.Errorf("gcs %s: %w", name, err)
	}
	if want := r.Attrs.Size; want >= 0 && n != want {
		return fmt.Errorf("gcs %s: got %d of %d bytes", name, n, want)
	}
	return nil
}

// Upload implements backend.Client. GCS publishes an object only when its writer closes
// cleanly; a reader that yields other than size bytes cancels the upload first, so the old
// object stays.
func (c *Client) Upload(ctx context.Context, name string, r io.Reader, size int64) error {
	o, err := c.object(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := o.NewWriter(wctx)
	w.ChunkSize = c.cfg.ChunkSize
	w.ContentType = "application/octet-stream"
	n, err := io.Copy(w, r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("reader yielded %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		cancel() // abandons the upload; Close then reports the cancellation
		_ = w.Close()
		return fmt.Errorf("gcs %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gcs %s: %w", name, err)
	}
	return nil
}

// List implements backend.Client. GCS lists names in lexical order.
func (c *Client) List(ctx context.Context, prefix string, fn func(name string) error) error {
	it := c.bucket.Objects(ctx, &storage.Query{Prefix: c.cfg.Prefix + prefix, Projection: storage.ProjectionNoACL})
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gcs list %q: %w", prefix, err)
		}
		if err := fn(strings.TrimPrefix(attrs.Name, c.cfg.Prefix)); err != nil {
			return err
		}
	}
}

// Delete implements backend.Client.
func (c *Client) Delete(ctx context.Context, name string) error {
	o, err := c.object(name)
	if err != nil {
		return err
	}
	if err := o.Delete(ctx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("gcs %s: %w", name, err)
	}
	return nil
}
