package buildindex

import (
	"fmt"
	"regexp"
	"strings"
)

// Name limits, as in the distribution spec.
const (
	// maxRepoNameLength bounds a repository name, slashes included.
	maxRepoNameLength = 255
	// maxTagLength bounds a tag.
	maxTagLength = 128
)

var (
	// repoComponent is one slash-separated component of a repository name.
	repoComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	// tagPattern is the whole tag grammar.
	tagPattern = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// CheckRepo validates a repository name. Besides the grammar it refuses "." and ".."
// components outright, so no name can reach outside its place in the backend.
func CheckRepo(repo string) error {
	if repo == "" || len(repo) > maxRepoNameLength {
		return fmt.Errorf("%w: %q: length must be 1 to %d", ErrNameInvalid, repo, maxRepoNameLength)
	}
	for _, c := range strings.Split(repo, "/") {
		if c == "." || c == ".." || !repoComponent.MatchString(c) {
			return fmt.Errorf("%w: %q", ErrNameInvalid, repo)
		}
	}
	return nil
}

// CheckTag validates a tag.
func CheckTag(tag string) error {
	if len(tag) > maxTagLength || tag == "." || tag == ".." || !tagPattern.MatchString(tag) {
		return fmt.Errorf("%w: %q", ErrTagInvalid, tag)
	}
	return nil
}
