package purge

import (
	"fmt"
	"regexp"
	"strings"
)

// Filter selects tags by repository and tag name. Both expressions must
// match the whole name: they are anchored, as acr purge's are, so "app"
// matches the repository app and not myapp. They use Go's RE2 syntax,
// which has no lookahead; use Options.Excludes instead of negative
// lookahead.
type Filter struct {
	// Repo matches repository names; it is required.
	Repo *regexp.Regexp
	// Tag matches tag names; it is required. An empty expression matches
	// no tag, which selects the repository for the untagged purge only.
	Tag *regexp.Regexp
}

// ParseFilter parses "REPO_REGEX:TAG_REGEX", such as `app/.*:v1\..*` or
// `.*:pr-[0-9]+`. The separator is the first colon after which both
// halves compile, so colons inside groups such as "(?:a|b)" or classes
// such as "[[:digit:]]" need no escaping. The tag part may be empty
// ("app:"), which matches no tag. Only the first 16 colons are tried as
// the separator, which bounds the work a long malformed filter costs (each
// try compiles both halves); a filter whose repository expression holds
// more colons is refused with an error that says so.
func ParseFilter(s string) (Filter, error) {
	var firstErr error
	tried := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		if tried++; tried > maxSeparatorTries {
			return Filter{}, fmt.Errorf("purge: filter %q: no colon among its first %d splits it into two valid expressions "+
				"(%v), and later colons are not tried: write the repository expression with fewer colons, "+
				"such as (?:a|b) for (?:a)|(?:b)", s, maxSeparatorTries, firstErr)
		}
		repo, tag := s[:i], s[i+1:]
		if repo == "" {
			return Filter{}, fmt.Errorf("purge: filter %q: the repository expression before ':' is empty (use .* for every repository)", s)
		}
		r, err := anchored(repo)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		t, err := anchored(tag)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		return Filter{Repo: r, Tag: t}, nil
	}
	if firstErr != nil {
		return Filter{}, fmt.Errorf("purge: filter %q: %w", s, firstErr)
	}
	return Filter{}, fmt.Errorf("purge: filter %q: want REPO_REGEX:TAG_REGEX, such as 'app/.*:v1\\..*'", s)
}

// MustParseFilter is like ParseFilter but panics on an error, for
// filters written in code.
func MustParseFilter(s string) Filter {
	f, err := ParseFilter(s)
	if err != nil {
		panic(err)
	}
	return f
}

// String returns the filter as REPO_REGEX:TAG_REGEX, without the anchors
// that ParseFilter adds.
func (f Filter) String() string {
	return unanchor(f.Repo) + ":" + unanchor(f.Tag)
}

// MatchRepository reports whether the filter's repository expression
// matches the whole of repo.
func (f Filter) MatchRepository(repo string) bool { return f.Repo != nil && f.Repo.MatchString(repo) }

// Match reports whether the filter matches the tag of the repository.
func (f Filter) Match(repo, tag string) bool {
	return f.MatchRepository(repo) && f.Tag != nil && f.Tag.MatchString(tag)
}

// maxSeparatorTries is how many colons ParseFilter tries as the separator.
const maxSeparatorTries = 16

const anchorPrefix, anchorSuffix = `^(?:`, `)$`

// anchored compiles expr so that it matches whole names only. expr must
// compile on its own first: otherwise a ")" in it could close the
// anchoring group early (v1)|(?:x became ^(?:v1)|(?:x)$, which matches v10),
// and its errors would quote the anchors.
func anchored(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	return regexp.Compile(anchorPrefix + expr + anchorSuffix)
}

func unanchor(re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	s := re.String()
	if strings.HasPrefix(s, anchorPrefix) && strings.HasSuffix(s, anchorSuffix) {
		return s[len(anchorPrefix) : len(s)-len(anchorSuffix)]
	}
	return s
}

// normalize anchors a filter built in code, so that Filter{Repo:
// regexp.MustCompile("app")} does not match myapp. Anchoring an anchored
// expression again changes nothing it matches.
func (f Filter) normalize() (Filter, error) {
	if f.Repo == nil || f.Tag == nil {
		return f, fmt.Errorf("purge: filter %q: Repo and Tag are both required", f.String())
	}
	r, err := anchored(f.Repo.String())
	if err != nil {
		return f, err
	}
	t, err := anchored(f.Tag.String())
	if err != nil {
		return f, err
	}
	return Filter{Repo: r, Tag: t}, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
