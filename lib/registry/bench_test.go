package registry_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/registry"
)

// benchBlobSize is the blob BenchmarkBlobGet serves.
const benchBlobSize = 64 << 20

// fileBlobs serves one blob from a file, as the agent's store does.
type fileBlobs struct {
	d    core.Digest
	path string
}

func (f fileBlobs) Stat(_ context.Context, _ string, d core.Digest) (int64, error) {
	if d != f.d {
		return 0, registry.ErrBlobUnknown
	}
	fi, err := os.Stat(f.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (f fileBlobs) Open(_ context.Context, _ string, d core.Digest) (io.ReadSeekCloser, error) {
	if d != f.d {
		return nil, registry.ErrBlobUnknown
	}
	return os.Open(f.path)
}

// BenchmarkBlobGet pulls a 64 MiB blob from a file over loopback HTTP through the registry
// handler, and through http.ServeContent on the same file as the baseline; it reports the
// handler's throughput as a ratio of the baseline's.
func BenchmarkBlobGet(b *testing.B) {
	path := filepath.Join(b.TempDir(), "blob")
	data := make([]byte, benchBlobSize)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	d := core.SHA256Digest(data)
	reg := httptest.NewServer(registry.New(registry.Options{Blobs: fileBlobs{d: d, path: path}, ReadOnly: true}))
	defer reg.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", time.Time{}, f)
	}))
	defer plain.Close()

	get := func(url string) {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != benchBlobSize || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d bytes, status %d, %v", url, n, resp.StatusCode, err)
		}
	}
	b.SetBytes(2 * benchBlobSize) // one pull each way per iteration
	var handler, baseline time.Duration
	timed := func(url string, total *time.Duration) {
		start := time.Now()
		get(url)
		*total += time.Since(start)
	}
	i := 0
	for b.Loop() {
		// Alternate the order so neither side always runs on a warmer machine.
		if i%2 == 0 {
			timed(reg.URL+"/v2/r/blobs/"+d.String(), &handler)
			timed(plain.URL+"/blob", &baseline)
		} else {
			timed(plain.URL+"/blob", &baseline)
			timed(reg.URL+"/v2/r/blobs/"+d.String(), &handler)
		}
		i++
	}
	b.ReportMetric(float64(baseline)/float64(handler), "x_servecontent")
}
