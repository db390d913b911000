package origin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/docket-p2p/docket/core"

	"github.com/docket-p2p/docket/origin/client"
)

// ringOf starts n origins with the given replica count and returns them by address, with a
// cluster client over them.
func ringOf(t *testing.T, n, replicas int) (map[string]*testOrigin, *client.Cluster) {
	t.Helper()
	origins := startOrigins(t, n, replicas)
	byAddr := make(map[string]*testOrigin, n)
	var addrs []string
	for _, o := range origins {
		byAddr[o.addr] = o
		addrs = append(addrs, o.addr)
	}
	cluster, err := client.NewCluster(addrs, replicas, nil)
	if err != nil {
		t.Fatal(err)
	}
	return byAddr, cluster
}

// holds reports whether o has d on its own disk.
func holds(o *testOrigin, d core.Digest) bool {
	_, err := o.srv.Store().Stat(d)
	return err == nil
}

func readAllClose(rc io.ReadCloser) ([]byte, error) {
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestCommitOnEveryOwner: with replicas 3 on a three-origin ring, a commit on any origin is
// on all three when it is acknowledged.
func TestCommitOnEveryOwner(t *testing.T) {
	ctx := context.Background()
	byAddr, _ := ringOf(t, 3, 3)
	for addr := range byAddr {
		data, d := randomBlob(t, 200<<10)
		c := client.New(addr, nil)
		if err := c.StartUpload(ctx, "ns", "u"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PatchUpload(ctx, "ns", "u", 0, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := c.CommitUpload(ctx, "ns", "u", d); err != nil {
			t.Fatal(err)
		}
		for a, o := range byAddr {
			if !holds(o, d) {
				t.Fatalf("commit on %s: %s lacks the blob", addr, a)
			}
		}
	}
}

// TestStandIn: with one owner down, a commit is acknowledged only once a stand-in (the next
// origin on the ring) holds a copy, so the blob is still on two origins; the owner is
// repaired in the background when it returns.
func TestStandIn(t *testing.T) {
	ctx := context.Background()
	byAddr, cluster := ringOf(t, 3, 2)
	data, d := randomBlob(t, 300<<10)
	walk := cluster.Ring().Walk(d.String(), 3)
	first, second, third := byAddr[walk[0]], byAddr[walk[1]], byAddr[walk[2]]
	second.stop(t)
	if err := client.New(first.addr, nil).Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("upload with an owner down: %v", err)
	}
	if !holds(first, d) || !holds(third, d) {
		t.Fatalf("blob on first owner: %v, on stand-in: %v; want both", holds(first, d), holds(third, d))
	}
	if n := first.srv.repairs.pendingCount(); n != 1 {
		t.Fatalf("%d repairs pending, want 1", n)
	}
	// The cluster reads it from the stand-in when the first owner goes too, even with the
	// backend emptied (write-back has not happened or was lost).
	first.stop(t)
	if err := third.srv.writeBack.drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := third.srv.backendFor("ns").Delete(ctx, blobName(d)); err != nil {
		t.Fatal(err)
	}
	body, err := cluster.Download(ctx, "ns", d, 0, -1)
	if err != nil {
		t.Fatalf("download with both owners down: %v", err)
	}
	got, err := readAllClose(body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download from the stand-in: %d bytes, %v", len(got), err)
	}
}

// TestCommitFailsWithoutReplicas: when no other origin can take a copy the commit is not
// acknowledged (the client pushes again), yet the copy on this disk is kept, written back and
// queued for its owner.
func TestCommitFailsWithoutReplicas(t *testing.T) {
	ctx := context.Background()
	byAddr, cluster := ringOf(t, 3, 2)
	data, d := randomBlob(t, 100<<10)
	walk := cluster.Ring().Walk(d.String(), 3)
	first := byAddr[walk[0]]
	byAddr[walk[1]].stop(t)
	byAddr[walk[2]].stop(t)
	err := client.New(first.addr, nil).Upload(ctx, "ns", d, int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("upload with every other origin down: %v, want ErrUnavailable", err)
	}
	if !holds(first, d) {
		t.Fatal("the committing origin dropped its copy")
	}
	if n := first.srv.repairs.pendingCount(); n != 1 {
		t.Fatalf("%d repairs pending, want 1", n)
	}
	if err := first.srv.writeBack.drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := first.srv.backendFor("ns").Stat(ctx, blobName(d)); err != nil {
		t.Fatalf("blob of a failed commit not written back: %v", err)
	}
}
