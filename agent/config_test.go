package agent

import (
	"testing"

	"github.com/docket-p2p/docket/lib/config"
)

func TestConfig(t *testing.T) {
	var c Config
	if err := config.Decode(nil, &c); err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.DataDir != DefaultDataDir || len(c.Origins) != 1 ||
		c.Origins[0] != DefaultOrigin || c.Replicas != DefaultReplicas || c.BuildIndex != DefaultBuildIndex {
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
