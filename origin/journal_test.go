package origin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/origin/client"
)

// downBackend is a hand-written backend whose every call fails, like an object store that is
// down.
type downBackend struct{ backend.Client }

var errBackendDown = errors.New("backend down")

func (downBackend) Stat(context.Context, string) (backend.Info, error) {
	return backend.Info{}, errBackendDown
}
func (downBackend) Upload(context.Context, string, io.Reader, int64) error { return errBackendDown }

// TestWriteBackSurvivesRestart: blobs committed while the backend is down are journalled;
// the origin stops with them still owed (as after a crash), and once it is back with the
// backend reachable they reach the backend and the journal empties.
func TestWriteBackSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	o := startOrigins(t, 1, 1)[0]
	backendRoot := o.srv.cfg.Backend.Root
	o.srv.writeBack.backends = oneBackend{downBackend{}}
	o.srv.writeBack.q.drainAt = 0 // stop at once, like a crash
	c := client.New(o.addr, nil)
	blobs := map[string][]byte{}
	for _, ns := range []string{"library/a", "team/b"} {
		data, d := randomBlob(t, 50<<10)
		if err := c.Upload(ctx, ns, d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		blobs[d.String()] = data
	}
	entries, bad, err := o.srv.writeBack.journal.entries()
	if err != nil || len(bad) != 0 || len(entries) != 2 {
		t.Fatalf("journal: %d entries, bad %v, %v", len(entries), bad, err)
	}
	o.stop(t)
	// A torn entry and a crashed writer's temp file are cleared at start-up.
	jdir := filepath.Join(o.dir, journalDir)
	if err := os.WriteFile(filepath.Join(jdir, "torn"), []byte(`{"ns":"x","dig`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jdir, journalTempPrefix+"1"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	back := serveOrigin(t, l, o.dir, []string{o.addr}, 1, backendRoot)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := back.srv.writeBack.drain(dctx); err != nil {
		t.Fatalf("resumed write-back did not finish: %v", err)
	}
	be := back.srv.backendFor("")
	for ds, data := range blobs {
		var buf bytes.Buffer
		if err := be.Download(ctx, blobName(core.MustParseDigest(ds)), &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("blob %s in the backend after restart: %d bytes, %v", ds, buf.Len(), err)
		}
	}
	left, err := os.ReadDir(jdir)
	if err != nil || len(left) != 0 {
		t.Fatalf("journal after write-back holds %d files (%v)", len(left), err)
	}
}
