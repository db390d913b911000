package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
)

// benchBlobSize is the blob BenchmarkPut stores per iteration.
const benchBlobSize = 64 << 20

// BenchmarkPut stores a blob with Put (hash while streaming, fsync, publish) and, in the same
// run, the plain baseline a registry without verification does (write, fsync, rename); it
// reports Put's throughput and its time as a multiple of the baseline's.
func BenchmarkPut(b *testing.B) {
	data := make([]byte, benchBlobSize)
	for i := range data {
		data[i] = byte(i * 7)
	}
	ctx := context.Background()
	dir := b.TempDir()
	var putTime, baseTime time.Duration
	b.SetBytes(benchBlobSize)
	for i := 0; b.Loop(); i++ {
		// A fresh digest each time: vary one byte.
		data[0] = byte(i)
		d := core.SHA256Digest(data)
		s, err := New(filepath.Join(dir, "s"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := s.Put(ctx, d, benchBlobSize, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		putTime += time.Since(t0)

		t0 = time.Now()
		f, err := os.CreateTemp(dir, "base-")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if err := os.Rename(f.Name(), filepath.Join(dir, "base")); err != nil {
			b.Fatal(err)
		}
		baseTime += time.Since(t0)
		os.RemoveAll(filepath.Join(dir, "s"))
	}
	if baseTime > 0 {
		b.ReportMetric(float64(putTime)/float64(baseTime), "x_baseline")
	}
}
