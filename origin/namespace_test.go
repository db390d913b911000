package origin

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backends"
	"github.com/docket-p2p/docket/lib/backend/fs"
	"github.com/docket-p2p/docket/lib/config"
	"github.com/docket-p2p/docket/origin/client"
)

// TestNamespaceBackends: blobs of namespaces matching a row of the table are written back to
// and read through from that row's backend; others use the default one.
func TestNamespaceBackends(t *testing.T) {
	ctx := context.Background()
	teamRoot, defRoot := t.TempDir(), t.TempDir()
	dir := t.TempDir()
	srv, c := startConfigured(t, Config{
		DataDir: dir, Replicas: 1,
		Backend: BackendConfig{Type: backends.TypeFS, Root: defRoot},
		Namespaces: []backends.NamespaceConfig{
			{Namespace: "^team-a/", Backend: backends.Config{Type: backends.TypeFS, Root: teamRoot}},
		},
	})
	team, def := openFS(t, teamRoot), openFS(t, defRoot)

	teamData, teamDigest := randomBlob(t, 70<<10)
	otherData, otherDigest := randomBlob(t, 80<<10)
	if err := c.Upload(ctx, "team-a/app", teamDigest, int64(len(teamData)), bytes.NewReader(teamData)); err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(ctx, "library/busybox", otherDigest, int64(len(otherData)), bytes.NewReader(otherData)); err != nil {
		t.Fatal(err)
	}
	if err := srv.writeBack.drain(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		be   backend.Client
		name string
		want bool
	}{
		{team, blobName(teamDigest), true},
		{def, blobName(teamDigest), false},
		{def, blobName(otherDigest), true},
		{team, blobName(otherDigest), false},
	} {
		_, err := tc.be.Stat(ctx, tc.name)
		if got := err == nil; got != tc.want {
			t.Errorf("%s present: %v, want %v (%v)", tc.name, got, tc.want, err)
		}
	}
	// With the disk wiped, each namespace reads through from its own backend only.
	if err := os.RemoveAll(filepath.Join(dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	body, err := c.Download(ctx, "team-a/app", teamDigest, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAllClose(body); err != nil || !bytes.Equal(got, teamData) {
		t.Fatalf("read-through from the namespace's backend: %d bytes, %v", len(got), err)
	}
	// The copy now on disk answers any namespace; without it, another namespace asks the
	// default backend, which never had the blob.
	if err := srv.Store().Delete(teamDigest); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "library/busybox", teamDigest); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("another namespace found the blob in the default backend: %v", err)
	}
}

func openFS(t *testing.T, root string) backend.Client {
	t.Helper()
	c, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNamespaceConfig(t *testing.T) {
	var c Config
	yaml := "data_dir: /var/docket\nnamespaces:\n  - namespace: \"^team-a/\"\n    backend: {type: fs}\n"
	if err := config.Decode([]byte(yaml), &c); err != nil {
		t.Fatal(err)
	}
	if got := c.Namespaces[0].Backend.Root; got != filepath.Join("/var/docket", "backend") {
		t.Fatalf("an fs row without root got %q", got)
	}
	var ro Config
	yaml = "namespaces:\n  - namespace: \"^library/\"\n    backend:\n      type: registry\n" +
		"      registry: {address: \"https://registry-1.docker.io\", username: u, password: p}\n"
	if err := config.Decode([]byte(yaml), &ro); err != nil {
		t.Fatal(err)
	}
	if r := ro.Namespaces[0].Backend.Registry; r.Repository != "{namespace}" || r.Timeout == 0 {
		t.Fatalf("registry row defaults: %+v", r)
	}
	for _, bad := range []string{
		"namespaces:\n  - namespace: \"(\"\n",
		"namespaces:\n  - namespace: \"\"\n",
		"namespaces:\n  - namespace: x\n    backend: {type: s4}\n",
		"namespaces:\n  - namespace: x\n    bucket: y\n",
		"namespaces:\n  - namespace: x\n    backend: {type: registry, registry: {address: \"http://r\", pasword: y}}\n",
		"namespaces:\n  - namespace: x\n    backend: {type: registry}\n",
		"namespaces:\n  - namespace: x\n    backend: {type: http, http: {download_url: \"http://h/{nmae}\"}}\n",
	} {
		var c Config
		if err := config.Decode([]byte(bad), &c); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}
