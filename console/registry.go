package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// This file is the console's only contact with the client library: every
// page asks a registry through these functions, so a change in the
// library's listing signatures is adapted here alone.

// repoRow is one line of the repositories page.
type repoRow struct {
	Name string
	// ACR is false when the registry has no /acr/v1 metadata API; the
	// counts, size and date are then unknown.
	ACR           bool
	ManifestCount int
	TagCount      int
	Size          int64
	// SizeCapped says Size stops at maxSizeManifests manifests.
	SizeCapped    bool
	LastUpdatedOn time.Time
	Err           string
}

// maxSizeManifests bounds the manifests summed for a repository's size on
// the repositories page, so one huge repository does not hold up a screen.
const maxSizeManifests = 2000

// listRepositories returns up to n repository names after the name after
// whose names contain q (case-insensitively), and whether more follow. It
// stops listing as soon as it has them.
func listRepositories(ctx context.Context, c *acr.Client, q, after string, n int) ([]string, bool, error) {
	q = strings.ToLower(q)
	var names []string
	// The listing is in name order, so it resumes after the page's last
	// name; without a filter a page of n+1 tells whether more follow.
	opts := &acr.ListOptions{Last: after}
	if q == "" {
		opts.PageSize = n + 1
	}
	for name, err := range c.Repositories(ctx, opts) {
		if err != nil {
			return names, false, err
		}
		if after != "" && name <= after {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(name), q) {
			continue
		}
		if len(names) == n {
			return names, true, nil
		}
		names = append(names, name)
	}
	return names, false, nil
}

// describeRepositories fills the rows of names, a few repositories at once.
func describeRepositories(ctx context.Context, c *acr.Client, names []string) []repoRow {
	rows := make([]repoRow, len(names))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, name := range names {
		rows[i].Name = name
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rows[i] = describeRepository(ctx, c, name)
		}()
	}
	wg.Wait()
	return rows
}

func describeRepository(ctx context.Context, c *acr.Client, name string) repoRow {
	row := repoRow{Name: name}
	p, err := c.GetRepositoryProperties(ctx, name)
	if errors.Is(err, acr.ErrNotSupported) {
		return row
	}
	if err != nil {
		row.Err = errorText(err)
		return row
	}
	row.ACR, row.ManifestCount, row.TagCount, row.LastUpdatedOn = true, p.ManifestCount, p.TagCount, p.LastUpdatedOn
	i := 0
	for m, err := range c.Manifests(ctx, name, nil) {
		if err != nil {
			row.Err = errorText(err)
			break
		}
		if i++; i > maxSizeManifests {
			row.SizeCapped = true
			break
		}
		row.Size += m.Size
	}
	return row
}

// tagRow is one line of a repository's tags.
type tagRow struct {
	Name          string
	Digest        digest.Digest
	LastUpdatedOn time.Time
	Locked        bool
	Permissions   acr.Permissions
}

// listTags returns up to n tags, newest first where the registry can order
// them (by name otherwise), and whether more follow: those after the tag
// named after, or, without it, from offset skip on. ordered is false on
// registries without /acr/v1, which list names only.
func listTags(ctx context.Context, c *acr.Client, repo, after string, skip, n int, ordered bool) ([]tagRow, bool, error) {
	// Pages of skip+n+1 (within ACR's 1,000) fetch the screen and tell
	// whether more follow, without listing the rest. A page that resumes
	// after a tag (the Next link's) lists one screen wherever it is.
	if after != "" {
		skip = 0
	}
	opts := &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc, PageSize: min(skip+n+1, 1000), Last: after}
	if !ordered {
		opts.Order = acr.OrderNone
	}
	tags, more, err := window(c.Tags(ctx, repo, opts), skip, n)
	rows := make([]tagRow, len(tags))
	for i, t := range tags {
		rows[i] = tagRow{Name: t.Name, Digest: t.Digest, LastUpdatedOn: t.LastUpdatedOn,
			Permissions: t.Permissions, Locked: locked(t.Permissions)}
	}
	return rows, more, err
}

