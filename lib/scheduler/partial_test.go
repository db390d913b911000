package scheduler

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/scheduler/bandwidth"
)

// watchPartial follows the Partial view of d's download on s from when it appears until the
// download ends, checking at each step that the verified prefix reads as want's; it returns
// every prefix length seen.
func watchPartial(t *testing.T, s *Scheduler, d core.Digest, want []byte) []int64 {
	t.Helper()
	var p *Partial
	for deadline := time.Now().Add(10 * time.Second); p == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no download of the blob in progress")
		}
		p = s.Partial(d)
	}
	defer p.Close()
	if p.Size() != int64(len(want)) {
		t.Fatalf("Size = %d, want %d", p.Size(), len(want))
	}
	var seen []int64
	for {
		n, changed, ended := p.Verified()
		got := make([]byte, n)
		if _, err := p.ReadAt(got, 0); err != nil && !(err == io.EOF && n == 0) {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[:n]) {
			t.Fatalf("the verified prefix of %d bytes differs from the blob's", n)
		}
		if len(seen) == 0 || seen[len(seen)-1] != n {
			seen = append(seen, n)
		}
		if ended {
			return seen
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatal("the download's prefix stopped moving")
		}
	}
}

// A download's Partial view shows its verified prefix, never shrinking, up to the whole blob
// (its last piece verified means the blob matched its digest), and is gone once the blob is
// published.
func TestPartialFollowsDownload(t *testing.T) {
	data, m := blob(t, 1<<20)
	seeder := startNode(t, Config{Bandwidth: bandwidth.Config{EgressBytesPerSec: 2 << 20, Burst: 64 << 10}})
	if err := seeder.s.Seed(m, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	leech := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- leech.s.Download(ctx, m, []netip.AddrPort{seeder.addr}, leech.store) }()
	seen := watchPartial(t, leech.s, m.Digest, data)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	checkStored(t, leech, m, data)
	t.Logf("prefix lengths seen: %v", seen)
	if !slices.IsSorted(seen) {
		t.Errorf("the prefix shrank: %v", seen)
	}
	if last := seen[len(seen)-1]; last != m.Length {
		t.Errorf("prefix ended at %d, want the whole %d", last, m.Length)
	}
	if p := leech.s.Partial(m.Digest); p != nil {
		p.Close()
		t.Error("a Partial view of a published blob")
	}
}

// A peer whose last piece is wrong: the view never shows the bad piece, and the download fails
// without publishing anything.
func TestPartialStopsBeforeBadPiece(t *testing.T) {
	data, m := blob(t, 1<<20)
	served := bytes.Clone(data)
	served[len(served)-1] ^= 1
	seeder := startNode(t, Config{Bandwidth: bandwidth.Config{EgressBytesPerSec: 4 << 20, Burst: 64 << 10}})
	if err := seeder.s.Seed(m, bytes.NewReader(served)); err != nil {
		t.Fatal(err)
	}
	leech := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- leech.s.Download(ctx, m, []netip.AddrPort{seeder.addr}, leech.store) }()
	seen := watchPartial(t, leech.s, m.Digest, data)
	if err := <-errc; err == nil {
		t.Fatal("the download of a blob with a bad last piece succeeded")
	}
	// The seeder is banned when its bad piece comes, whenever that is; the prefix, checked
	// against the blob at every step, never includes it.
	held := int64(m.NumPieces()-1) * m.PieceLength
	if last := seen[len(seen)-1]; last > held {
		t.Fatalf("prefix ended at %d (seen %v), past the bad last piece at %d", last, seen, held)
	}
	if _, err := leech.store.Stat(m.Digest); err == nil {
		t.Fatal("the blob is in the store")
	}
}
