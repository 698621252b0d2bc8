package purge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
)

// Recovery says whether the deletions of a run can be restored, as the
// registry itself answers: after a real run that deleted something, Run
// and Apply list the soft-deleted tags and manifests of each repository
// they deleted from (GET /acr/v1/_deleted/{repo}/_tags and _manifests)
// and look for their own deletions there. A deletion counts as
// restorable only when the registry lists it. Whether a registry has soft
// delete on is not asked: ACR keeps that in the registry's policy in Azure
// Resource Manager, which a data-plane credential cannot read, and a
// listing that answers proves nothing by itself. A registry that lists
// none of the deletions, or has no such listing (404), deleted them for
// good; one that refuses the listing (a credential without the
// deleted_read action) leaves the question open, and Err says why.
type Recovery struct {
	// Restorable counts the run's deletions that the registry lists as
	// soft-deleted: Undo can restore them until they expire.
	Restorable int `json:"restorable"`
	// Deleted counts the run's deletions, referrers included.
	Deleted int `json:"deleted"`
	// Until is the earliest expiry the registry reports for the
	// restorable deletions. It is zero when the registry does not say:
	// ACR never does (its retention days are in the registry's policy;
	// `az acr config soft-delete show` reads them), while the local
	// registry sends each deletion's expiresAfter.
	Until time.Time `json:"until,omitzero"`
	// Detail says the above in one line, for people.
	Detail string `json:"detail"`
	// Err is why the registry could not be asked, or nil.
	Err error `json:"-"`
	// Error is Err's message, for JSON.
	Error string `json:"error,omitempty"`
}

// softDeleteOff reports whether err says that the registry keeps no
// deleted content: no such endpoint (404, 405, or a registry without
// /acr/v1), or the OCI code UNSUPPORTED, which the local registry answers
// when its soft delete is off.
func softDeleteOff(err error) bool {
	var re *acr.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusMethodNotAllowed || re.HasCode("UNSUPPORTED")) {
		return true
	}
	return errors.Is(err, acr.ErrNotFound) || errors.Is(err, acr.ErrNotSupported)
}

// checkRecovery sets r.Recovery for a real run that deleted something.
func checkRecovery(ctx context.Context, client *acr.Client, r *Result) {
	if r.DryRun || len(r.Deleted) == 0 {
		return
	}
	rc := &Recovery{Deleted: len(r.Deleted)}
	r.Recovery = rc
	if ctx.Err() != nil {
		rc.Detail = "not checked whether the deletions can be restored: the run was stopped"
		return
	}
	type tagKey struct {
		tag string
		d   digest.Digest
	}
	// What the run deleted, by repository.
	tags := map[string]map[tagKey]bool{}
	manifests := map[string]map[digest.Digest]bool{}
	var repos []string
	for _, it := range r.Deleted {
		if tags[it.Repository] == nil && manifests[it.Repository] == nil {
			repos = append(repos, it.Repository)
			tags[it.Repository] = map[tagKey]bool{}
			manifests[it.Repository] = map[digest.Digest]bool{}
		}
		if it.Kind == KindTag {
			tags[it.Repository][tagKey{it.Tag, it.Digest}] = true
		} else {
			manifests[it.Repository][it.Digest] = true
		}
	}
	absent := false // the registry has no listing of deleted items
	found := func(expires time.Time) {
		rc.Restorable++
		if !expires.IsZero() && (rc.Until.IsZero() || expires.Before(rc.Until)) {
			rc.Until = expires
		}
	}
	failed := func(what string, err error) {
		if softDeleteOff(err) {
			absent = true
			return
		}
		rc.Err = fmt.Errorf("listing the deleted %s: %w", what, err)
	}
	for _, repo := range repos {
		if rc.Err != nil || absent {
			break
		}
		if want := tags[repo]; len(want) > 0 {
			// The most recent deletion of each tag is the one that counts:
			// the listing has the oldest first.
			last := map[tagKey]time.Time{}
			for dt, err := range client.DeletedTags(ctx, repo, nil) {
				if err != nil {
					failed("tags of "+repo, err)
					break
				}
				if k := (tagKey{dt.Name, dt.Digest}); want[k] {
					last[k] = dt.ExpiresOn
				}
			}
			for _, exp := range last {
				found(exp)
			}
		}
		if want := manifests[repo]; len(want) > 0 && rc.Err == nil && !absent {
			last := map[digest.Digest]time.Time{}
			for dm, err := range client.DeletedManifests(ctx, repo, nil) {
				if err != nil {
					failed("manifests of "+repo, err)
					break
				}
				if want[dm.Digest] {
					last[dm.Digest] = dm.ExpiresOn
				}
			}
			for _, exp := range last {
				found(exp)
			}
		}
	}
	switch {
	case rc.Err != nil:
		rc.Restorable, rc.Until = 0, time.Time{}
		rc.Error = rc.Err.Error()
		rc.Detail = "could not tell whether the deletions can be restored: " + rc.Error
	case absent:
		rc.Restorable, rc.Until = 0, time.Time{}
		rc.Detail = "the deletions are final: the registry keeps no deleted content (it has no soft delete, or it is off)"
	case rc.Restorable == 0:
		rc.Detail = "the deletions are final: the registry lists none of them among its deleted content (soft delete is off)"
	default:
		which := fmt.Sprintf("all %d deletions", rc.Deleted)
		switch {
		case rc.Deleted == 1:
			which = "the deletion"
		case rc.Restorable < rc.Deleted:
			which = fmt.Sprintf("%d of the %d deletions (the registry does not list the others)", rc.Restorable, rc.Deleted)
		}
		if rc.Until.IsZero() {
			rc.Detail = which + " can be restored for the registry's soft-delete retention period (the registry does not say until when)"
		} else {
			rc.Detail = which + " can be restored until " + rc.Until.UTC().Format(time.RFC3339)
		}
	}
}
