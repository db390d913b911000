package buildindex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
)

// loadConcurrency bounds how many backend objects load reads at once: enough to hide an
// object store's latency, few enough not to flood it.
const loadConcurrency = 32

// maxObjectBytes caps what load reads of one object: a tag is a digest, a manifest record a
// descriptor with annotations.
const maxObjectBytes = maxEntryBytes

// cappedBuffer is an io.Writer that refuses to grow past its limit.
type cappedBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.limit {
		return 0, ErrObjectTooLarge
	}
	return c.buf.Write(p)
}

// load reads the whole index from the backend into memory. An object that does not parse
// (a name this package would never write, a tag that is not a digest, a record that is not a
// valid entry) is skipped and logged: one damaged object must not keep the registry down.
// A backend failure fails the load.
func (x *Index) load(ctx context.Context, log *slog.Logger) error {
	var objs []object
	var names []string
	err := x.be.List(ctx, rootPrefix, func(name string) error {
		o, err := parseObject(name)
		if err != nil {
			log.Error("build-index: skipping backend object", "name", name, "err", err)
			x.metrics.loadSkipped.Inc(1)
			return nil
		}
		objs = append(objs, o)
		names = append(names, name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: list %s: %w", ErrBackend, rootPrefix, err)
	}

	// Read tags and manifest records in parallel; blob links are empty.
	contents := make([][]byte, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadConcurrency)
	for i, o := range objs {
		if o.kind == kindBlob {
			continue
		}
		g.Go(func() error {
			w := &cappedBuffer{limit: maxObjectBytes}
			err := x.be.Download(gctx, names[i], w)
			switch {
			case errors.Is(err, backend.ErrNotFound):
				return nil // deleted since List
			case errors.Is(err, ErrObjectTooLarge):
				log.Error("build-index: skipping oversized backend object", "name", names[i])
				x.metrics.loadSkipped.Inc(1)
				return nil
			case err != nil:
				return fmt.Errorf("%w: read %s: %w", ErrBackend, names[i], err)
			}
			contents[i] = w.buf.Bytes()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	// Manifests first, so a tag can be checked against them.
	for pass := range 2 {
		for i, o := range objs {
			if (pass == 0) != (o.kind != kindTag) {
				continue
			}
			if err := x.loadObject(o, contents[i]); err != nil {
				log.Error("build-index: skipping backend object", "name", names[i], "err", err)
				x.metrics.loadSkipped.Inc(1)
			}
		}
	}
	x.updateGauges()
	log.Info("build-index loaded", "repositories", len(x.repos), "tags", x.counts.tags,
		"manifests", x.counts.manifests)
	return nil
}

// loadObject applies one backend object to memory (x.mu held for writing).
func (x *Index) loadObject(o object, content []byte) error {
	switch o.kind {
	case kindBlob:
		x.repo(o.repo).blobs[o.dgst] = struct{}{}
	case kindManifest:
		if content == nil {
			return nil
		}
		e, err := decodeEntry(content)
		if err != nil {
			return err
		}
		if e.Digest != o.dgst {
			return fmt.Errorf("%w: record of %s stored under %s", ErrEntryInvalid, e.Digest, o.dgst)
		}
		x.repo(o.repo).setManifest(e)
	case kindTag:
		if content == nil {
			return nil
		}
		d, err := core.ParseDigest(strings.TrimSpace(string(content)))
		if err != nil {
			return err
		}
		x.repo(o.repo).setTag(o.tag, d)
	}
	return nil
}

// decodeEntry parses a manifest record strictly.
func decodeEntry(b []byte) (core.ManifestEntry, error) {
	var e core.ManifestEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return core.ManifestEntry{}, fmt.Errorf("%w: %v", ErrEntryInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return core.ManifestEntry{}, fmt.Errorf("%w: trailing data", ErrEntryInvalid)
	}
	if err := CheckEntry(e); err != nil {
		return core.ManifestEntry{}, err
	}
	return e, nil
}
