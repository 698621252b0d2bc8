package purge

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/acrgo/acr"
)

// ErrAgesUnknown reports options that need ages, order or manifest
// listings (Ago other than 0, Keep, Untagged, UntaggedOnly) on a registry
// without ACR's /acr/v1 metadata API.
var ErrAgesUnknown = errors.New("purge: the registry reports no ages, order or manifest listings (it has no /acr/v1 API)")

// DefaultConcurrency is the number of requests in flight when
// Options.Concurrency is 0: enough to hide latency, few enough to stay
// under ACR's write throttling (WriteOps/min: 100 on Basic, 2,000 on
// Premium).
const DefaultConcurrency = 5

// MaxConcurrency bounds Options.Concurrency.
const MaxConcurrency = 64

// Options says what to purge. Nil or zero fields mean the defaults noted;
// the package copies Options on entry and never keeps or changes the
// caller's.
type Options struct {
	// Filters select repositories and tags; at least one is required. A
	// tag is a candidate when any filter matches it.
	Filters []Filter
	// Excludes protect the tags they match, whatever the filters say.
	Excludes []Filter
	// Ago is the age a tag or untagged manifest must exceed, by its last
	// update time: 0 means any age, Forever means none. Objects whose
	// registry reports no update time are too young unless Ago is 0.
	Ago time.Duration
	// Keep is the number of tags kept in each repository among the newest of
	// those that would otherwise be deleted (matching, older than Ago, and
	// not locked unless IncludeLocked), as acr purge's --keep counts.
	Keep int
	// Untagged also deletes manifests left without tags, once the tags are
	// deleted, that are older than Ago.
	Untagged bool
	// UntaggedOnly deletes only manifests without tags that are older than
	// Ago, and no tag.
	UntaggedOnly bool
	// UnreferencedOnly keeps every manifest that has referrers (signatures,
	// SBOMs, attestations) out of the untagged purge: a signed image stays,
	// with what refers to it, when its tags go. It needs Untagged or
	// UntaggedOnly, and does not protect tags.
	UnreferencedOnly bool
	// IncludeLocked deletes locked tags, manifests and referrers too,
	// unlocking each just before deleting it, and purges locked
	// repositories, unlocking them for the purge and locking them again
	// afterwards.
	IncludeLocked bool
	// MaxDeletes bounds the delete requests of one Run or Apply (tags and
	// manifests; referrers deleted with their subject are not counted);
	// 0 means no bound.
	MaxDeletes int
	// Concurrency bounds the requests in flight; 0 means
	// DefaultConcurrency. A dry run and NewPlan spend them on planning
	// that many repositories at once; a run that deletes plans one
	// repository at a time and spends them on its deletes.
	Concurrency int
	// DryRun makes Run and Apply report what they would delete, and delete
	// nothing; deletions the registry's token for the credential would not
	// allow are reported in Result.Failed (see the package documentation).
	DryRun bool
	// Now returns the current time; nil means time.Now. Ages are measured
	// from one reading at the start.
	Now func() time.Time
	// Progress, when set, is called as items are deleted (in a dry run:
	// would be), unlocked, skipped or fail, one call at a time and in plan
	// order, so that a real run reports in the order of its dry run.
	Progress func(Event)
}

// config is Options validated, with the filters anchored and the cutoff
// computed.
type config struct {
	Options
	filterText  []string
	excludeText []string
	repoExprs   []string // the filters' repository expressions, unanchored
	now         time.Time
	cutoff      time.Time
	untagged    bool // Untagged or UntaggedOnly
}