// manifestRow is one line of a repository's manifests.
type manifestRow struct {
	acr.ManifestProperties
	Locked bool
}

// listManifests is listTags for manifests (ACR only); after is a digest.
func listManifests(ctx context.Context, c *acr.Client, repo string, after digest.Digest, skip, n int) ([]manifestRow, bool, error) {
	if after != "" {
		skip = 0
	}
	opts := &acr.ManifestsOptions{Order: acr.OrderLastUpdatedDesc, PageSize: min(skip+n+1, 1000), Last: after}
	ms, more, err := window(c.Manifests(ctx, repo, opts), skip, n)
	rows := make([]manifestRow, len(ms))
	for i, m := range ms {
		rows[i] = manifestRow{m, locked(m.Permissions)}
	}
	return rows, more, err
}

// window returns the items of seq from offset skip on, up to n, and whether
// more follow; it stops the listing as soon as it knows.
func window[T any](seq iter.Seq2[T, error], skip, n int) ([]T, bool, error) {
	var items []T
	i := 0
	for v, err := range seq {
		if err != nil {
			return items, false, err
		}
		if i++; i <= skip {
			continue
		}
		if len(items) == n {
			return items, true, nil
		}
		items = append(items, v)
	}
	return items, false, nil
}

// locked reports whether flags are what acrctl's --lock sets: neither
// write nor delete enabled.
func locked(p acr.Permissions) bool { return !p.CanWrite && !p.CanDelete }

// hasACR reports whether the registry serves ACR's /acr/v1 API to this
// credential, asking about repo, and, when it does not, whether that is
// because the credential may not read ACR's metadata (an ACR token whose
// scope map grants content/read only, as _repositories_pull does), which
// still lists the tags by name.
func hasACR(ctx context.Context, c *acr.Client, repo string) (props *acr.RepositoryProperties, metadataDenied bool, err error) {
	p, err := c.GetRepositoryProperties(ctx, repo)
	switch {
	case errors.Is(err, acr.ErrNotSupported):
		return nil, false, nil
	case errors.Is(err, acr.ErrInsufficientScope):
		// Not a 403 of any kind (a firewall's, a disabled registry's):
		// the token was refused the metadata_read it asked for.
		return nil, true, nil
	case err != nil:
		return nil, false, err
	}
	return &p, false, nil
}

// listDeleted returns a repository's soft-deleted manifests from offset
// skip on, up to n, or the reason the registry has none to offer.
func listDeleted(ctx context.Context, c *acr.Client, repo string, skip, n int) (rows []acr.DeletedManifest, more bool, unsupported string, err error) {
	i := 0
	for m, err := range c.DeletedManifests(ctx, repo, nil) {
		if err != nil {
			if errors.Is(err, acr.ErrUnauthorized) || errors.Is(err, acr.ErrForbidden) {
				return rows, false, "", err
			}
			if len(rows) == 0 {
				return nil, false, errorText(err), nil
			}
			return rows, false, "", err
		}
		if i++; i <= skip {
			continue
		}
		if len(rows) == n {
			return rows, true, "", nil
		}
		rows = append(rows, m)
	}
	return rows, false, "", nil
}

// manifestView is what the manifest page shows.
type manifestView struct {
	acr.Manifest
	// Props are ACR's properties, when the registry has /acr/v1.
	Props  *acr.ManifestProperties
	Locked bool
	Image  *ocispec.Manifest
	Index  *ocispec.Index
	// Artifact is an OCI artifact manifest (OCI 1.1's release
	// candidates, which ACR and oras still serve): blobs, not layers.
	Artifact *artifactManifest
	// Pretty is the manifest indented; Raw is false when it is not JSON.
	Pretty string
}

