package devcluster

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/docket-p2p/docket/agent"
	"github.com/docket-p2p/docket/origin"
	"github.com/docket-p2p/docket/proxy"
	"github.com/docket-p2p/docket/tracker"
)

// TestStartRealCluster starts the real components on free ports, checks every one answers,
// that the wiring points each at the others, and pushes an image through the proxy and pulls
// it through every agent.
func TestStartRealCluster(t *testing.T) {
	o := testOptions(t)
	o.Agents = 2
	c, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	for _, comp := range c.Components {
		if got := getBody(t, "http://"+comp.Addr+"/health"); got != "ok\n" {
			t.Errorf("%s /health: %q", comp.Name, got)
		}
	}
	for _, addr := range append([]string{c.Proxy}, c.Agents...) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s/v2/: %s", addr, resp.Status)
		}
	}

	cfgs := c.Configs()
	if oc, ok := cfgs[NameOrigin].(*origin.Config); !ok || oc.Self != c.Origin || oc.Listen != c.Origin || len(oc.Cluster) != 1 {
		t.Errorf("origin config %+v does not name the origin's address %s", cfgs[NameOrigin], c.Origin)
	}
	if pc, ok := cfgs[NameProxy].(*proxy.Config); !ok || pc.BuildIndex != c.BuildIndex || pc.Ring.Origins[0] != c.Origin {
		t.Errorf("proxy config %+v not wired to %s and %s", cfgs[NameProxy], c.Origin, c.BuildIndex)
	}
	if tc, ok := cfgs[NameTracker].(*tracker.Config); !ok || tc.Listen != c.Tracker || len(tc.Ring.Origins) != 1 || tc.Ring.Origins[0] != c.Origin {
		t.Errorf("tracker config %+v not wired to the origin %s", cfgs[NameTracker], c.Origin)
	}
	for _, name := range []string{"agent-0", "agent-1"} {
		ac, ok := cfgs[name].(*agent.Config)
		if !ok || ac.BuildIndex != c.BuildIndex || ac.Ring.Origins[0] != c.Origin {
			t.Errorf("%s config %+v not wired", name, cfgs[name])
		}
	}

	img, err := random.Image(300<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(c.Proxy+"/dev/random:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	for _, addr := range c.Agents {
		ref, err := name.ParseReference(addr+"/dev/random:v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("pull from %s: %v", addr, err)
		}
		d, err := got.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d != want {
			t.Fatalf("pulled %s from %s, pushed %s", d, addr, want)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("image pulled from %s: %v", addr, err)
		}
	}
}
