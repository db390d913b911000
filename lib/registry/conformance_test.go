package registry_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docket-p2p/docket/lib/registry"
	"github.com/docket-p2p/docket/lib/registry/registrytest"
)

// conformanceBinaryEnv names the OCI distribution-spec conformance binary; by default it is
// looked up as "conformance" on PATH and in $HOME/go/bin.
const (
	conformanceBinaryEnv = "DOCKET_OCI_CONFORMANCE"
	conformanceTimeout   = 5 * time.Minute
	// conformanceResultsEnv names a directory that keeps the suite's report (default: a
	// temporary directory).
	conformanceResultsEnv = "DOCKET_OCI_RESULTS"
)

func conformanceBinary() string {
	if p := os.Getenv(conformanceBinaryEnv); p != "" {
		return p
	}
	if p, err := exec.LookPath("conformance"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "conformance")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// fullConformance enables every API and data kind of the suite but sparse indexes: Docket
// refuses an index naming manifests the repository lacks.
var fullConformance = []string{
	"OCI_API_PULL=true",
	"OCI_API_PUSH=true",
	"OCI_API_BLOBS_ATOMIC=true",
	"OCI_API_BLOBS_DELETE=true",
	"OCI_API_BLOBS_DIGEST_HEADER=true",
	"OCI_API_BLOBS_MOUNT_ANONYMOUS=true",
	"OCI_API_BLOBS_UPLOAD_CANCEL=true",
	"OCI_API_MANIFESTS_ATOMIC=true",
	"OCI_API_MANIFESTS_DELETE=true",
	"OCI_API_MANIFESTS_DIGEST_HEADER=true",
	"OCI_API_MANIFESTS_TAG_PARAM=true",
	"OCI_API_TAGS_ATOMIC=true",
	"OCI_API_TAGS_DELETE=true",
	"OCI_API_TAGS_LIST=true",
	"OCI_API_REFERRER=true",
	"OCI_DATA_IMAGE=true",
	"OCI_DATA_INDEX=true",
	"OCI_DATA_INDEX_LIST=true",
	"OCI_DATA_SPARSE=false",
	"OCI_DATA_ARTIFACT=true",
	"OCI_DATA_SUBJECT=true",
	"OCI_DATA_SUBJECT_MISSING=true",
	"OCI_DATA_ARTIFACT_LIST=true",
	"OCI_DATA_SUBJECT_LIST=true",
	"OCI_DATA_DATA_FIELD=true",
	"OCI_DATA_NONDISTRIBUTABLE=true",
	"OCI_DATA_CUSTOM_FIELDS=true",
	"OCI_DATA_NO_LAYERS=true",
	"OCI_DATA_EMPTY_BLOB=true",
	"OCI_DATA_SHA512=true",
}

// TestOCIConformance runs the OCI distribution-spec conformance suite, every API and data
// kind enabled, against the handler over the in-memory storage.
func TestOCIConformance(t *testing.T) {
	bin := needConformance(t)
	mem := registrytest.NewMemory()
	addr := serve(t, registry.New(registry.Options{Blobs: mem, Index: mem}))
	sum := runConformance(t, bin, addr, fullConformance)
	if sum.tests < minConformanceTests {
		t.Fatalf("only %d conformance tests ran, want at least %d", sum.tests, minConformanceTests)
	}
}

// TestOCIConformanceReadOnly runs the suite's pull and discovery tests against a read-only
// handler (the agent's configuration) over content pushed beforehand: an image, an index and
// a referrer.
func TestOCIConformanceReadOnly(t *testing.T) {
	bin := needConformance(t)
	mem := registrytest.NewMemory()
	rw := serve(t, registry.New(registry.Options{Blobs: mem, Index: mem}))
	ro := serve(t, registry.New(registry.Options{Blobs: mem, Index: mem, ReadOnly: true}))
	c := pushFixtures(t, rw, "myorg/myrepo")
	env := []string{
		"OCI_API_PULL=true",
		"OCI_API_PUSH=false",
		"OCI_API_BLOBS_DELETE=false",
		"OCI_API_MANIFESTS_DELETE=false",
		"OCI_API_TAGS_DELETE=false",
		"OCI_API_TAGS_LIST=true",
		"OCI_API_REFERRER=true",
		// The suite cannot check the digest header of read-only manifests it has not seen
		// (it never captures those responses), so that flag stays off here.
		"OCI_API_BLOBS_DIGEST_HEADER=false",
		"OCI_API_MANIFESTS_DIGEST_HEADER=false",
		// With push off, the suite's blob tests crash its report writer (a nil test-data
		// entry in ReportResultsYAML); the filter runs the read-only data tests only.
		"OCI_FILTER_TEST=OCI Conformance Test/read-only",
		"OCI_RO_DATA_TAGS=" + strings.Join(c.tags, " "),
		"OCI_RO_DATA_MANIFESTS=" + strings.Join(c.manifests, " "),
		"OCI_RO_DATA_BLOBS=" + strings.Join(c.blobs, " "),
		"OCI_RO_DATA_REFERRERS=" + strings.Join(c.subjects, " "),
	}
	sum := runConformance(t, bin, ro, env)
	if sum.tests == 0 {
		t.Fatal("no read-only conformance test ran")
	}
}

// minConformanceTests guards against a configuration that silently disables most of the suite
// (986 tests ran with this version and fullConformance).
const minConformanceTests = 900

func needConformance(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("conformance suite skipped in -short mode")
	}
	bin := conformanceBinary()
	if bin == "" {
		t.Skipf("OCI conformance binary not found (set %s)", conformanceBinaryEnv)
	}
	return bin
}

