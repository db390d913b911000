package registrybackend

import (
	"strings"
	"testing"
)

// FuzzParseChallenge: any WWW-Authenticate header (untrusted: it comes from the upstream
// registry) parses without panicking, into a basic challenge or a bearer one with a realm,
// or none; a header parsed alone gives the same challenge when repeated.
func FuzzParseChallenge(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`,
		`Basic realm="Registry Realm"`,
		`bearer realm=http://a/t, service=s`,
		`Bearer realm="a \"quoted\" realm\`,
		`Bearer realm="unterminated`,
		`Negotiate`, ``, `Bearer ,,,=,"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		ch, ok := parseChallenge([]string{h})
		if !ok {
			if ch != (challenge{}) {
				t.Fatalf("no challenge, but %+v", ch)
			}
			return
		}
		switch ch.scheme {
		case "basic":
		case "bearer":
			if ch.realm == "" {
				t.Fatalf("a bearer challenge without a realm from %q", h)
			}
		default:
			t.Fatalf("scheme %q from %q", ch.scheme, h)
		}
		if again, ok2 := parseChallenge([]string{h, h}); !ok2 || again != ch {
			t.Fatalf("%q parsed %+v, twice %+v", h, ch, again)
		}
		if !strings.EqualFold(strings.Fields(h)[0], ch.scheme) {
			t.Fatalf("scheme %q not the header's first word in %q", ch.scheme, h)
		}
	})
}
