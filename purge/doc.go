// Package purge deletes old tags and untagged manifests from a registry by
// pattern, age and count: the retention that Azure/acr-cli's `acr purge`
// offers, with the failure modes its issue tracker lists designed out.
//
//	opts := &purge.Options{Filters: []purge.Filter{purge.MustParseFilter(`app/.*:v.*`)}, Ago: 30 * purge.Day, Keep: 5, Untagged: true}
//	res, err := purge.Run(ctx, client, opts)                // plan and delete, one repository at a time
//
//	plan, err := purge.NewPlan(ctx, client, opts)           // or look first...
//	res, err := plan.Apply(ctx, client)                     // ...then delete exactly that
//
// # What is deleted
//
// A repository is purged when its name matches the repository part of a
// filter. In it:
//
//   - A tag is deleted when its repository and name match a filter and no
//     exclude, it was last updated before now minus Ago, and it is not among
//     the Keep newest of those tags in its repository: Keep keeps the latest
//     tags that would otherwise go, as acr purge's --keep does, so tags
//     younger than Ago stay by age and do not count towards Keep; nor do
//     excluded tags, which are never deleted, and locked ones unless
//     IncludeLocked. Ago 0 means any age; Forever means nothing is old
//     enough.
//   - With Untagged, a manifest that has no tag once those tags are deleted,
//     and that was last updated before now minus Ago, is deleted too. With
//     UntaggedOnly, no tag is deleted and only manifests that are untagged
//     already are. Excludes protect tags only: to leave a repository's
//     untagged manifests alone, let no filter name the repository. A filter
//     with an empty tag part ("app:") names a repository for the untagged
//     purge without matching any tag.
//   - The registry deletes the referrers of a deleted manifest (signatures,
//     SBOMs, attestations: manifests whose subject it is) with it, as ACR
//     does; the plan lists them as KindReferrer items under their subject.
//
// Never deleted:
//
//   - a manifest that a kept index references (the platform images of a
//     multi-arch image), however old and untagged;
//   - a referrer whose subject is kept, although referrers are untagged; a
//     referrer whose subject is not in the repository is kept too, since the
//     OCI spec lets referrers be pushed before their subject;
//   - a manifest one of whose referrers keeps a tag or a lock, since
//     deleting the subject would take that referrer with it;
//   - a tag of the referrers tag schema (sha256-HEX): registries without
//     the referrers API list the signatures and SBOMs of manifest HEX in
//     an index under it, and deleting it alone would hide them. It is
//     reported in Kept;
//   - with UnreferencedOnly, a manifest that has any referrer;
//   - anything locked (deleteEnabled or writeEnabled false on the tag, the
//     manifest, a referrer or the repository), unless IncludeLocked, which
//     unlocks each such object just before deleting it and reports it in
//     Result.Unlocked. A locked repository is unlocked for the purge and
//     locked again afterwards;
//   - a tag or manifest hidden from listings (listEnabled false): purge
//     cannot see it. Note that the children of a hidden index are
//     unprotected for the same reason.
//
// # How
//
// Repositories come from the catalog, or, when every filter's repository
// part is a literal name, from the filters alone (repository-scoped tokens
// may not read the catalog). Ages, tags and locks come from ACR's /acr/v1
// metadata, page by page: tags newest first, then manifests. Manifests are
// fetched only where the metadata cannot answer: untagged deletion
// candidates that can carry a subject (OCI manifests and indexes, and any
// type unknown to the client; Docker v2 types cannot) and indexes whose
// metadata lists no children. The referrers of each manifest to be
// deleted are listed with the OCI referrers API, to report and check what
// the registry will delete with it.
//
// Memory is per repository: listings are streamed, and what is kept is the
// plan itself plus the untagged candidates and the children of kept
// indexes. Run plans and applies one repository at a time, so that
// deleting starts after the first repository and a registry-wide purge
// holds one repository's plan at once (and the Result).
//
// Apply deletes tags first (oldest first), then untagged manifests, each
// index before the children it leaves unreferenced, with at most
// Concurrency requests in flight. Just before each delete it reads the
// object again and skips it when it changed since planning or is already
// gone: a tag that moved or was updated, a manifest tagged again, anything
// newly locked, a manifest with a referrer the plan did not see, a manifest
// that an index pushed since planning references (buildx pushes platform
// images by digest, then their index). This costs two metadata reads per
// delete, and a listing of the manifests newest first (all of them the
// first time in a repository, then those updated since the last listing),
// which the deletes waiting at the same time share. It makes stale plans
// and resumed runs safe, and cannot close the window between the read and
// the delete entirely. MaxDeletes bounds the deletes of a run (referrers deleted with
// their subject are not counted) and the context bounds its time: what was
// not done is reported in Result.Remaining and Result.NotExamined, and the
// next run picks it up. Progress events arrive in plan order.
//
// A dry run (Options.DryRun) goes through the same selection as a real
// run, including MaxDeletes, and reports as deleted exactly the items a
// real run would delete on an unchanged registry, in the same order. On a
// registry with ACR's API it asks, for each repository with planned
// deletions, what the credential's token grants there
// ([acr.Client.Granted]): deletions the token does not allow (delete, and
// metadata_write where a lock is lifted first) go to Result.Failed with an
// error matching acr.ErrInsufficientScope, as the real run's refusals do.
// A registry that does not say (an open one, Basic credentials, tokens
// that do not list what they grant) and registries without ACR's API,
// whose deletes need actions that vary, are left to the real run.
//
// # Undo
//
// On a registry with soft delete (ACR's soft-delete policy; the local
// registry's Options.SoftDeleteRetention), deleted tags and manifests can
// be restored until the retention runs out. After a real run, Result.Recovery
// says whether the registry lists the run's deletions as restorable, and
// until when if it says (ACR does not), and Undo restores exactly what the
// run deleted, from the Result or its JSON:
//
//	res, err := purge.Run(ctx, client, opts)                // res.Recovery.Detail: "all 16 deletions can be restored until …"
//	undo, err := purge.Undo(ctx, client, res, nil)          // manifests as they were, then each tag onto its digest
//
// # Registries without /acr/v1
//
// Other registries report neither ages nor locks, and list no manifests.
// There, purge lists tags by name with the OCI tag list, verifies each with
// a manifest HEAD before deleting it with the OCI 1.1 DELETE by tag, and
// refuses, with an error matching ErrAgesUnknown, options that need ages or
// manifest listings: Ago other than 0, Keep, Untagged and UntaggedOnly.
package purge
