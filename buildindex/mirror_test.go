package buildindex

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/fs"
)

// gatedStore is an fs store whose Download, once it has read an object, waits for release: a
// read the test can hold between the store's answer and the mirror's copy of it.
type gatedStore struct {
	*fs.Client
	read, release chan struct{}
}

func (g *gatedStore) Download(ctx context.Context, name string, w io.Writer) error {
	var buf bytes.Buffer
	if err := g.Client.Download(ctx, name, &buf); err != nil {
		return err
	}
	close(g.read)
	<-g.release
	_, err := w.Write(buf.Bytes())
	return err
}

// TestMirrorReadRacingWrite: a read of the store that an upload of the same object overtakes
// does not put the older content back in the mirror.
func TestMirrorReadRacingWrite(t *testing.T) {
	ctx := context.Background()
	remote, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	local, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{Client: remote, read: make(chan struct{}), release: make(chan struct{})}
	m := &mirror{remote: g, local: local, log: slog.New(slog.DiscardHandler)}
	const name = "repositories/app/_tags/v1"
	put := func(c backend.Client, s string) {
		t.Helper()
		if err := c.Upload(ctx, name, bytes.NewReader([]byte(s)), int64(len(s))); err != nil {
			t.Fatal(err)
		}
	}
	put(remote, "old")
	done := make(chan error, 1)
	go func() { done <- m.Download(ctx, name, io.Discard) }()
	<-g.read         // the read has the old content ...
	put(m, "new")    // ... when an upload of the new one completes
	close(g.release) // and only then does the read finish
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := local.Download(ctx, name, &got); err != nil {
		t.Fatal(err)
	}
	if got.String() != "new" {
		t.Fatalf("mirror holds %q after the racing read, want %q", got.String(), "new")
	}
}
