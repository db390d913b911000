package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load of the kill tests: bounded in count, small blobs so the set stays quick on 2 cores.
const (
	blobSize    = 48 << 10
	warmBlobs   = 12 // pushed before the kill, read in a loop throughout
	streamBlobs = 36 // pushed while an origin is killed
	killAfter   = 8  // the origin dies after this many of streamBlobs
	maxReads    = 50000
	repairWait  = 30 * time.Second
	bucketWait  = 90 * time.Second // write-back retries back off up to a minute
)

// TestKillOriginDuringPushesAndPulls: kill -9 one origin of three (replicas 2) in the middle
// of a stream of pushes and of reads. Every acknowledged push is readable afterwards with its
// digest, every read during the outage succeeds, and the origin, restarted, repairs itself:
// it holds on its disk every acknowledged blob it owns.
func TestKillOriginDuringPushesAndPulls(t *testing.T) {
	ctx := context.Background()
	store := startObjectStore(t)
	origins, cluster := startRing(t, store)
	var warm []blob
	for range warmBlobs {
		b := newBlob(t, blobSize)
		if err := push(ctx, cluster, b); err != nil {
			t.Fatal(err)
		}
		warm = append(warm, b)
	}

	// Readers pull the warm blobs in a loop until the pushes are over.
	stop := make(chan struct{})
	var reads, readFailures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			for i := r; i < maxReads; i += 2 {
				select {
				case <-stop:
					return
				default:
				}
				if err := pull(ctx, cluster, warm[i%len(warm)]); err != nil {
					readFailures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				reads.Add(1)
			}
		})
	}

	victim := origins[1]
	var acked []blob
	failedPushes := 0
	for i := range streamBlobs {
		if i == killAfter {
			victim.kill()
		}
		b := newBlob(t, blobSize)
		if err := push(ctx, cluster, b); err != nil {
			failedPushes++
			t.Logf("push %d not acknowledged: %v", i, err)
			continue
		}
		acked = append(acked, b)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d reads during the pushes, %d failed; %d of %d pushes acknowledged with %s killed",
		reads.Load(), readFailures.Load(), len(acked), streamBlobs, victim.addr)
	if readFailures.Load() > 0 {
		t.Errorf("%d reads failed while an origin was killed; first: %v", readFailures.Load(), firstErr.Load())
	}
	if failedPushes > 0 {
		t.Errorf("%d pushes failed with one origin of three down (replicas 2)", failedPushes)
	}
	acked = append(acked, warm...)
	for _, b := range acked {
		if err := pull(ctx, cluster, b); err != nil {
			t.Errorf("acknowledged blob unreadable with %s down: %v", victim.addr, err)
		}
	}

	var owned []blob
	missing := 0
	for _, b := range acked {
		if cluster.Ring().IsOwner(b.d.String(), victim.addr) {
			owned = append(owned, b)
			if !victim.holdsOnDisk(b.d) {
				missing++
			}
		}
	}
	if missing == 0 {
		t.Fatalf("the killed origin lacks none of the %d blobs it owns: nothing to repair", len(owned))
	}
	start := time.Now()
	victim.start()
	waitFor(t, repairWait, "restarted origin holds every blob it owns", func() bool {
		for _, b := range owned {
			if !victim.holdsOnDisk(b.d) {
				return false
			}
		}
		return true
	})
	t.Logf("restarted origin holds all %d blobs it owns (%d were missing) %v after it started",
		len(owned), missing, time.Since(start).Round(time.Millisecond))
	for _, b := range acked {
		if err := pull(ctx, cluster, b); err != nil {
			t.Errorf("after the restart: %v", err)
		}
	}
}

// TestObjectStoreOutage: with the object store down, pushes are still acknowledged (durable on
// two origins, journalled for write-back); an origin killed -9 and restarted in between keeps
// its journal; once the store returns every acknowledged blob reaches the bucket.
func TestObjectStoreOutage(t *testing.T) {
	ctx := context.Background()
	store := startObjectStore(t)
	origins, cluster := startRing(t, store)
	store.kill()
	var acked []blob
	for i := range streamBlobs / 2 {
		if i == killAfter {
			origins[0].kill()
			origins[0].start()
		}
		b := newBlob(t, blobSize)
		if err := push(ctx, cluster, b); err != nil {
			t.Fatalf("push %d with the object store down: %v", i, err)
		}
		acked = append(acked, b)
	}
	be := store.client(t)
	store.start()
	start := time.Now()
	waitFor(t, bucketWait, "every acknowledged blob in the bucket", func() bool { return inBucket(ctx, be, acked) })
	t.Logf("%d blobs reached the bucket %v after it returned", len(acked), time.Since(start).Round(time.Millisecond))
}