func getManifest(ctx context.Context, c *acr.Client, repo, ref string) (manifestView, error) {
	m, err := c.GetManifest(ctx, repo, ref, nil)
	if err != nil {
		return manifestView{}, err
	}
	v := manifestView{Manifest: m}
	if m.IsIndex() {
		if ix, err := m.Index(); err == nil {
			v.Index = &ix
		}
	} else if m.MediaType == acr.MediaTypeArtifactManifest {
		var am artifactManifest
		if json.Unmarshal(m.Bytes, &am) == nil {
			v.Artifact = &am
		}
	} else if im, err := m.Image(); err == nil {
		v.Image = &im
	}
	// json.Indent keeps the manifest's own string escapes, so the page
	// shows its text as stored (html/template escapes it for the page).
	var buf bytes.Buffer
	if json.Indent(&buf, m.Bytes, "", "  ") != nil {
		buf.Reset()
		buf.Write(m.Bytes)
	}
	v.Pretty = buf.String()
	if p, err := c.GetManifestProperties(ctx, repo, m.Digest.String()); err == nil {
		v.Props, v.Locked = &p, locked(p.Permissions)
	}
	return v, nil
}

// containerImage reports whether docker can pull the manifest: an image
// whose config is a container image's (not an artifact's, such as a
// signature's or an SBOM's), or an index that is not an artifact.
func (v manifestView) containerImage() bool {
	switch {
	case v.Image != nil:
		mt := v.Image.Config.MediaType
		return mt == ocispec.MediaTypeImageConfig || mt == "application/vnd.docker.container.image.v1+json"
	case v.Index != nil:
		return v.Index.ArtifactType == ""
	}
	return false
}

// manifestBlobs lists the blobs an image or OCI artifact manifest
// references: an image's config and layers, an artifact's blobs.
func manifestBlobs(m acr.Manifest) []ocispec.Descriptor {
	if m.MediaType == acr.MediaTypeArtifactManifest {
		var am artifactManifest
		if json.Unmarshal(m.Bytes, &am) != nil {
			return nil
		}
		return am.Blobs
	}
	im, err := m.Image()
	if err != nil {
		return nil
	}
	return append([]ocispec.Descriptor{im.Config}, im.Layers...)
}

// artifactManifest is an OCI artifact manifest: its type, blobs, subject
// and annotations, as the 1.1 release candidates define them.
type artifactManifest struct {
	ArtifactType string               `json:"artifactType"`
	Blobs        []ocispec.Descriptor `json:"blobs"`
	Subject      *ocispec.Descriptor  `json:"subject"`
	Annotations  map[string]string    `json:"annotations"`
}

// referrer is a node of a manifest's referrers tree.
type referrer struct {
	ocispec.Descriptor
	Children []*referrer
	Err      string
}

// Bounds of the referrers tree: nested signatures of signatures are
// rare, and a hostile registry must not make a page endless.
const (
	maxReferrerDepth = 4
	maxReferrerNodes = 200
)

// referrersTree lists the referrers of d, and theirs, breadth first.
func referrersTree(ctx context.Context, c *acr.Client, repo string, d digest.Digest) ([]*referrer, string) {
	count := 0
	var walk func(d digest.Digest, depth int, seen map[digest.Digest]bool) ([]*referrer, string)
	walk = func(d digest.Digest, depth int, seen map[digest.Digest]bool) ([]*referrer, string) {
		var out []*referrer
		for desc, err := range c.Referrers(ctx, repo, d, "") {
			if err != nil {
				return out, errorText(err)
			}
			if count++; count > maxReferrerNodes {
				return out, "more referrers than the console draws (" + itoa(maxReferrerNodes) + ")"
			}
			out = append(out, &referrer{Descriptor: desc})
		}
		slices.SortStableFunc(out, func(a, b *referrer) int { return strings.Compare(a.ArtifactType, b.ArtifactType) })
		if depth < maxReferrerDepth {
			for _, r := range out {
				if seen[r.Digest] {
					continue
				}
				seen[r.Digest] = true
				r.Children, r.Err = walk(r.Digest, depth+1, seen)
			}
		}
		return out, ""
	}
	return walk(d, 1, map[digest.Digest]bool{d: true})
}

