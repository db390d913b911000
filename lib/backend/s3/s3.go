// Package s3 is the S3 backend over aws-sdk-go-v2: AWS itself or any S3-compatible store
// (custom endpoint, path-style addressing). Credentials come from the config file when given,
// else from the SDK's standard chain (environment, shared files, instance roles). Objects at
// or above the part size are uploaded in parallel multipart parts.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/docket-p2p/docket/lib/backend"
)

// Defaults of Config.
const (
	DefaultRegion   = "us-east-1"
	DefaultPartSize = 64 << 20
	// minPartSize is S3's smallest multipart part.
	minPartSize = 5 << 20
	// uploadConcurrency is how many parts of one object upload at once.
	uploadConcurrency = 4
)

// Config selects a bucket and how to reach it.
type Config struct {
	Bucket string `yaml:"bucket"`
	// Prefix is prepended to every object name ("docket/" keeps Docket's objects apart).
	Prefix string `yaml:"prefix"`
	// Region (default us-east-1).
	Region string `yaml:"region"`
	// Endpoint is an S3-compatible store's URL, e.g. http://127.0.0.1:7070 (default: AWS).
	Endpoint string `yaml:"endpoint"`
	// PathStyle addresses buckets as endpoint/bucket rather than bucket.endpoint.
	PathStyle bool `yaml:"path_style"`
	// AccessKeyID and SecretAccessKey, when both set, replace the standard credential chain.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// PartSize is the multipart part size and threshold (default 64 MiB, at least 5 MiB).
	PartSize int64 `yaml:"part_size"`
}

// ApplyDefaults fills unset fields.
func (c *Config) ApplyDefaults() {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
}

// Validate reports what is wrong.
func (c *Config) Validate() error {
	if c.Bucket == "" {
		return errors.New("s3: bucket is required")
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("s3: access_key_id and secret_access_key go together")
	}
	if c.PartSize < minPartSize {
		return fmt.Errorf("s3: part_size %d is below S3's minimum of %d", c.PartSize, minPartSize)
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("s3: prefix %q must end with /", c.Prefix)
	}
	return nil
}

// Client is an S3 bucket as a backend.Client.
type Client struct {
	cfg      Config
	s3       *s3.Client
	uploader *manager.Uploader
}

var _ backend.Client = (*Client)(nil)

// New builds a client; it does not contact the store.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region)}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Checksums only where S3 requires them: S3-compatible stores differ in their
		// support of the newer flexible checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	uploader := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = cfg.PartSize
		u.Concurrency = uploadConcurrency
		u.LeavePartsOnError = false
	})
	return &Client{cfg: cfg, s3: client, uploader: uploader}, nil
}

func (c *Client) key(name string) (string, error) {
	if err := backend.CheckName(name); err != nil {
		return "", err
	}
	return c.cfg.Prefix + name, nil
}

// isNotFound reports S3's ways of saying an object does not exist.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey")
}

func (c *Client) wrap(name string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, name)
	}
	return fmt.Errorf("s3 %s: %w", name, err)
}

// Stat implements backend.Client.
func (c *Client) Stat(ctx context.Context, name string) (backend.Info, error) {
	key, err := c.key(name)
	if err != nil {
		return backend.Info{}, err
	}
	out, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &c.cfg.Bucket, Key: &key})
	if err != nil {
		return backend.Info{}, c.wrap(name, err)
	}
	info := backend.Info{Name: name, Size: aws.ToInt64(out.ContentLength)}
	if out.LastModified != nil {
		info.ModTime = *out.LastModified
	}
	return info, nil
}

// Download implements backend.Client.
func (c *Client) Download(ctx context.Context, name string, w io.Writer) error {
	key, err := c.key(name)
	if err != nil {
		return err
	}
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &c.cfg.Bucket, Key: &key})
	if err != nil {
		return c.wrap(name, err)
	}
	defer out.Body.Close()
	n, err := io.Copy(w, out.Body)
	if err != nil {
		return fmt.Errorf("s3 %s: %w", name, err)
	}
	if want := aws.ToInt64(out.ContentLength); want >= 0 && n != want {
		return fmt.Errorf("s3 %s: got %d of %d bytes", name, n, want)
	}
	return nil
}

// Upload implements backend.Client. S3 replaces objects atomically; a reader that yields
// other than size bytes fails the upload before it completes, so the old object stays.
func (c *Client) Upload(ctx context.Context, name string, r io.Reader, size int64) error {
	key, err := c.key(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	body := io.Reader(&sizedReader{r: r, want: size})
	if size >= 0 && size < c.cfg.PartSize {
		// Small objects go in one PUT from memory: a seekable body can be signed and
		// retried, and a short reader fails before anything is sent.
		buf, err := io.ReadAll(body)
		if err != nil {
			return fmt.Errorf("s3 %s: %w", name, err)
		}
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &c.cfg.Bucket, Key: &key, Body: bytes.NewReader(buf), ContentLength: aws.Int64(size),
		})
		if err != nil {
			return fmt.Errorf("s3 %s: %w", name, err)
		}
		return nil
	}
	// Larger or unknown sizes go in parallel multipart parts; a short reader aborts the
	// upload, which removes its parts.
	if _, err := c.uploader.Upload(ctx, &s3.PutObjectInput{Bucket: &c.cfg.Bucket, Key: &key, Body: body}); err != nil {
		return fmt.Errorf("s3 %s: %w", name, err)
	}
	return nil
}

// sizedReader fails at EOF when it has not yielded exactly want bytes (want < 0: any).
type sizedReader struct {
	r    io.Reader
	want int64
	n    int64
}

func (s *sizedReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.want >= 0 && s.n > s.want {
		return n, fmt.Errorf("s3: reader yielded more than %d bytes", s.want)
	}
	if err == io.EOF && s.want >= 0 && s.n != s.want {
		return n, fmt.Errorf("s3: reader yielded %d of %d bytes: %w", s.n, s.want, io.ErrUnexpectedEOF)
	}
	return n, err
}

// List implements backend.Client. S3 lists keys in lexical (UTF-8 binary) order.
func (c *Client) List(ctx context.Context, prefix string, fn func(name string) error) error {
	p := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{
		Bucket: &c.cfg.Bucket, Prefix: aws.String(c.cfg.Prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3 list %q: %w", prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(strings.TrimPrefix(aws.ToString(o.Key), c.cfg.Prefix)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements backend.Client.
func (c *Client) Delete(ctx context.Context, name string) error {
	key, err := c.key(name)
	if err != nil {
		return err
	}
	if _, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &c.cfg.Bucket, Key: &key}); err != nil && !isNotFound(err) {
		return fmt.Errorf("s3 %s: %w", name, err)
	}
	return nil
}
