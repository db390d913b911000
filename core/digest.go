// Package core holds Docket's shared value types: content digests, blob metainfo, peer and
// info-hash identifiers. It imports nothing of Docket's own and does no I/O.
package core

import (
	_ "crypto/sha256" // registers sha256 with go-digest
	_ "crypto/sha512" // registers sha512 with go-digest
	"errors"
	"fmt"
	"hash"
	"io"

	godigest "github.com/opencontainers/go-digest"
)

// Supported digest algorithms. sha256 is the default for everything Docket computes itself;
// sha512 is accepted wherever a registry client asks for it.
const (
	SHA256 = "sha256"
	SHA512 = "sha512"
)

// ErrInvalidDigest is returned (wrapped) for any string that is not a valid, supported digest.
var ErrInvalidDigest = errors.New("invalid digest")

// ErrUnsupportedAlgorithm is returned (wrapped) for a well-formed digest of an algorithm Docket
// does not accept.
var ErrUnsupportedAlgorithm = errors.New("unsupported digest algorithm")

// Digest is a validated content digest such as "sha256:<64 hex>". The zero value is the empty
// digest and is invalid everywhere a digest is required; only ParseDigest and the constructors
// below make non-zero values.
type Digest struct {
	d godigest.Digest
}

// ParseDigest validates s: a supported algorithm and a lower-case hex encoding of the right
// length.
func ParseDigest(s string) (Digest, error) {
	d := godigest.Digest(s)
	if err := d.Validate(); err != nil {
		if errors.Is(err, godigest.ErrDigestUnsupported) {
			return Digest{}, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, s)
		}
		return Digest{}, fmt.Errorf("%w: %q: %v", ErrInvalidDigest, s, err)
	}
	switch d.Algorithm() {
	case SHA256, SHA512:
	default:
		return Digest{}, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, s)
	}
	return Digest{d: d}, nil
}

// MustParseDigest is ParseDigest for constants in tests; it panics on error.
func MustParseDigest(s string) Digest {
	d, err := ParseDigest(s)
	if err != nil {
		panic(err)
	}
	return d
}

// NewDigester returns a hasher for algorithm alg (SHA256 or SHA512).
func NewDigester(alg string) (*Digester, error) {
	a := godigest.Algorithm(alg)
	switch alg {
	case SHA256, SHA512:
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	return &Digester{alg: a, h: a.Hash()}, nil
}

// Digester computes a Digest over the bytes written to it.
type Digester struct {
	alg godigest.Algorithm
	h   hash.Hash
}

// Write adds p to the running hash; it never fails.
func (g *Digester) Write(p []byte) (int, error) { return g.h.Write(p) }

// Hash exposes the running hash, for callers that checkpoint or combine it.
func (g *Digester) Hash() hash.Hash { return g.h }

// Digest returns the digest of everything written so far.
func (g *Digester) Digest() Digest { return Digest{d: godigest.NewDigest(g.alg, g.h)} }

// SHA256Digest returns the sha256 digest of b.
func SHA256Digest(b []byte) Digest { return Digest{d: godigest.SHA256.FromBytes(b)} }

// DigestReader returns the digest of everything r yields, with algorithm alg.
func DigestReader(alg string, r io.Reader) (Digest, int64, error) {
	g, err := NewDigester(alg)
	if err != nil {
		return Digest{}, 0, err
	}
	n, err := io.Copy(g, r)
	if err != nil {
		return Digest{}, n, err
	}
	return g.Digest(), n, nil
}

// String returns "algorithm:hex", or "" for the zero Digest.
func (d Digest) String() string { return string(d.d) }

// Algorithm returns "sha256" or "sha512".
func (d Digest) Algorithm() string { return string(d.d.Algorithm()) }

// Hex returns the hex encoding without the algorithm prefix.
func (d Digest) Hex() string { return d.d.Encoded() }

// IsZero reports whether d is the zero (unset) Digest.
func (d Digest) IsZero() bool { return d.d == "" }

// NewDigester returns a hasher of d's algorithm, for verifying content against d.
func (d Digest) NewDigester() *Digester {
	return &Digester{alg: d.d.Algorithm(), h: d.d.Algorithm().Hash()}
}

// ResumeDigester returns a Digester for verifying content against d that goes on from h, a
// hash of d's algorithm that has already been fed the content's first bytes.
func (d Digest) ResumeDigester(h hash.Hash) *Digester {
	return &Digester{alg: d.d.Algorithm(), h: h}
}

// MarshalText implements encoding.TextMarshaler.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.d), nil }

// UnmarshalText implements encoding.TextUnmarshaler and validates like ParseDigest.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}
