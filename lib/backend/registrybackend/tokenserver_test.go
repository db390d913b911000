package registrybackend

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tokenLifetimeSeconds is the expires_in of the test token server's tokens.
const tokenLifetimeSeconds = 300

const (
	tokenIssuer  = "docket-test-issuer"
	tokenService = "docket-test-registry"
)

// tokenServer implements the Docker token spec for a registry with `auth: token`: it checks
// basic credentials and answers a JWT (ES256, its certificate in the x5c header) granting the
// requested repository actions to the right user, and no access to anyone else.
type tokenServer struct {
	url      string
	key      *ecdsa.PrivateKey
	certDER  []byte
	user     string
	pass     string
	requests atomic.Int64

	mu     sync.Mutex
	scopes map[string]int // token requests per scope
}

func startTokenServer(t *testing.T, user, pass string) *tokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: tokenIssuer},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenServer{key: key, certDER: der, user: user, pass: pass, scopes: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(ts.serveToken)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	// "localhost", not the IP literal: go-containerregistry (the test's pusher) refuses a
	// realm on a private IP literal.
	ts.url = "http://localhost:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port) + "/token"
	return ts
}

// authConfig is the registry's auth section trusting this server's certificate.
func (ts *tokenServer) authConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.certDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return "auth:\n  token:\n    realm: " + ts.url + "\n    service: " + tokenService +
		"\n    issuer: " + tokenIssuer + "\n    rootcertbundle: " + path + "\n"
}

// grants is how many token requests asked for scope.
func (ts *tokenServer) grants(scope string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.scopes[scope]
}

type accessEntry struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (ts *tokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	ts.requests.Add(1)
	q := r.URL.Query()
	ts.mu.Lock()
	for _, s := range q["scope"] {
		ts.scopes[s]++
	}
	ts.mu.Unlock()
	if q.Get("service") != tokenService {
		http.Error(w, "unknown service", http.StatusBadRequest)
		return
	}
	access := []accessEntry{}
	if u, p, ok := r.BasicAuth(); ok && u == ts.user && p == ts.pass {
		for _, s := range q["scope"] {
			parts := strings.Split(s, ":")
			if len(parts) != 3 || parts[0] != "repository" {
				continue
			}
			access = append(access, accessEntry{Type: "repository", Name: parts[1], Actions: strings.Split(parts[2], ",")})
		}
	} else if ok {
		http.Error(w, "wrong credentials", http.StatusUnauthorized)
		return
	}
	tok, err := ts.sign(access)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": tokenLifetimeSeconds,
		"issued_at": time.Now().UTC().Format(time.RFC3339)})
}

// sign makes a JWT for the access list, signed ES256 with the certificate in x5c.
func (ts *tokenServer) sign(access []accessEntry) (string, error) {
	now := time.Now()
	header, err := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256",
		"x5c": []string{base64.StdEncoding.EncodeToString(ts.certDER)}})
	if err != nil {
		return "", err
	}
	jti := make([]byte, 8)
	rand.Read(jti)
	claims, err := json.Marshal(map[string]any{
		"iss": tokenIssuer, "sub": ts.user, "aud": tokenService,
		"exp": now.Add(tokenLifetimeSeconds * time.Second).Unix(), "nbf": now.Add(-time.Minute).Unix(),
		"iat": now.Unix(), "jti": base64.RawURLEncoding.EncodeToString(jti), "access": access,
	})
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, ts.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