// deleteTarget is what a delete removes, for its confirmation.
type deleteTarget struct {
	Repo   string
	Tag    string
	Digest digest.Digest
	// Tags are the tags a manifest's delete takes with it; TagsKnown is
	// false where the registry cannot list them (no /acr/v1).
	Tags      []string
	TagsKnown bool
	// Referrers are the manifests whose subject the manifest is, and
	// theirs. On ACR (Cascade) a delete takes them and their tags along;
	// other registries usually keep them.
	Referrers []goneReferrer
	Cascade   bool
	// More says there are more referrers than the console lists.
	More bool
	// Locked says which lock flag makes the registry refuse the delete;
	// Unlockable is true when it is the tag's or manifest's own (or, for
	// a manifest, one of its tags': UnlockTag), which the page can
	// unlock, false when it is the repository's.
	Locked     string
	Unlockable bool
	UnlockTag  string
	// UnlockDigest is the locked referrer to unlock, when a referrer's
	// lock refuses the delete (the delete takes its referrers along).
	UnlockDigest digest.Digest
}

// lockedBy says which of what's lock flags refuse deleting it, or "".
func lockedBy(what string, p acr.Permissions) string {
	switch {
	case !p.CanDelete && !p.CanWrite:
		return what + " is locked (deleteEnabled and writeEnabled are false)"
	case !p.CanDelete:
		return what + " has deleteEnabled false"
	case !p.CanWrite:
		return what + " has writeEnabled false"
	}
	return ""
}

// checkLocks fills t.Locked from the repository's flags when the item's
// own (perms, nil where unknown) do not refuse the delete. Registries
// without /acr/v1 have no flags to read.
func checkLocks(ctx context.Context, c *acr.Client, t *deleteTarget, what string, perms *acr.Permissions) {
	if perms != nil {
		if t.Locked = lockedBy(what, *perms); t.Locked != "" {
			t.Unlockable = true
			return
		}
	}
	if rp, err := c.GetRepositoryProperties(ctx, t.Repo); err == nil {
		t.Locked = lockedBy("The repository "+t.Repo, rp.Permissions)
	}
}

// goneReferrer is a referrer a manifest's delete takes along.
type goneReferrer struct {
	ocispec.Descriptor
	Tags []string
}

func describeDelete(ctx context.Context, c *acr.Client, repo, tag string, d digest.Digest) (deleteTarget, error) {
	t := deleteTarget{Repo: repo, Tag: tag, Digest: d}
	if tag != "" {
		dg, err := c.ResolveDigest(ctx, repo, tag)
		if err != nil {
			return t, err
		}
		t.Digest = dg
		var perms *acr.Permissions
		if tp, err := c.GetTagProperties(ctx, repo, tag); err == nil {
			perms = &tp.Permissions
		}
		checkLocks(ctx, c, &t, "The tag "+tag, perms)
		return t, nil
	}
	p, err := c.GetManifestProperties(ctx, repo, d.String())
	switch {
	case err == nil:
		t.Tags, t.TagsKnown, t.Cascade = p.Tags, true, true
		checkLocks(ctx, c, &t, "The manifest", &p.Permissions)
		if t.Locked == "" && len(p.Tags) > 0 {
			// A locked tag refuses the delete of its manifest too.
			for tg, err := range c.Tags(ctx, repo, &acr.TagsOptions{Digest: d}) {
				if err != nil {
					break
				}
				if t.Locked = lockedBy("Its tag "+tg.Name, tg.Permissions); t.Locked != "" {
					t.Unlockable, t.UnlockTag = true, tg.Name
					break
				}
			}
		}
	case errors.Is(err, acr.ErrNotSupported):
	default:
		return t, err
	}
	tree, incomplete := referrersTree(ctx, c, repo, d)
	t.More = incomplete != ""
	var flatten func([]*referrer)
	flatten = func(nodes []*referrer) {
		for _, n := range nodes {
			g := goneReferrer{Descriptor: n.Descriptor}
			if t.Cascade {
				if p, err := c.GetManifestProperties(ctx, repo, n.Digest.String()); err == nil {
					g.Tags = p.Tags
					if t.Locked == "" {
						// The registry refuses the cascade over a locked
						// referrer: say so before, not after, the click.
						if t.Locked = lockedBy("Its referrer "+shortDigest(n.Digest), p.Permissions); t.Locked != "" {
							t.Unlockable, t.UnlockDigest = true, n.Digest
						}
					}
				}
			}
			t.Referrers = append(t.Referrers, g)
			t.More = t.More || n.Err != ""
			flatten(n.Children)
		}
	}
	flatten(tree)
	return t, nil
}

