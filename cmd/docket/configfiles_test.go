package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/docket-p2p/docket/internal/gotool"
	"github.com/docket-p2p/docket/lib/config"
)

// repoRoot is the repository's top folder, seen from this package.
const repoRoot = "../.."

// exampleComponent maps an example file's name (config/origin.yaml, docker/config/origin1.yaml)
// to its component: the longest component name the file name starts with.
func exampleComponent(t *testing.T, file string) component {
	t.Helper()
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	var best component
	for _, c := range components() {
		if strings.HasPrefix(base, c.name) && len(c.name) > len(best.name) {
			best = c
		}
	}
	if best.name == "" {
		t.Fatalf("%s: no component named like it", file)
	}
	return best
}

// TestExampleConfigs validates every example configuration shipped in config/ and docker/config/
// with `docket config validate`, and checks every component has an example in config/.
func TestExampleConfigs(t *testing.T) {
	var files []string
	for _, dir := range []string{"config", "docker/config"} {
		m, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	seen := map[string]bool{}
	for _, f := range files {
		c := exampleComponent(t, f)
		if filepath.Base(filepath.Dir(f)) == "config" && filepath.Base(filepath.Dir(filepath.Dir(f))) != "docker" {
			seen[c.name] = true
		}
		code, stdout, stderr := runDocket(t, context.Background(), "config", "validate", c.name, f)
		if code != exitOK {
			t.Errorf("config validate %s %s: exit %d: %s", c.name, f, code, stderr)
			continue
		}
		if !strings.Contains(stdout, "valid "+c.name) {
			t.Errorf("config validate %s %s: stdout %q", c.name, f, stdout)
		}
	}
	for _, c := range components() {
		if !seen[c.name] {
			t.Errorf("config/ has no example for %s", c.name)
		}
	}
}

// TestConfigValidateRejects checks that `docket config validate` fails, naming the problem, on
// an unknown key, a wrong type, a second document and a missing file, for every component.
func TestConfigValidateRejects(t *testing.T) {
	if len(components()) == 0 {
		t.Fatal("no components compiled in")
	}
	dir := t.TempDir()
	for _, c := range components() {
		for _, tc := range []struct {
			name, body, want string
		}{
			{"unknown key", "no_such_key: 1\n", "no_such_key"},
			{"not a mapping", "- a\n- b\n", "cannot unmarshal"},
			{"two documents", "{}\n---\n{}\n", "more than one YAML document"},
		} {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				f := filepath.Join(dir, c.name+"-"+strings.ReplaceAll(tc.name, " ", "-")+".yaml")
				if err := os.WriteFile(f, []byte(tc.body), 0o644); err != nil {
					t.Fatal(err)
				}
				code, _, stderr := runDocket(t, context.Background(), "config", "validate", c.name, f)
				if code != exitError {
					t.Fatalf("exit %d, want %d; stderr %q", code, exitError, stderr)
				}
				if !strings.Contains(stderr, tc.want) {
					t.Fatalf("stderr %q does not name %q", stderr, tc.want)
				}
			})
		}
		t.Run(c.name+"/missing file", func(t *testing.T) {
			code, _, stderr := runDocket(t, context.Background(), "config", "validate", c.name, filepath.Join(dir, "absent.yaml"))
			if code != exitError || !strings.Contains(stderr, "no such file") {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
		})
	}
}

// TestConfigDefaultsRoundTrip checks that `docket config defaults C` prints YAML that decodes
// strictly back into C's configuration, so the printed keys are the real ones.
func TestConfigDefaultsRoundTrip(t *testing.T) {
	for _, c := range components() {
		code, stdout, stderr := runDocket(t, context.Background(), "config", "defaults", c.name)
		if code != exitOK {
			t.Fatalf("config defaults %s: exit %d: %s", c.name, code, stderr)
		}
		cfg := c.newConfig()
		dec := yaml.NewDecoder(strings.NewReader(stdout))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil {
			t.Fatalf("config defaults %s printed YAML that does not decode strictly: %v\n%s", c.name, err, stdout)
		}
	}
}

// needTool returns the path of a tool the test needs; under CI=true its absence fails the test,
// elsewhere it skips it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := gotool.Look(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found but CI=true (.ci/run installs it)", name)
	}
	t.Skipf("%s not found", name)
	return ""
}

// TestHelmChart renders the chart with `helm template` (lint first) and checks the workloads
// it must contain and that every configuration it renders validates as its component's.
func TestHelmChart(t *testing.T) {
	helm := needTool(t, "helm")
	chart := filepath.Join(repoRoot, "helm", "docket")
	if out, err := exec.Command(helm, "lint", "--strict", chart).CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name    string
		set     []string
		origins int
	}{
		{"defaults", nil, 3},
		{"five origins", []string{"origin.replicas=5", "origin.ringReplicas=3", "agent.cache.type=emptyDir"}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "rel", chart, "--namespace", "docket-test"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(helm, args...)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, stderr.String())
			}
			checkRendered(t, out, tc.origins)
		})
	}
	// The values schema rejects what would render a broken cluster.
	for _, set := range []string{"logLevel=loud", "origin.replicas=0", "agent.cache.type=nfs"} {
		out, err := exec.Command(helm, "template", "rel", chart, "--set", set).CombinedOutput()
		if err == nil {
			t.Errorf("helm template --set %s rendered; want a schema error", set)
		} else if !strings.Contains(string(out), "values don't meet the specifications") && !strings.Contains(string(out), "at '/") {
			t.Errorf("helm template --set %s: %s", set, out)
		}
	}
}

type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
	} `yaml:"spec"`
}

func checkRendered(t *testing.T, out []byte, origins int) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(out))
	kinds := map[string]bool{}
	configs := 0
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered chart is not valid YAML: %v", err)
		}
		if o.Kind == "" {
			continue
		}
		comp := o.Metadata.Labels["app.kubernetes.io/component"]
		kinds[o.Kind+"/"+comp] = true
		if o.Kind == "StatefulSet" && comp == "origin" && (o.Spec.Replicas == nil || *o.Spec.Replicas != origins) {
			t.Errorf("origin StatefulSet replicas %v, want %d", o.Spec.Replicas, origins)
		}
		if o.Kind != "ConfigMap" {
			continue
		}
		c, err := lookupComponent(comp)
		if err != nil {
			t.Fatalf("ConfigMap %s: %v", o.Metadata.Name, err)
		}
		if comp == "origin" && len(o.Data) != origins {
			t.Errorf("origin ConfigMap has %d files, want one per origin (%d)", len(o.Data), origins)
		}
		for key, body := range o.Data {
			cfg := c.newConfig()
			if err := config.Decode([]byte(body), cfg); err != nil {
				t.Errorf("ConfigMap %s key %s is not a valid %s config: %v\n%s", o.Metadata.Name, key, comp, err, body)
			}
			configs++
		}
	}
	for _, want := range []string{
		"StatefulSet/origin", "Service/origin", "ConfigMap/origin",
		"StatefulSet/build-index", "Service/build-index", "ConfigMap/build-index",
		"Deployment/tracker", "Service/tracker", "ConfigMap/tracker",
		"Deployment/proxy", "Service/proxy", "ConfigMap/proxy",
		"DaemonSet/agent", "ConfigMap/agent",
	} {
		if !kinds[want] {
			t.Errorf("rendered chart has no %s", want)
		}
	}
	if want := origins + 4; configs != want {
		t.Errorf("validated %d rendered configs, want %d", configs, want)
	}
}
