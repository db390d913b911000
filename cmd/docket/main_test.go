package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// runDocket runs the command in-process and returns its exit code and output.
func runDocket(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"version", []string{"version"}, exitOK, "docket " + version + "\n", ""},
		{"global flags before command", []string{"--log-level", "debug", "version"}, exitOK, "docket ", ""},
		{"no command", nil, exitUsage, "", "Usage: docket"},
		{"help", []string{"help"}, exitOK, "Commands:", ""},
		{"help flag", []string{"--help"}, exitOK, "", "Usage: docket"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"unknown global flag", []string{"--nope", "version"}, exitUsage, "", "flag provided but not defined"},
		{"version takes no args", []string{"version", "x"}, exitUsage, "", "takes no arguments"},
		{"config without subcommand", []string{"config"}, exitUsage, "", "config validate COMPONENT FILE"},
		{"config unknown subcommand", []string{"config", "frob"}, exitUsage, "", `unknown config subcommand "frob"`},
		{"config validate arity", []string{"config", "validate", "origin"}, exitUsage, "", "config validate COMPONENT FILE"},
		{"config validate unknown component", []string{"config", "validate", "nope", "x.yaml"}, exitUsage, "", `unknown component "nope"`},
		{"bench without subcommand", []string{"bench"}, exitUsage, "", "bench registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runDocket(t, context.Background(), tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestLogger(t *testing.T) {
	for _, tc := range []struct {
		level, format string
		ok            bool
	}{
		{"debug", "text", true},
		{"WARN", "json", true},
		{"error", "JSON", true},
		{"loud", "text", false},
		{"info", "xml", false},
	} {
		g := &globalFlags{logLevel: tc.level, logFormat: tc.format}
		var buf bytes.Buffer
		log, err := g.logger(&buf)
		if (err == nil) != tc.ok {
			t.Fatalf("logger(%q, %q): err %v, want ok=%v", tc.level, tc.format, err, tc.ok)
		}
		if err != nil {
			continue
		}
		log.Error("boom", "k", "v")
		if !strings.Contains(buf.String(), "boom") {
			t.Errorf("logger(%q, %q) wrote %q", tc.level, tc.format, buf.String())
		}
	}
}

func TestHealth(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer healthy.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "disk on fire", http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := closed.Listener.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"healthy by address", []string{strings.TrimPrefix(healthy.URL, "http://")}, exitOK, ""},
		{"healthy by URL", []string{healthy.URL + "/"}, exitOK, ""},
		{"unhealthy", []string{sick.URL}, exitError, "503 Service Unavailable: disk on fire"},
		{"down", []string{"--timeout", "1s", closedAddr}, exitError, "connection refused"},
		{"no address", nil, exitUsage, "want one HOST:PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runDocket(t, context.Background(), append([]string{"health"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, stderr, tc.want)
			}
		})
	}
}