func deleteTag(ctx context.Context, c *acr.Client, repo, tag string) error {
	return c.DeleteTag(ctx, repo, tag)
}

// deleteManifest deletes manifest d. When the manifest is gone but its
// entry stayed in a referrers tag index, that is a note for the flash, not
// an error.
func deleteManifest(ctx context.Context, c *acr.Client, repo string, d digest.Digest) (note string, err error) {
	_, err = c.DeleteManifest(ctx, repo, d.String())
	var rte *acr.ReferrersTagError
	if errors.As(err, &rte) && rte.Deleted {
		return " Its entry stays in the referrers tag index " + rte.Tag + " (" + errorText(rte.Err) +
			"); acrctl manifest referrers --prune removes it.", nil
	}
	return "", err
}

// setLock locks or unlocks a tag, or a manifest when tag is "".
func setLock(ctx context.Context, c *acr.Client, repo, tag string, d digest.Digest, lock bool) error {
	u := acr.Unlocked()
	if lock {
		u = acr.Locked()
	}
	if tag != "" {
		_, err := c.UpdateTagProperties(ctx, repo, tag, u)
		return err
	}
	_, err := c.UpdateManifestProperties(ctx, repo, d.String(), u)
	return err
}

// restoreManifest restores a deleted manifest with the tags it had, or,
// with tag, that deleted tag onto d (whether or not d was deleted).
func restoreManifest(ctx context.Context, c *acr.Client, repo string, d digest.Digest, tag string) (acr.ManifestProperties, error) {
	return c.RestoreManifest(ctx, repo, d, &acr.RestoreOptions{Tag: tag})
}

// deletedWith counts the other manifests of repo deleted at the moment d
// was last deleted (within a second): those a delete took along with d,
// its referrers on ACR. A restore brings back d alone, so the console
// says that they stay deleted. It reads at most maxDeletedTags deletions.
func deletedWith(ctx context.Context, c *acr.Client, repo string, d digest.Digest) int {
	var all []acr.DeletedManifest
	var when time.Time
	for m, err := range c.DeletedManifests(ctx, repo, nil) {
		if err != nil || len(all) == maxDeletedTags {
			break
		}
		all = append(all, m)
		if m.Digest == d && m.DeletedOn.After(when) {
			when = m.DeletedOn
		}
	}
	if when.IsZero() {
		return 0
	}
	n := 0
	for _, m := range all {
		if m.Digest != d && m.DeletedOn.Sub(when).Abs() <= time.Second {
			n++
		}
	}
	return n
}

// listDeletedTags returns up to n soft deletions of a repository's tags,
// the most recent first.
func listDeletedTags(ctx context.Context, c *acr.Client, repo string, n int) ([]acr.DeletedTag, bool, error) {
	var rows []acr.DeletedTag
	more := false
	for t, err := range c.DeletedTags(ctx, repo, nil) {
		if err != nil {
			return rows, false, err
		}
		if len(rows) == maxDeletedTags {
			more = true
			break
		}
		rows = append(rows, t)
	}
	slices.SortStableFunc(rows, func(a, b acr.DeletedTag) int { return b.DeletedOn.Compare(a.DeletedOn) })
	if len(rows) > n {
		rows, more = rows[:n], true
	}
	return rows, more, nil
}

