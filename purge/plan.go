package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// Kind says what an Item is.
type Kind string

const (
	// KindTag is a tag; deleting it leaves the manifest it points at.
	KindTag Kind = "tag"
	// KindManifest is an untagged manifest, deleted by digest.
	KindManifest Kind = "manifest"
	// KindReferrer is a manifest whose subject is a deleted manifest: the
	// registry deletes it with its subject.
	KindReferrer Kind = "referrer"
	// KindRepository is a repository; it appears only in Result.Unlocked,
	// Plan.Kept and Events, never as a deletion.
	KindRepository Kind = "repository"
)

// Item is one object of a plan, with the reason for what happens to it.
// In JSON its fields carry the names ACR's API and acrctl's other commands
// give them: the repository is imageName and the last update
// lastUpdateTime.
type Item struct {
	Repository string `json:"imageName"`
	Kind       Kind   `json:"kind"`
	// Tag is the tag of a KindTag item.
	Tag string `json:"tag,omitempty"`
	// Digest is the manifest: the one a tag points at, or the one deleted.
	// On registries without /acr/v1 planning learns a tag's digest with a
	// manifest HEAD.
	Digest       digest.Digest `json:"digest,omitempty"`
	MediaType    string        `json:"mediaType,omitempty"`
	ArtifactType string        `json:"artifactType,omitempty"`
	// Subject is the manifest a KindReferrer item is deleted with.
	Subject digest.Digest `json:"subject,omitempty"`
	// Index is, for a manifest that only deleted indexes reference, the
	// one deleted last: Apply deletes the manifest after it.
	Index digest.Digest `json:"index,omitempty"`
	// LastUpdated is the registry's last update time of the tag or
	// manifest, zero when unknown.
	LastUpdated time.Time `json:"lastUpdateTime,omitzero"`
	// Locked says that a lock flag protects the object: a deletion unlocks
	// it first (IncludeLocked); a Plan.Kept item is kept because of it.
	Locked bool `json:"locked,omitempty"`
	// Reason explains, in one line, why the item is deleted or kept.
	Reason string `json:"reason"`
}

