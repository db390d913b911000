package registrybackend

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/docket-p2p/docket/core"
	"github.com/docket-p2p/docket/lib/backend"
	"github.com/docket-p2p/docket/lib/backend/backendtest"
)

const testUser, testPass = "puller", "s3cret-pass"

// push stores every object's bytes as a blob of repo in the registry at addr.
func push(t *testing.T, addr, repo string, objects map[string][]byte, auth authn.Authenticator) {
	t.Helper()
	r, err := name.NewRepository(addr+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	for n, data := range objects {
		l := static.NewLayer(data, types.OCILayer)
		if err := remote.WriteLayer(r, l, remote.WithAuth(auth)); err != nil {
			t.Fatalf("pushing %s: %v", n, err)
		}
	}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformanceAnonymous(t *testing.T) {
	backendtest.RunReadOnly(t, func(t *testing.T, objects map[string][]byte) backend.Client {
		addr := backendtest.StartRegistry(t, "")
		push(t, addr, "team/app", objects, authn.Anonymous)
		return newClient(t, Config{Address: "http://" + addr}).ForNamespace("team/app")
	})
}

// htpasswdAuth is a registry auth section for basic auth with testUser.
func htpasswdAuth(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(testUser+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "auth:\n  htpasswd:\n    realm: docket-test\n    path: " + path + "\n"
}

func TestConformanceBasicAuth(t *testing.T) {
	var addr string
	backendtest.RunReadOnly(t, func(t *testing.T, objects map[string][]byte) backend.Client {
		addr = backendtest.StartRegistry(t, htpasswdAuth(t))
		push(t, addr, "team/app", objects, &authn.Basic{Username: testUser, Password: testPass})
		t.Setenv("DOCKET_TEST_REGISTRY_PASSWORD", testPass)
		return newClient(t, Config{Address: "http://" + addr, Username: testUser,
			PasswordEnv: "DOCKET_TEST_REGISTRY_PASSWORD"}).ForNamespace("team/app")
	})
	present := backend.BlobName(core.SHA256Digest([]byte("hello, read-only backend")))
	for _, cfg := range []Config{
		{Address: "http://" + addr},
		{Address: "http://" + addr, Username: testUser, Password: "wrong"},
	} {
		_, err := newClient(t, cfg).ForNamespace("team/app").Stat(context.Background(), present)
		if err == nil || errors.Is(err, backend.ErrNotFound) || !strings.Contains(err.Error(), "401") {
			t.Errorf("Stat as %q/%q: %v, want a 401 error", cfg.Username, cfg.Password, err)
		}
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestConformanceTokenAuth: a registry with token auth whose token server the test runs
// (JWTs signed with a key the registry trusts). Tokens are fetched once per scope and reused
// until they expire (by the client's clock), and fetched again when the registry refuses one.
func TestConformanceTokenAuth(t *testing.T) {
	ts := startTokenServer(t, testUser, testPass)
	var (
		c     *Client
		clock = &fakeClock{t: time.Now()}
		addr  string
	)
	backendtest.RunReadOnly(t, func(t *testing.T, objects map[string][]byte) backend.Client {
		addr = backendtest.StartRegistry(t, ts.authConfig(t))
		push(t, addr, "upstream/app", objects, &authn.Basic{Username: testUser, Password: testPass})
		c = newClient(t, Config{Address: "http://" + addr, Repository: "upstream/{namespace}",
			Username: testUser, Password: testPass})
		c.auth.now = clock.Now
		return c.ForNamespace("app")
	})
	ctx := context.Background()
	data := []byte("hello, read-only backend")
	present := backend.BlobName(core.SHA256Digest(data))
	app := c.ForNamespace("app")
	stat := func() {
		t.Helper()
		if info, err := app.Stat(ctx, present); err != nil || info.Size != int64(len(data)) {
			t.Fatalf("Stat: %+v, %v", info, err)
		}
	}
	stat()
	// The suite asked for one scope only (repository:upstream/app:pull): one token served it.
	if n := ts.grants("repository:upstream/app:pull"); n != 1 {
		t.Errorf("%d token requests for the suite's scope, want 1 (cached)", n)
	}
	before := ts.requests.Load()
	for range 20 {
		stat()
	}
	if n := ts.requests.Load() - before; n != 0 {
		t.Errorf("20 more calls made %d token requests, want 0 (cached)", n)
	}
	clock.Advance(time.Duration(tokenLifetimeSeconds)*time.Second + time.Second)
	stat()
	stat()
	if n := ts.requests.Load() - before; n != 1 {
		t.Errorf("after expiry: %d token requests, want 1", n)
	}
	// A token the registry refuses (revoked, or signed by a key it no longer trusts) is
	// replaced after one 401.
	c.auth.mu.Lock()
	tok := c.auth.tokens["repository:upstream/app:pull"]
	tok.value = "not-a-token"
	c.auth.tokens["repository:upstream/app:pull"] = tok
	c.auth.mu.Unlock()
	stat()
	if n := ts.requests.Load() - before; n != 2 {
		t.Errorf("after a refused token: %d token requests, want 2", n)
	}
	// Another namespace is another scope: its own token.
	other := c.ForNamespace("other")
	if _, err := other.Stat(ctx, present); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Stat in an empty repository: %v, want ErrNotFound", err)
	}
	if n := ts.grants("repository:upstream/other:pull"); n != 1 {
		t.Errorf("%d token requests for another namespace's scope, want 1", n)
	}
	// Without credentials, or with wrong ones, the token server grants nothing: a 401 error,
	// never "not found".
	for _, cfg := range []Config{
		{Address: "http://" + addr, Repository: "upstream/app"},
		{Address: "http://" + addr, Repository: "upstream/app", Username: testUser, Password: "wrong"},
	} {
		_, err := newClient(t, cfg).Stat(ctx, present)
		if err == nil || errors.Is(err, backend.ErrNotFound) {
			t.Errorf("Stat as %q/%q: %v, want an authorization error", cfg.Username, cfg.Password, err)
		}
	}
}

// TestManifestByDigest: a manifest (which Docket stores as a blob) is read by its digest
// through the same calls as a layer, byte for byte.
func TestManifestByDigest(t *testing.T) {
	addr := backendtest.StartRegistry(t, "")
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(addr+"/library/busybox:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	cfgRaw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{Address: "http://" + addr, Repository: "library/{namespace}"}).ForNamespace("busybox")
	ctx := context.Background()
	for what, want := range map[string][]byte{"manifest": raw, "config": cfgRaw} {
		n := backend.BlobName(core.SHA256Digest(want))
		info, err := c.Stat(ctx, n)
		if err != nil || info.Size != int64(len(want)) {
			t.Fatalf("Stat of the %s: %+v, %v", what, info, err)
		}
		var buf bytes.Buffer
		if err := c.Download(ctx, n, &buf); err != nil || !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("Download of the %s: %d bytes, %v", what, buf.Len(), err)
		}
	}
	// An invalid namespace is no repository upstream.
	if _, err := newClient(t, Config{Address: "http://" + addr}).ForNamespace("../v2").Stat(ctx,
		backend.BlobName(core.SHA256Digest(raw))); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Stat in namespace ../v2: %v, want ErrNotFound", err)
	}
}

func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    challenge
		ok      bool
	}{
		{[]string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`},
			challenge{scheme: "bearer", realm: "https://auth.docker.io/token", service: "registry.docker.io"}, true},
		{[]string{`Basic realm="Registry Realm"`}, challenge{scheme: "basic", realm: "Registry Realm"}, true},
		{[]string{`bearer realm=http://a/t, service=s`}, challenge{scheme: "bearer", realm: "http://a/t", service: "s"}, true},
		{[]string{`Bearer realm="a \"quoted\" realm",service="x"`}, challenge{scheme: "bearer", realm: `a "quoted" realm`, service: "x"}, true},
		{[]string{`Negotiate abc`, `Basic realm=x`}, challenge{scheme: "basic", realm: "x"}, true},
		{[]string{`Bearer service="no-realm"`}, challenge{}, false},
		{[]string{`Bearer realm="unterminated`}, challenge{scheme: "bearer", realm: "unterminated"}, true},
		{nil, challenge{}, false},
	} {
		got, ok := parseChallenge(tc.headers)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseChallenge(%q) = %+v, %v; want %+v, %v", tc.headers, got, ok, tc.want, tc.ok)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{},
		{Address: "ftp://r"},
		{Address: "https://r/v2/"},
		{Address: "https://r", Repository: "Upper/{namespace}"},
		{Address: "https://r", Repository: "a/../b"},
		{Address: "https://r", Password: "p"},
		{Address: "https://r", Username: "u", Password: "p", PasswordEnv: "E"},
		{Address: "https://r", Timeout: -1},
	} {
		c.ApplyDefaults()
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
	if _, err := New(Config{Address: "https://r", Username: "u", PasswordEnv: "DOCKET_TEST_UNSET_VARIABLE"}); err == nil {
		t.Error("an unset password_env was accepted")
	}
	ok := Config{Address: "https://registry-1.docker.io", Repository: "library/{namespace}"}
	ok.ApplyDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}