// maxDeletedTags bounds the deleted tags read to sort them by date.
const maxDeletedTags = 10_000

// storageUse is what the storage page charts.
type storageUse struct {
	Repos []repoUse
	// Unique is the registry's bytes counting each blob once; Logical sums
	// every repository's own.
	Unique, Logical int64
	// Shared is Logical - Unique: what sharing layers saves.
	Shared int64
	Blobs  int
	// Capped says the walk stopped at maxStorageManifests or
	// maxStorageRepos.
	Capped bool
	Errs   []string
	// listErr is the catalog's error: with no repository read, the page
	// has no figures to show.
	listErr error
}

// repoUse is one repository's storage: its distinct blobs' bytes.
type repoUse struct {
	Name      string
	Size      int64
	Manifests int
}

// Bounds of the storage page's walk: it reads every manifest, so a large
// registry is measured in part (and says so).
const (
	maxStorageManifests = 5000
	maxStorageRepos     = 1000
)

// measureStorage reads every manifest (up to maxStorageManifests) of every
// repository and adds up the blobs they reference: each blob once per
// repository, and once for the registry.
func measureStorage(ctx context.Context, c *acr.Client) storageUse {
	var u storageUse
	global := map[digest.Digest]int64{}
	read := 0
	for repo, err := range c.Repositories(ctx, nil) {
		if err != nil {
			u.Errs = append(u.Errs, errorText(err))
			u.listErr = err
			break
		}
		if len(u.Repos) == maxStorageRepos {
			u.Capped = true
			break
		}
		ru := repoUse{Name: repo}
		local := map[digest.Digest]int64{}
		var refs []string
		manifests := c.Manifests(ctx, repo, nil)
		acrAPI := true
		for m, err := range manifests {
			if errors.Is(err, acr.ErrNotSupported) {
				acrAPI = false
				break
			}
			if err != nil {
				u.Errs = append(u.Errs, repo+": "+errorText(err))
				break
			}
			refs = append(refs, m.Digest.String())
		}
		if !acrAPI {
			for t, err := range c.Tags(ctx, repo, nil) {
				if err != nil {
					u.Errs = append(u.Errs, repo+": "+errorText(err))
					break
				}
				refs = append(refs, t.Name)
			}
		}
		seen := map[digest.Digest]bool{}
		for len(refs) > 0 && !u.Capped {
			// A wave of manifests read in parallel (a registry far away
			// takes 50-100 ms a request; one at a time, a thousand took
			// a minute), processed in order.
			wave := refs[:min(len(refs), storageWave)]
			refs = refs[len(wave):]
			if left := maxStorageManifests - read; len(wave) > left {
				wave, u.Capped = wave[:left], true
			}
			read += len(wave)
			for _, m := range readManifests(ctx, c, repo, wave) {
				if m.err != nil {
					u.Errs = append(u.Errs, repo+": "+errorText(m.err))
					continue
				}
				if more := storageVisit(m.Manifest, acrAPI, seen, local, &ru); len(more) > 0 {
					refs = append(refs, more...)
				}
			}
		}
		for d, n := range local {
			ru.Size += n
			global[d] = n
		}
		u.Logical += ru.Size
		u.Repos = append(u.Repos, ru)
		if u.Capped {
			break
		}
	}
	for _, n := range global {
		u.Unique += n
	}
	u.Blobs = len(global)
	u.Shared = u.Logical - u.Unique
	slices.SortFunc(u.Repos, func(a, b repoUse) int {
		if a.Size != b.Size {
			if a.Size > b.Size {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return u
}

// storageWave is how many manifests the storage page reads at once, and
// storageConcurrency how many requests of a wave are in flight.
const (
	storageWave        = 64
	storageConcurrency = 8
)

// readResult is a manifest read, or why not.
type readResult struct {
	acr.Manifest
	err error
}

// readManifests reads refs of repo, storageConcurrency at a time, and
// returns them in refs' order.
func readManifests(ctx context.Context, c *acr.Client, repo string, refs []string) []readResult {
	out := make([]readResult, len(refs))
	sem := make(chan struct{}, storageConcurrency)
	var wg sync.WaitGroup
	for i, ref := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i].Manifest, out[i].err = c.GetManifest(ctx, repo, ref, nil)
		})
	}
	wg.Wait()
	return out
}

