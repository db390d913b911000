package origin

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/clocktest"
	"github.com/docket-p2p/docket/lib/metrics"
	"github.com/docket-p2p/docket/origin/client"
)

// startClockedOrigin runs one origin on 127.0.0.1 with its store in dir and the given clock
// and deletion retention; stop ends it.
func startClockedOrigin(t *testing.T, dir string, clock *clocktest.Clock, retention time.Duration) (c client.Client, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Listen: l.Addr().String(), DataDir: dir, Replicas: 1, PeerListen: "127.0.0.1:0", Tracker: TrackerNone,
		Now: clock.Now, DeletionRetention: retention,
	}, slog.New(slog.DiscardHandler), metrics.NewNop())
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(l)
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			hs.Close()
			srv.Close()
		}
	}
	t.Cleanup(stop)
	return client.New(l.Addr().String(), nil), stop
}

func deletedSince(t *testing.T, c client.Client, since time.Time, n int) client.TombstonePage {
	t.Helper()
	page, err := c.(client.DeletionLister).Deleted(context.Background(), since, n)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func digests(page client.TombstonePage) []string {
	var out []string
	for _, ts := range page.Deleted {
		out = append(out, ts.Digest)
	}
	return out
}

// TestDeletionRecords checks GET /deleted: deletions are listed oldest first from a time, page
// by page; a blob pushed again loses its record; records survive a restart and expire after the
// retention, by the injected clock.
func TestDeletionRecords(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New()
	dir := t.TempDir()
	c, stop := startClockedOrigin(t, dir, clock, time.Hour)

	var ds []core.Digest
	var data [][]byte
	for range 3 {
		b, d := randomBlob(t, 1000)
		if err := c.Upload(ctx, "", d, int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		ds, data = append(ds, d), append(data, b)
	}
	if page := deletedSince(t, c, time.Time{}, 10); len(page.Deleted) != 0 {
		t.Fatalf("deletions before any delete: %v", digests(page))
	}
	start := clock.Now()
	for _, d := range ds {
		clock.Advance(time.Minute)
		if err := c.Delete(ctx, "", d); err != nil {
			t.Fatal(err)
		}
	}
	page := deletedSince(t, c, time.Time{}, 10)
	if got := digests(page); len(got) != 3 || got[0] != ds[0].String() || got[1] != ds[1].String() || got[2] != ds[2].String() || page.More {
		t.Fatalf("deletions %v (more %v), want %v in order", got, page.More, ds)
	}
	if !page.Deleted[0].Deleted.Equal(start.Add(time.Minute)) {
		t.Errorf("first deletion at %v, want %v (the origin's clock)", page.Deleted[0].Deleted, start.Add(time.Minute))
	}
	// Paging: two records, then from the second one's time on.
	first := deletedSince(t, c, time.Time{}, 2)
	if len(first.Deleted) != 2 || !first.More {
		t.Fatalf("first page %v more %v, want 2 records and more", digests(first), first.More)
	}
	if got := digests(deletedSince(t, c, first.Deleted[1].Deleted, 10)); len(got) != 2 || got[1] != ds[2].String() {
		t.Fatalf("from the second record: %v", got)
	}

	// Pushed again: its record goes, agents keep their copies.
	if err := c.Upload(ctx, "", ds[1], int64(len(data[1])), bytes.NewReader(data[1])); err != nil {
		t.Fatal(err)
	}
	if got := digests(deletedSince(t, c, time.Time{}, 10)); len(got) != 2 || got[0] != ds[0].String() || got[1] != ds[2].String() {
		t.Fatalf("after pushing %s again: %v", ds[1], got)
	}

	// A restart reads the records back; past the retention they expire.
	stop()
	c, _ = startClockedOrigin(t, dir, clock, time.Hour)
	if got := digests(deletedSince(t, c, time.Time{}, 10)); len(got) != 2 {
		t.Fatalf("after a restart: %v, want 2 records", got)
	}
	clock.Advance(time.Hour - 2*time.Minute + time.Second) // ds[0] was deleted just over an hour ago
	if got := digests(deletedSince(t, c, time.Time{}, 10)); len(got) != 1 || got[0] != ds[2].String() {
		t.Fatalf("an hour on: %v, want only %s", got, ds[2])
	}

	// Bad queries get the error envelope's 400.
	for _, q := range []string{"since=yesterday", "n=0", "n=x"} {
		resp, err := http.Get("http://" + c.Addr() + "/deleted?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /deleted?%s: status %d, want 400", q, resp.StatusCode)
		}
	}
}