// serve runs h on a free port of 127.0.0.1 until the test ends and returns its address.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return l.Addr().String()
}

// runConformance runs the suite against addr with env and fails the test unless every test
// it ran passed, none skipped.
func runConformance(t *testing.T, bin, addr string, env []string) junitSummary {
	t.Helper()
	results := os.Getenv(conformanceResultsEnv)
	if results == "" {
		results = t.TempDir()
	} else {
		results = filepath.Join(results, t.Name())
		if err := os.MkdirAll(results, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), conformanceTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = results
	// An empty configuration file keeps an oci-conformance.yaml elsewhere from leaking in.
	conf := filepath.Join(results, "none.yaml")
	if err := os.WriteFile(conf, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(),
		"OCI_CONFIGURATION="+conf,
		"OCI_REGISTRY="+addr,
		"OCI_TLS=disabled",
		"OCI_REPO1=myorg/myrepo",
		"OCI_REPO2=myorg/other",
		"OCI_RESULTS_DIR="+results,
		"OCI_VERSION=dev",
		"OCI_LOG=warn",
	)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	// The suite may exit 0 on a setup error, so the verdict comes from its JUnit report.
	sum, err := readJUnit(filepath.Join(results, "junit.xml"))
	if err != nil {
		t.Fatalf("conformance suite (exit: %v) left no usable report: %v\n%s", runErr, err, tail(out.String(), 20000))
	}
	t.Logf("conformance: %d tests, %d failures, %d errors, %d skipped", sum.tests, sum.failures, sum.errors, sum.skipped)
	if runErr != nil || sum.failures != 0 || sum.errors != 0 || sum.skipped != 0 {
		t.Fatalf("conformance suite failed (exit: %v)\n%s", runErr, tail(out.String(), 20000))
	}
	return sum
}

type junitSummary struct{ tests, failures, errors, skipped int }

// readJUnit totals the suite's junit.xml.
func readJUnit(path string) (junitSummary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return junitSummary{}, err
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Errors   int `xml:"errors,attr"`
			Skipped  int `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return junitSummary{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	var s junitSummary
	for _, su := range doc.Suites {
		s.tests += su.Tests
		s.failures += su.Failures
		s.errors += su.Errors
		s.skipped += su.Skipped
	}
	return s, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