// storageVisit counts manifest m into a repository's use (ru, and its
// blobs into local) once, and returns the children to read next: an
// index's, on registries without /acr/v1, whose manifest listing is by tag.
func storageVisit(m acr.Manifest, acrAPI bool, seen map[digest.Digest]bool, local map[digest.Digest]int64, ru *repoUse) []string {
	if seen[m.Digest] {
		return nil
	}
	seen[m.Digest] = true
	ru.Manifests++
	local[m.Digest] = int64(len(m.Bytes))
	if m.IsIndex() {
		var children []string
		if ix, err := m.Index(); err == nil && !acrAPI {
			for _, ch := range ix.Manifests {
				children = append(children, ch.Digest.String())
			}
		}
		return children
	}
	for _, b := range manifestBlobs(m) {
		local[b.Digest] = b.Size
	}
	return nil
}

// signIn checks a client's credentials with a request that needs them.
func signIn(ctx context.Context, c *acr.Client) error {
	return c.Ping(ctx)
}

// pullHost is the registry's host as pull commands name it.
func pullHost(c *acr.Client) string { return c.Host() }

// errorText is an error for a page: one line, the library's prefix dropped.
func errorText(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	return strings.ReplaceAll(s, "acr: ", "")
}

// errorStatus is the HTTP status, a short sentence that says what went
// wrong, and the advice for a registry's error. The library's own text
// goes below the sentence, as detail.
func errorStatus(err error) (status int, summary, fix string) {
	var netErr net.Error
	switch {
	case isAuthError(err):
		return 401, "The registry refused the credential.",
			"Sign in again, or run acrctl login and restart the console."
	case errors.Is(err, acr.ErrInsufficientScope), errors.Is(err, acr.ErrForbidden):
		return 403, "The credential lacks the permission for this.",
			"Use an identity that has this right on the registry."
	case errors.Is(err, acr.ErrLocked):
		return 409, "A lock forbids it.", "Unlock the tag, manifest or repository first."
	case errors.Is(err, acr.ErrTagInUse):
		return 409, "The tag now points at another manifest.", "Delete or move the tag first."
	case errors.Is(err, acr.ErrNotFound):
		return 404, "The registry has no such item.", "It may have been deleted meanwhile; go back and reload."
	case errors.Is(err, acr.ErrInvalidReference):
		// The name comes from the page's address: typed or edited there,
		// or a link to a name the registry listed that no client can
		// open. The detail below says which part is wrong.
		return 400, "The address names a repository, tag or digest that is not valid.",
			"Check the name in the address, or open the item from the repositories page."
	case errors.Is(err, acr.ErrNotSupported):
		return 501, "This registry does not offer it.", "Other registries, such as ACR, do."
	case errors.Is(err, context.DeadlineExceeded):
		return 504, "The registry did not answer in time.", "Check that the registry is reachable and try again."
	case errors.As(err, &netErr), errors.Is(err, syscall.ECONNREFUSED):
		return 502, "The console cannot reach the registry.", "Check that the registry is running and reachable from this machine, then reload."
	}
	return 502, "The registry answered with an error.", "Check that the registry is reachable and try again."
}

// isAuthError reports an error that another sign-in could fix.
func isAuthError(err error) bool {
	return errors.Is(err, acr.ErrUnauthorized) && !errors.Is(err, acr.ErrInsufficientScope)
}