func (o *Options) config() (*config, error) {
	if o == nil {
		return nil, errors.New("purge: nil Options: at least one filter is required")
	}
	c := &config{Options: *o}
	var errs []string
	if len(o.Filters) == 0 {
		errs = append(errs, "no filter: name the repositories and tags to purge, such as app:.* (every tag of app)")
	}
	c.Filters = make([]Filter, len(o.Filters))
	for i, f := range o.Filters {
		nf, err := f.normalize()
		if err != nil {
			errs = append(errs, err.Error())
		}
		c.Filters[i] = nf
		c.filterText = append(c.filterText, f.String())
		c.repoExprs = append(c.repoExprs, unanchor(f.Repo))
	}
	c.Excludes = make([]Filter, len(o.Excludes))
	for i, f := range o.Excludes {
		nf, err := f.normalize()
		if err != nil {
			errs = append(errs, "exclude: "+err.Error())
		}
		c.Excludes[i] = nf
		c.excludeText = append(c.excludeText, f.String())
	}
	if o.Ago < 0 {
		errs = append(errs, fmt.Sprintf("Ago is negative (%v)", o.Ago))
	}
	if o.Keep < 0 {
		errs = append(errs, fmt.Sprintf("Keep is negative (%d)", o.Keep))
	}
	if o.UnreferencedOnly && !o.Untagged && !o.UntaggedOnly {
		errs = append(errs, "UnreferencedOnly limits the purge of untagged manifests: set Untagged or UntaggedOnly with it")
	}
	if o.MaxDeletes < 0 {
		errs = append(errs, fmt.Sprintf("MaxDeletes is negative (%d)", o.MaxDeletes))
	}
	switch {
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		errs = append(errs, fmt.Sprintf("Concurrency %d is out of range 1..%d", o.Concurrency, MaxConcurrency))
	case o.Concurrency == 0:
		c.Concurrency = DefaultConcurrency
	}
	if len(errs) > 0 {
		return nil, errors.New("purge: " + strings.Join(errs, "; "))
	}
	c.untagged = o.Untagged || o.UntaggedOnly
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	c.now = now()
	if o.Ago != Forever {
		c.cutoff = c.now.Add(-o.Ago)
	}
	return c, nil
}

// old reports whether an object last updated at t is older than Ago.
func (c *config) old(t time.Time) bool {
	switch {
	case c.Ago == 0:
		return true
	case c.Ago == Forever || t.IsZero():
		return false
	}
	return t.Before(c.cutoff)
}

// literalRepositories returns the repository names of the filters, sorted,
// when every filter's repository expression is a literal name.
func (c *config) literalRepositories() ([]string, bool) {
	var names []string
	for _, expr := range c.repoExprs {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, false
		}
		name, complete := re.LiteralPrefix()
		if !complete || name == "" {
			return nil, false
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names), true
}

// literalNames returns the repositories that filters name literally (app
// in app:.*), whatever the other filters are.
func (c *config) literalNames() []string {
	var names []string
	for _, expr := range c.repoExprs {
		re, err := regexp.Compile(expr)
		if err != nil {
			continue
		}
		if name, complete := re.LiteralPrefix(); complete && name != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// matchRepo reports whether any filter names repo.
func (c *config) matchRepo(repo string) bool {
	for _, f := range c.Filters {
		if f.MatchRepository(repo) {
			return true
		}
	}
	return false
}

// matchTag returns the text of the first filter that matches the tag and
// whether no exclude does.
func (c *config) matchTag(repo, tag string) (string, bool) {
	for _, e := range c.Excludes {
		if e.Match(repo, tag) {
			return "", false
		}
	}
	for i, f := range c.Filters {
		if f.Match(repo, tag) {
			return c.filterText[i], true
		}
	}
	return "", false
}

// checkOCI refuses the options that need /acr/v1.
func (c *config) checkOCI(host string) error {
	var need []string
	if c.Ago != 0 {
		need = append(need, "an age (--ago "+FormatDuration(c.Ago)+"; use --ago 0 to delete matching tags whatever their age)")
	}
	if c.Keep != 0 {
		need = append(need, "an order (--keep)")
	}
	if c.Untagged {
		need = append(need, "a manifest listing (--untagged)")
	}
	if c.UntaggedOnly {
		need = append(need, "a manifest listing (--untagged-only)")
	}
	if len(need) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s, and the purge needs %s", ErrAgesUnknown, host, strings.Join(need, ", "))
}

// locked describes the lock flags that refuse deleting an object, or
// returns "".
func locked(p acr.Permissions) string {
	switch {
	case !p.CanWrite && !p.CanDelete:
		return "writeEnabled=false, deleteEnabled=false"
	case !p.CanWrite:
		return "writeEnabled=false"
	case !p.CanDelete:
		return "deleteEnabled=false"
	}
	return ""
}

func unlockUpdate() acr.PermissionsUpdate {
	t := true
	return acr.PermissionsUpdate{CanDelete: &t, CanWrite: &t}
}