// UnmarshalJSON decodes an item as encoding/json encodes it, and also as
// reports written before the fields took ACR's names had it: with the
// repository under "repository" and the last update under "lastUpdated",
// so that purge.Undo restores what an older report lists.
func (it *Item) UnmarshalJSON(b []byte) error {
	type item Item // without this method
	var v struct {
		item
		OldRepository  string    `json:"repository"`
		OldLastUpdated time.Time `json:"lastUpdated"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*it = Item(v.item)
	if it.Repository == "" {
		it.Repository = v.OldRepository
	}
	if it.LastUpdated.IsZero() {
		it.LastUpdated = v.OldLastUpdated
	}
	return nil
}

// Ref returns the item as a reference: repo:tag, repo@digest, or repo.
func (it Item) Ref() string {
	switch {
	case it.Kind == KindRepository:
		return it.Repository
	case it.Tag != "":
		return it.Repository + ":" + it.Tag
	case it.Digest != "":
		return it.Repository + "@" + it.Digest.String()
	}
	return it.Repository
}

// Plan is what a purge deletes, made by NewPlan and carried out by Apply.
// It is a snapshot: Apply re-checks each object before deleting it.
type Plan struct {
	// Items lists the deletions in the order Apply performs them:
	// repository by repository, tags oldest first, then untagged manifests
	// with each index before the children it leaves unreferenced. Each
	// manifest is followed by the referrers deleted with it (KindReferrer).
	// It is a report: Apply works from the plan's own copy.
	Items []Item `json:"items"`
	// Kept lists what a lock or a protection rule keeps although it would
	// otherwise be deleted: locked tags, manifests and repositories, and
	// manifests whose referrers keep a tag or a lock. Children of kept
	// indexes and referrers of kept subjects, which are expected to stay,
	// are counted in Notes instead.
	Kept []Item `json:"kept,omitempty"`
	// Notes are human-readable remarks on the plan.
	Notes []string `json:"notes,omitempty"`
	// Repositories lists the repositories examined, in catalog order.
	Repositories []string `json:"repositories"`
	// Missing lists the repositories that the filters name literally (such
	// as app:.*) and the registry does not hold: likely a typing mistake.
	Missing []string `json:"missing,omitempty"`

	cfg   *config
	repos []*repoPlan
}

// Deletes returns the number of delete requests the plan makes, without
// MaxDeletes: its tags and manifests, not the referrers deleted with them.
func (p *Plan) Deletes() int {
	n := 0
	for _, it := range p.Items {
		if it.Kind != KindReferrer {
			n++
		}
	}
	return n
}

// repoPlan is the plan of one repository.
type repoPlan struct {
	name string
	oci  bool
	// unlock holds the repository's lock flags when it is locked and
	// IncludeLocked purges it anyway.
	unlock *acr.Permissions
	items  []Item
	// parents lists, for each manifest item, the deleted indexes that
	// reference it; Apply deletes it only after all of them.
	parents map[digest.Digest][]digest.Digest
	// pushed finds the indexes pushed since planning, when the plan
	// deletes untagged manifests.
	pushed *newParents
	kept   []Item
	notes  []string
	// missing is set when the registry does not hold the repository.
	missing bool
	// refused, in a dry run, is why the registry would refuse this
	// repository's deletions: its token for the credential does not grant
	// what they need (see checkGrant). Nil when it would not, or cannot
	// tell. refusedUnlock is why it would refuse to lift the locks of
	// locked items (not of the repository: that is refused) while it
	// would delete the others.
	refused, refusedUnlock error
}

// NewPlan examines every repository that a filter names and returns what
// a purge would delete, changing nothing. Its memory grows with the plan;
// for registry-wide purges, Run holds one repository's plan at a time.
func NewPlan(ctx context.Context, client *acr.Client, opts *Options) (_ *Plan, err error) {
	ctx, endSpan := startSpan(ctx, client, "purge.NewPlan")
	defer func() { endSpan(err) }()
	cfg, err := opts.config()
	if err != nil {
		return nil, err
	}
	repos, err := matchingRepositories(ctx, client, cfg)
	if err != nil {
		return nil, err
	}
	p := &Plan{cfg: cfg, Items: []Item{}, Repositories: []string{}}
	for _, pl := range plans(ctx, client, cfg, repos, true) {
		if pl.err != nil {
			return nil, pl.err
		}
		p.add(pl.rp)
	}
	return p, nil
}

func (p *Plan) add(rp *repoPlan) {
	p.repos = append(p.repos, rp)
	p.Repositories = append(p.Repositories, rp.name)
	p.Items = append(p.Items, rp.items...)
	p.Kept = append(p.Kept, rp.kept...)
	p.Notes = append(p.Notes, rp.notes...)
	if rp.missing {
		p.Missing = append(p.Missing, rp.name)
	}
}

// matchingRepositories lists the names of the repositories a filter names.
// Names are collected first so that deleting cannot disturb the catalog's
// paging, and so that a stopped run can say which it did not examine.
func matchingRepositories(ctx context.Context, client *acr.Client, cfg *config) ([]string, error) {
	if names, ok := cfg.literalRepositories(); ok {
		// Every filter names one repository: no catalog needed, which
		// repository-scoped tokens may not be allowed to read.
		return names, nil
	}
	var repos []string
	literal := cfg.literalNames()
	for name, err := range client.Repositories(ctx, nil) {
		if errors.Is(err, acr.ErrInsufficientScope) {
			return nil, fmt.Errorf("purge: listing repositories needs the catalog, which this credential may not read "+
				"(repository-scoped tokens cannot); name each repository literally in the filters, such as app:.*: %w", err)
		}
		if err != nil {
			return nil, fmt.Errorf("purge: listing repositories: %w", err)
		}
		if cfg.matchRepo(name) {
			repos = append(repos, name)
		}
	}
	// A repository a filter names literally and the catalog lacks is
	// examined all the same, so that the plan reports it missing.
	for _, name := range literal {
		if !slices.Contains(repos, name) {
			repos = append(repos, name)
		}
	}
	return repos, nil
}

// planRepository plans the purge of one repository.
func planRepository(ctx context.Context, client *acr.Client, cfg *config, repo string) (*repoPlan, error) {
	rp := &repoPlan{name: repo, items: []Item{}}
	props, err := client.GetRepositoryProperties(ctx, repo)
	switch {
	case errors.Is(err, acr.ErrNotSupported):
		rp.oci = true
		if err := cfg.checkOCI(client.Host()); err != nil {
			return nil, err
		}
	case errors.Is(err, acr.ErrNotFound):
		rp.notes = append(rp.notes, fmt.Sprintf("%s: no such repository", repo))
		// Missing when a filter names it; one a pattern matched in the
		// catalog went away since, which is no mistake of the filters.
		rp.missing = slices.Contains(cfg.literalNames(), repo)
		return rp, nil
	case err != nil:
		return nil, fmt.Errorf("purge: %s: %w", repo, err)
	default:
		if l := locked(props.Permissions); l != "" {
			if !cfg.IncludeLocked {
				rp.kept = append(rp.kept, Item{Repository: repo, Kind: KindRepository, Locked: true,
					Reason: "the repository is locked (" + l + "): nothing in it is deleted; --include-locked unlocks it for the purge and locks it again"})
				return rp, nil
			}
			perms := props.Permissions
			rp.unlock = &perms
			rp.notes = append(rp.notes, fmt.Sprintf("%s: the repository is locked (%s); it is unlocked for the purge and locked again", repo, l))
		}
	}
	deleted, err := rp.planTags(ctx, client, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.untagged {
		if err := rp.planUntagged(ctx, client, cfg, deleted); err != nil {
			return nil, err
		}
	}
	if cfg.DryRun && len(rp.items) > 0 && !rp.oci {
		rp.refused, rp.refusedUnlock = checkGrant(ctx, client, rp)
	}
	return rp, nil
}

// scopeMapAction names the action of an ACR scope map that grants a token
// action.
var scopeMapAction = map[string]string{"delete": "content/delete", "metadata_write": "metadata/write"}

// checkGrant asks a registry with ACR's API whether the credential may make
// rp's deletions (delete, and metadata_write where a lock is lifted first)
// and returns why not, wrapping acr.ErrInsufficientScope as the real run's
// refusals do: as all when every deletion would be refused, as unlocks
// when only lifting the locked items' locks would be (the real run deletes
// the rest); nil when it may, or when the registry does not say (Basic
// credentials, tokens that do not list what they grant, a token request
// that failed: the real run finds out). Other registries are not asked:
// the actions their deletes need vary (some ask for "*" or push), and the
// real run asks for the ones their challenge names.
func checkGrant(ctx context.Context, client *acr.Client, rp *repoPlan) (all, unlocks error) {
	lockedItems := slices.ContainsFunc(rp.items, func(it Item) bool { return it.Locked })
	need := []string{"delete"}
	if rp.unlock != nil || lockedItems {
		need = append(need, "metadata_write")
	}
	// Asked with them, metadata_read, which the listing used already: a
	// token service may leave the access claim out of a token that grants
	// nothing (the emulator does; ACR's behaviour there is not recorded),
	// which would read as "cannot tell".
	g, err := client.Granted(ctx, rp.name, append([]string{"metadata_read"}, need...)...)
	if err != nil || !g.Known {
		return nil, nil
	}
	var missing, fix []string
	for _, a := range need {
		if !g.Allows(a) {
			missing = append(missing, a)
			fix = append(fix, scopeMapAction[a])
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	has := "nothing"
	if len(g.Actions) > 0 {
		has = strings.Join(g.Actions, ", ")
	}
	refusal := fmt.Errorf("%w: its token for this credential grants %s on %s, not %s "+
		"(on ACR, a role or a scope map with %s gives it)", acr.ErrInsufficientScope, has, rp.name,
		strings.Join(missing, " or "), strings.Join(fix, " and "))
	if g.Allows("delete") && rp.unlock == nil {
		// Only lifting the items' locks is refused: the real run deletes
		// the others (see applier.markUnlockFailed).
		return nil, refusal
	}
	return refusal, nil
}

// planTags lists the repository's tags newest first and plans the deletion
// of those that match and are old enough, but for the Keep newest of them.
// It returns the names of the tags to delete.
func (rp *repoPlan) planTags(ctx context.Context, client *acr.Client, cfg *config) (map[string]bool, error) {
	deleted := map[string]bool{}
	if cfg.UntaggedOnly {
		return deleted, nil
	}
	var opts *acr.TagsOptions
	if !rp.oci {
		opts = &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}
	}
	var items []Item
	rank := 0
	young, newest := 0, 0 // matching tags kept by Ago and by Keep: counted in a note
	for t, err := range client.Tags(ctx, rp.name, opts) {
		if errors.Is(err, acr.ErrNotFound) {
			break // the repository went away: nothing to delete
		}
		if err != nil {
			return nil, fmt.Errorf("purge: listing the tags of %s: %w", rp.name, err)
		}
		filter, ok := cfg.matchTag(rp.name, t.Name)
		if !ok {
			continue
		}
		if spec.IsReferrersTag(t.Name) {
			// Registries without the referrers API list a manifest's
			// signatures and SBOMs in an index under this tag; deleting it
			// alone would hide them from their image. Deleting the image
			// updates it (acr.Client.DeleteManifest).
			rp.kept = append(rp.kept, Item{Repository: rp.name, Kind: KindTag, Tag: t.Name, Digest: t.Digest, LastUpdated: t.LastUpdatedOn,
				Reason: "matches " + filter + ", but it is a referrers tag (OCI referrers tag schema): it lists the signatures and SBOMs of another manifest for clients without the referrers API, and goes only with that manifest"})
			continue
		}
		if !cfg.old(t.LastUpdatedOn) {
			young++
			continue
		}
		it := Item{Repository: rp.name, Kind: KindTag, Tag: t.Name, Digest: t.Digest, LastUpdated: t.LastUpdatedOn}
		l := ""
		if !rp.oci {
			l = locked(t.Permissions)
		}
		if l != "" && !cfg.IncludeLocked {
			// A lock keeps the tag outside Keep's count, as acr purge
			// counts only the tags it could delete.
			it.Locked = true
			it.Reason = "locked (" + l + "), otherwise deleted: " + cfg.tagReason(filter, t.LastUpdatedOn, 0, rp.oci) + "; --include-locked deletes it"
			if cfg.Keep > 0 {
				it.Reason = "locked (" + l + "), so not counted towards keep " + fmt.Sprint(cfg.Keep) + ": " + cfg.tagReason(filter, t.LastUpdatedOn, 0, rp.oci) +
					"; with --include-locked it is counted, and deleted unless among the newest"
			}
			rp.kept = append(rp.kept, it)
			continue
		}
		// Keep counts the newest of the tags that would go, as acr purge's
		// --keep ("the latest to-be-deleted tags") does: tags younger than
		// Ago are kept by age and do not use up Keep.
		rank++
		if rank <= cfg.Keep {
			newest++
			continue
		}
		it.Reason = cfg.tagReason(filter, t.LastUpdatedOn, rank, rp.oci)
		if l != "" {
			it.Locked = true
			it.Reason += "; locked (" + l + "): unlocked first"
		}
		items = append(items, it)
		if cfg.untagged {
			deleted[t.Name] = true
		}
	}
	var why []string
	if newest > 0 {
		why = append(why, fmt.Sprintf("%d as the newest of those old enough (keep %d)", newest, cfg.Keep))
	}
	if young > 0 {
		why = append(why, fmt.Sprintf("%d updated within %s", young, FormatDuration(cfg.Ago)))
	}
	if len(why) > 0 {
		rp.notes = append(rp.notes, fmt.Sprintf("%s: kept %s that match: %s", rp.name, plural(newest+young, "tag"), strings.Join(why, ", ")))
	}
	if rp.oci {
		// Without /acr/v1 the tag list has names only: learn each digest
		// with a HEAD, so that the plan names what it deletes and Apply can
		// tell a tag that moved since.
		idx := make([]int, len(items))
		for i := range idx {
			idx[i] = i
		}
		err := forEach(ctx, cfg.Concurrency, idx, func(ctx context.Context, i int) error {
			d, err := client.ResolveDigest(ctx, rp.name, items[i].Tag)
			if errors.Is(err, acr.ErrNotFound) {
				return nil // gone; dropped below
			}
			if err != nil {
				return fmt.Errorf("purge: resolving %s:%s: %w", rp.name, items[i].Tag, err)
			}
			items[i].Digest = d
			return nil
		})
		if err != nil {
			return nil, err
		}
		items = slices.DeleteFunc(items, func(it Item) bool { return it.Digest == "" })
	}
	// Oldest first, so that a run that MaxDeletes or a timeout stops has
	// removed the oldest.
	slices.Reverse(items)
	rp.items = append(rp.items, items...)
	return deleted, nil
}

func (c *config) tagReason(filter string, updated time.Time, rank int, oci bool) string {
	if oci {
		return "matches " + filter + "; the registry reports no ages (no /acr/v1) and --ago 0 takes every age"
	}
	s := "matches " + filter + ", " + c.age(updated)
	if c.Keep > 0 && rank > 0 {
		s += fmt.Sprintf(", %s newest matching tag old enough to go (keep %d)", ordinal(rank), c.Keep)
	}
	return s
}

// age describes an update time against the cutoff.
func (c *config) age(t time.Time) string {
	if c.Ago == 0 {
		if t.IsZero() {
			return "update time unknown, any age (ago 0)"
		}
		return "last updated " + t.UTC().Format(time.RFC3339) + ", any age (ago 0)"
	}
	// No age relative to now: it would differ between a dry run and the
	// real run after it, whose lines are the same.
	return fmt.Sprintf("last updated %s, older than %s", t.UTC().Format(time.RFC3339), FormatDuration(c.Ago))
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
