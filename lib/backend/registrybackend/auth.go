package registrybackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Limits and defaults of token auth.
const (
	// maxTokenResponse bounds a token endpoint's answer.
	maxTokenResponse = 1 << 20
	// defaultTokenLifetime is a token's lifetime when the endpoint gives none (the Docker
	// token spec's default).
	defaultTokenLifetime = 60 * time.Second
	// tokenExpiryMargin: a token this close to its expiry is not used any more.
	tokenExpiryMargin = 5 * time.Second
)

// errUnauthorized: the registry answered 401 without a challenge this client can answer.
var errUnauthorized = errors.New("unauthorized")

// challenge is what a registry's WWW-Authenticate asked for.
type challenge struct {
	scheme  string // "basic" or "bearer"; "" until the registry has asked
	realm   string
	service string
}

type cachedToken struct {
	value   string
	expires time.Time
}

// authenticator adds credentials to requests: none until the registry asks (401), then
// basic auth or a bearer token for the request's scope, cached until it expires. It is shared
// by every namespace of one upstream registry.
type authenticator struct {
	user, pass string
	insecure   bool // the registry is reached over plain http
	http       *http.Client
	timeout    time.Duration
	now        func() time.Time

	mu     sync.Mutex
	ch     challenge
	tokens map[string]cachedToken // by scope
}

func newAuthenticator(hc *http.Client, user, pass string, insecure bool, timeout time.Duration, now func() time.Time) *authenticator {
	return &authenticator{user: user, pass: pass, insecure: insecure, http: hc, timeout: timeout, now: now, tokens: map[string]cachedToken{}}
}

// do sends the request newReq builds, authorized for scope. A 401 teaches the challenge
// (and drops a cached token the registry no longer accepts); the request is then sent once
// more with fresh credentials, and a second 401 is returned to the caller.
func (a *authenticator) do(ctx context.Context, hc *http.Client, scope string, newReq func() (*http.Request, error)) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := newReq()
		if err != nil {
			return nil, err
		}
		if err := a.authorize(ctx, req, scope); err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt == 1 {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxTokenResponse))
		resp.Body.Close()
		ch, ok := parseChallenge(resp.Header.Values("WWW-Authenticate"))
		if !ok {
			return nil, fmt.Errorf("%w: 401 without a basic or bearer challenge (%q)", errUnauthorized, resp.Header.Values("WWW-Authenticate"))
		}
		a.mu.Lock()
		a.ch = ch
		delete(a.tokens, scope)
		a.mu.Unlock()
	}
}

// authorize adds the credentials the registry asked for last.
func (a *authenticator) authorize(ctx context.Context, req *http.Request, scope string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.ch.scheme {
	case "basic":
		if a.user != "" {
			req.SetBasicAuth(a.user, a.pass)
		}
	case "bearer":
		t, ok := a.tokens[scope]
		if !ok || !a.now().Before(t.expires.Add(-tokenExpiryMargin)) {
			var err error
			if t, err = a.fetchToken(ctx, scope); err != nil {
				return err
			}
			a.tokens[scope] = t
		}
		req.Header.Set("Authorization", "Bearer "+t.value)
	}
	return nil
}

// tokenResponse is a token endpoint's answer (Docker token spec; access_token is the
// OAuth2 name of the same token).
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// fetchToken asks the challenge's realm for a token of scope, with basic auth when a
// username is configured. a.mu is held.
func (a *authenticator) fetchToken(ctx context.Context, scope string) (cachedToken, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	u, err := url.Parse(a.ch.realm)
	if err != nil || (u.Scheme != "https" && (u.Scheme != "http" || !a.insecure)) {
		// Credentials go to the realm: never in clear text for a registry reached over TLS.
		return cachedToken{}, fmt.Errorf("%w: token realm %q is not an https URL (http only for an http registry)", errUnauthorized, a.ch.realm)
	}
	q := u.Query()
	if a.ch.service != "" {
		q.Set("service", a.ch.service)
	}
	q.Set("scope", scope)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return cachedToken{}, err
	}
	if a.user != "" {
		req.SetBasicAuth(a.user, a.pass)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return cachedToken{}, fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return cachedToken{}, fmt.Errorf("token request: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return cachedToken{}, fmt.Errorf("%w: token endpoint %s: %s: %.200s", errUnauthorized, u.Host, resp.Status, body)
	}
	if len(body) > maxTokenResponse {
		return cachedToken{}, fmt.Errorf("token endpoint %s: answer larger than %d bytes", u.Host, maxTokenResponse)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return cachedToken{}, fmt.Errorf("token endpoint %s: %w", u.Host, err)
	}
	if tr.Token == "" {
		tr.Token = tr.AccessToken
	}
	if tr.Token == "" {
		return cachedToken{}, fmt.Errorf("token endpoint %s: the answer holds no token", u.Host)
	}
	life := defaultTokenLifetime
	if tr.ExpiresIn > 0 {
		life = time.Duration(tr.ExpiresIn) * time.Second
	}
	return cachedToken{value: tr.Token, expires: a.now().Add(life)}, nil
}

// parseChallenge reads the first basic or bearer challenge of WWW-Authenticate headers,
// e.g. `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`.
func parseChallenge(headers []string) (challenge, bool) {
	for _, h := range headers {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		scheme = strings.ToLower(scheme)
		if scheme != "basic" && scheme != "bearer" {
			continue
		}
		params := parseParams(rest)
		ch := challenge{scheme: scheme, realm: params["realm"], service: params["service"]}
		if scheme == "bearer" && ch.realm == "" {
			continue
		}
		return ch, true
	}
	return challenge{}, false
}

// parseParams reads comma-separated auth-params: key=token or key="quoted \"string\"".
func parseParams(s string) map[string]string {
	params := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			return params
		}
		key = strings.ToLower(strings.TrimSpace(key))
		rest = strings.TrimLeft(rest, " \t")
		var val strings.Builder
		if strings.HasPrefix(rest, `"`) {
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				val.WriteByte(rest[i])
			}
			s = rest[min(i+1, len(rest)):]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val.WriteString(rest[:end])
			s = rest[end:]
		}
		params[key] = val.String()
	}
}
