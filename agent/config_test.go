package agent

import (
	"testing"

	"github.com/docket-p2p/docket/lib/config"
	originclient "github.com/docket-p2p/docket/origin/client"
)

func TestConfig(t *testing.T) {
	var c Config
	if err := config.Decode(nil, &c); err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.DataDir != DefaultDataDir || len(c.Ring.Origins) != 1 ||
		c.Ring.Origins[0] != DefaultOrigin || c.Ring.Replicas != originclient.DefaultReplicas || c.BuildIndex != DefaultBuildIndex {
		t.Fatalf("defaults: %+v", c)
	}
	for _, bad := range []string{
		"listen: nowhere\n",
		"origins: [\"no-port\"]\n",
		"replicas: -1\n",
		"build_index: \"\"\nbuild_indx: x\n",
		"data_dir: [1]\n",
	} {
		var c Config
		if err := config.Decode([]byte(bad), &c); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
