package client

import (
	"bytes"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestRingYAML decodes the ring's keys inlined in a component's configuration, strictly as
// the configuration loader does, and checks defaults and validation.
func TestRingYAML(t *testing.T) {
	type component struct {
		Listen string `yaml:"listen"`
		Ring   Ring   `yaml:",inline"`
	}
	decode := func(src string) (component, error) {
		var c component
		dec := yaml.NewDecoder(bytes.NewBufferString(src))
		dec.KnownFields(true)
		err := dec.Decode(&c)
		return c, err
	}
	c, err := decode("listen: ':1'\norigins: [a:1, b:2]\nreplicas: 3\norigins_dns:\n  dns: origins.example:15002\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Ring.Origins) != 2 || c.Ring.Origins[1] != "b:2" || c.Ring.Replicas != 3 || c.Ring.OriginsDNS.DNS != "origins.example:15002" {
		t.Fatalf("decoded %+v", c.Ring)
	}
	if err := c.Ring.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := decode("origin: [a:1]\n"); err == nil {
		t.Fatal("unknown key origin accepted")
	}

	var r Ring
	r.ApplyDefaults("o:15002")
	if len(r.Origins) != 1 || r.Origins[0] != "o:15002" || r.Replicas != DefaultReplicas || !r.Enabled() {
		t.Fatalf("defaults: %+v", r)
	}
	var none Ring
	none.ApplyDefaults()
	if none.Enabled() || none.Replicas != DefaultReplicas {
		t.Fatalf("defaults without origins: %+v", none)
	}
	for _, tc := range []struct {
		ring Ring
		want string
	}{
		{Ring{Origins: []string{"no-port"}, Replicas: 1}, `origin "no-port"`},
		{Ring{Replicas: 0}, "replicas must be at least 1"},
	} {
		if err := tc.ring.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.ring, err, tc.want)
		}
	}
}
