package registry

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/docket-p2p/docket/core"
)

// Limits of names and list requests.
const (
	// maxNameLength bounds a repository name, as distribution does.
	maxNameLength = 255
	// maxPageSize bounds a tags or catalog page; a larger n is clamped to it.
	maxPageSize = 1000
)

var (
	// nameComponent is one path component of a repository name (distribution's grammar).
	nameComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	// tagPattern is the grammar of a tag.
	tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	// uploadIDPattern is what the handler accepts as an upload id.
	uploadIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// ValidName reports whether name is a valid repository name: slash-separated components of
// the distribution grammar (which excludes "." and ".."), at most maxNameLength bytes.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLength {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if !nameComponent.MatchString(c) {
			return false
		}
	}
	return true
}

// ValidTag reports whether tag matches the tag grammar.
func ValidTag(tag string) bool { return tagPattern.MatchString(tag) }

// reference is a manifest reference: a tag or a digest.
type reference struct {
	tag    string
	digest core.Digest
}

func parseReference(s string) (reference, error) {
	if strings.Contains(s, ":") {
		d, err := core.ParseDigest(s)
		if err != nil {
			return reference{}, errorf(CodeDigestInvalid, "invalid digest reference %q: %v", s, err)
		}
		return reference{digest: d}, nil
	}
	if !ValidTag(s) {
		return reference{}, errorf(CodeManifestInvalid, "invalid tag %q", s)
	}
	return reference{tag: s}, nil
}

// parsePage reads the n and last query parameters of a list request. n absent means a full
// page; n must be a non-negative integer, and is clamped to maxPageSize.
func parsePage(q map[string][]string) (last string, n int, err error) {
	last = first(q["last"])
	raw, ok := q["n"]
	if !ok || len(raw) == 0 || raw[0] == "" {
		return last, maxPageSize, nil
	}
	v, perr := strconv.ParseInt(raw[0], 10, 64)
	if perr != nil || v < 0 {
		return "", 0, errorf(CodePaginationInvalid, "n must be a non-negative integer, got %q", raw[0])
	}
	return last, int(min(v, maxPageSize)), nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
