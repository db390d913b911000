// Package registrytest is an in-memory implementation of every storage interface of
// lib/registry, for tests of the handler and of registry clients. It verifies digests like the
// real storage does, so the handler's error paths behave as in production.
package registrytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
)

// Memory holds blobs, uploads, tags and manifest records in memory.
type Memory struct {
	mu        sync.Mutex
	blobs     map[core.Digest][]byte
	links     map[string]map[core.Digest]bool // repo → blobs it holds
	uploads   map[string]*bytes.Buffer
	tags      map[string]map[string]core.Digest // repo → tag → digest
	manifests map[string]map[core.Digest]core.ManifestEntry
}

var (
	_ registry.Blobs        = (*Memory)(nil)
	_ registry.BlobUploader = (*Memory)(nil)
	_ registry.BlobPutter   = (*Memory)(nil)
	_ registry.BlobDeleter  = (*Memory)(nil)
	_ registry.BlobMounter  = (*Memory)(nil)
	_ registry.Index        = (*Memory)(nil)
	_ registry.IndexWriter  = (*Memory)(nil)
)

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		blobs: map[core.Digest][]byte{}, links: map[string]map[core.Digest]bool{},
		uploads: map[string]*bytes.Buffer{}, tags: map[string]map[string]core.Digest{},
		manifests: map[string]map[core.Digest]core.ManifestEntry{},
	}
}

func (m *Memory) link(repo string, d core.Digest) {
	if m.links[repo] == nil {
		m.links[repo] = map[core.Digest]bool{}
	}
	m.links[repo][d] = true
}

func (m *Memory) Stat(_ context.Context, repo string, d core.Digest) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.links[repo][d] {
		return 0, fmt.Errorf("%w: %s@%s", registry.ErrBlobUnknown, repo, d)
	}
	return int64(len(m.blobs[d])), nil
}

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

func (m *Memory) Open(ctx context.Context, repo string, d core.Digest) (io.ReadSeekCloser, error) {
	if _, err := m.Stat(ctx, repo, d); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return nopSeekCloser{bytes.NewReader(m.blobs[d])}, nil
}

func (m *Memory) StartUpload(context.Context, string) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	m.mu.Lock()
	m.uploads[id] = &bytes.Buffer{}
	m.mu.Unlock()
	return id, nil
}

func (m *Memory) AppendUpload(_ context.Context, _, id string, offset int64, r io.Reader) (int64, error) {
	m.mu.Lock()
	buf, ok := m.uploads[id]
	m.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("%w: %s", registry.ErrUploadUnknown, id)
	}
	if offset != int64(buf.Len()) {
		return int64(buf.Len()), fmt.Errorf("%w: offset %d, have %d", registry.ErrRangeInvalid, offset, buf.Len())
	}
	b, err := io.ReadAll(r)
	m.mu.Lock()
	buf.Write(b)
	n := int64(buf.Len())
	m.mu.Unlock()
	return n, err
}

func (m *Memory) UploadSize(_ context.Context, _, id string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	buf, ok := m.uploads[id]
	if !ok {
		return 0, fmt.Errorf("%w: %s", registry.ErrUploadUnknown, id)
	}
	return int64(buf.Len()), nil
}

func (m *Memory) CommitUpload(_ context.Context, repo, id string, d core.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	buf, ok := m.uploads[id]
	if !ok {
		return fmt.Errorf("%w: %s", registry.ErrUploadUnknown, id)
	}
	delete(m.uploads, id)
	g := d.NewDigester()
	g.Write(buf.Bytes())
	if g.Digest() != d {
		return fmt.Errorf("%w: content is %s, want %s", registry.ErrDigestInvalid, g.Digest(), d)
	}
	m.blobs[d] = slices.Clone(buf.Bytes())
	m.link(repo, d)
	return nil
}

func (m *Memory) CancelUpload(_ context.Context, _, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.uploads[id]; !ok {
		return fmt.Errorf("%w: %s", registry.ErrUploadUnknown, id)
	}
	delete(m.uploads, id)
	return nil
}

