package agent

import (
	"context"
	"net/http"
	"testing"
	"time"

	originclient "github.com/docket-p2p/docket/origin/client"
)

// TestDeletedBlobsDropped: a layer the registry deletes on the origins (as garbage collection
// does) leaves the agent's cache at its next poll, so the agent stops serving it; the blobs
// still referenced stay cached.
func TestDeletedBlobsDropped(t *testing.T) {
	o := startOrigin(t)
	index := startBuildIndex(t)
	img := seedImage(t, o, index, "library/app", "v1", 64<<10)
	agentURL := startAgent(t, t.TempDir(), o.addr, index, func(c *Config) { c.DeletionPollInterval = 20 * time.Millisecond })
	pull(t, agentURL, "library/app", "v1", img)

	if err := originclient.New(o.addr, nil).Delete(context.Background(), "", img.ld); err != nil {
		t.Fatal(err)
	}
	layerURL := agentURL + "/v2/library/app/blobs/" + img.ld.String()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _, _ := get(t, layerURL)
		if status == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET of the deleted layer: status %d 10 s after the delete, want 404", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The config is still served from the cache: no new download from the origin.
	before := o.downloads(img.cd)
	if status, b, _ := get(t, agentURL+"/v2/library/app/blobs/"+img.cd.String()); status != http.StatusOK || string(b) != string(img.config) {
		t.Fatalf("config after the layer's deletion: status %d", status)
	}
	if after := o.downloads(img.cd); after != before {
		t.Errorf("config fetched from the origin again (%d -> %d downloads)", before, after)
	}

	// The layer is pushed again, and this origin keeps its deletion record (as origins other
	// than the new owners do): the agent caches it again and keeps it.
	o.put(t, img.layer)
	if status, b, _ := get(t, layerURL); status != http.StatusOK || string(b) != string(img.layer) {
		t.Fatalf("GET of the layer pushed again: status %d", status)
	}
	pulled := o.downloads(img.ld)
	time.Sleep(200 * time.Millisecond) // ten polls, each reading the record again
	if status, _, _ := get(t, layerURL); status != http.StatusOK {
		t.Fatalf("GET of the layer pushed again, later: status %d", status)
	}
	if again := o.downloads(img.ld); again != pulled {
		t.Errorf("the layer pushed again left the cache: %d -> %d downloads from the origin", pulled, again)
	}
}