func (m *Memory) PutBlob(_ context.Context, repo string, d core.Digest, size int64, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	g := d.NewDigester()
	g.Write(b)
	if g.Digest() != d || int64(len(b)) != size {
		return fmt.Errorf("%w: content is %s", registry.ErrDigestInvalid, g.Digest())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[d] = b
	m.link(repo, d)
	return nil
}

func (m *Memory) DeleteBlob(_ context.Context, repo string, d core.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.links[repo][d] {
		return fmt.Errorf("%w: %s@%s", registry.ErrBlobUnknown, repo, d)
	}
	delete(m.links[repo], d)
	return nil
}

func (m *Memory) MountBlob(_ context.Context, from, to string, d core.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, stored := m.blobs[d]
	if !stored || (from != "" && !m.links[from][d]) {
		return fmt.Errorf("%w: %s", registry.ErrBlobUnknown, d)
	}
	m.link(to, d)
	return nil
}

func (m *Memory) GetTag(_ context.Context, repo, tag string) (core.Digest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.tags[repo][tag]
	if !ok {
		return core.Digest{}, fmt.Errorf("%w: %s:%s", registry.ErrManifestUnknown, repo, tag)
	}
	return d, nil
}

func pageOf(all []string, last string, n int) []string {
	sort.Strings(all)
	i := sort.SearchStrings(all, last)
	if i < len(all) && all[i] == last {
		i++
	}
	if last == "" {
		i = 0
	}
	return all[i:min(len(all), i+n)]
}

func (m *Memory) ListTags(_ context.Context, repo, last string, n int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.manifests[repo]; !ok {
		return nil, fmt.Errorf("%w: %s", registry.ErrNameUnknown, repo)
	}
	var all []string
	for t := range m.tags[repo] {
		all = append(all, t)
	}
	return pageOf(all, last, n), nil
}

func (m *Memory) GetManifest(_ context.Context, repo string, d core.Digest) (core.ManifestEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.manifests[repo][d]
	if !ok {
		return core.ManifestEntry{}, fmt.Errorf("%w: %s@%s", registry.ErrManifestUnknown, repo, d)
	}
	return e, nil
}

func (m *Memory) Referrers(_ context.Context, repo string, d core.Digest) ([]core.ManifestEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []core.ManifestEntry
	for _, e := range m.manifests[repo] {
		if e.Subject == d {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest.String() < out[j].Digest.String() })
	return out, nil
}

func (m *Memory) Repositories(_ context.Context, last string, n int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []string
	for r := range m.manifests {
		all = append(all, r)
	}
	return pageOf(all, last, n), nil
}

func (m *Memory) PutManifest(_ context.Context, repo string, e core.ManifestEntry, tag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.manifests[repo] == nil {
		m.manifests[repo] = map[core.Digest]core.ManifestEntry{}
	}
	m.manifests[repo][e.Digest] = e
	if tag != "" {
		if m.tags[repo] == nil {
			m.tags[repo] = map[string]core.Digest{}
		}
		m.tags[repo][tag] = e.Digest
	}
	return nil
}

func (m *Memory) DeleteTag(_ context.Context, repo, tag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tags[repo][tag]; !ok {
		return fmt.Errorf("%w: %s:%s", registry.ErrManifestUnknown, repo, tag)
	}
	delete(m.tags[repo], tag)
	return nil
}

func (m *Memory) DeleteManifest(_ context.Context, repo string, d core.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.manifests[repo][d]; !ok {
		return fmt.Errorf("%w: %s@%s", registry.ErrManifestUnknown, repo, d)
	}
	delete(m.manifests[repo], d)
	for t, td := range m.tags[repo] {
		if td == d {
			delete(m.tags[repo], t)
		}
	}
	return nil
}

// HasUpload reports whether an upload session is open, for tests of cleanup paths.
func (m *Memory) HasUpload(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.uploads[strings.TrimSpace(id)]
	return ok
}

// Uploads returns the number of open upload sessions, for tests of cleanup paths.
func (m *Memory) Uploads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.uploads)
}
