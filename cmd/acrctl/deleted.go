package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

// Soft delete: list what a registry with a soft-delete policy keeps after
// deletions, and restore it, as az acr repository list-deleted, az acr
// manifest list-deleted, list-deleted-tags and restore do.

// softDeleteFix is the advice for a registry that lists nothing deleted
// because soft delete is off.
const softDeleteFix = "soft delete must be on: az acr config soft-delete update -r NAME --status enabled --days N, or acrctl serve --soft-delete DAYS for the local registry"

// explainDeleted is s.explain for the soft-delete listings: a 404, or a
// 400 UNSUPPORTED as the local registry answers, says that the registry
// keeps nothing deleted, not that a name is wrong.
func explainDeleted(s *session, err error, what string) error {
	var re *acr.ResponseError
	if !errors.As(err, &re) || !(re.StatusCode == http.StatusNotFound || re.StatusCode == http.StatusBadRequest && re.HasCode("UNSUPPORTED")) {
		return s.explain(err)
	}
	return fmt.Errorf("%s refused to list %s: %s; fix: %s", s.host, what, registrySaid(err, true), softDeleteFix)
}

// deletedManifestJSON is a deleted manifest in --output json, with the
// field names of az acr manifest list-deleted (the registry's, and az's
// expiresAfter).
type deletedManifestJSON struct {
	Digest         string    `json:"digest"`
	ImageSize      int64     `json:"imageSize"`
	MediaType      string    `json:"mediaType,omitempty"`
	Tags           []string  `json:"tags"`
	CreatedTime    time.Time `json:"createdTime,omitzero"`
	LastUpdateTime time.Time `json:"lastUpdateTime,omitzero"`
	DeletedAt      time.Time `json:"deletedAt"`
	ExpiresAfter   time.Time `json:"expiresAfter,omitzero"`
}

// deletedTagJSON is a deleted tag in --output json, with the field names
// of az acr manifest list-deleted-tags.
type deletedTagJSON struct {
	Tag          string    `json:"tag"`
	Digest       string    `json:"digest"`
	DeletedAt    time.Time `json:"deletedAt"`
	ExpiresAfter time.Time `json:"expiresAfter,omitzero"`
}

func newRepoListDeletedCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "list-deleted HOST",
		Short: "List the repositories that hold soft-deleted manifests or tags (ACR soft delete)",
		Long: `List, in name order, the repositories in which a registry with soft delete on keeps
deleted manifests or tags that can still be restored ('acrctl manifest list-deleted' and
'acrctl tag list-deleted' show them). The credential needs the deleted/read permission
(token scope registry:deleted_catalog:*).`,
		Example: `  acrctl repo list-deleted myregistry.azurecr.io
  acrctl repo list-deleted localhost:5000 --output json | jq -r '.repositories[]'`,
		Args:              exactArgs(1, "the registry HOST[:PORT]"),
		ValidArgsFunction: completeHosts(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := parseHost(args[0])
			if err != nil {
				return err
			}
			s, err := o.connect(cmd, host)
			if err != nil {
				return err
			}
			// Written as the names arrive, never held whole.
			list := s.client.DeletedRepositories(cmd.Context(), &acr.ListOptions{ReadAhead: true})
			w := cmd.OutOrStdout()
			if out.json() {
				l := newJSONList(w, "repositories", "registry", host)
				for name, err := range list {
					if err != nil {
						return explainDeleted(s, err, "its deleted repositories")
					}
					l.add(name)
				}
				return l.end()
			}
			bw := bufio.NewWriter(w)
			n := 0
			for name, err := range list {
				if err != nil {
					bw.Flush()
					return explainDeleted(s, err, "its deleted repositories")
				}
				bw.WriteString(printable(name))
				bw.WriteByte('\n')
				n++
			}
			if n == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s keeps no deleted manifests or tags\n", host)
			}
			return bw.Flush()
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

// hasExpiry reports whether any of ts is known, so that tables show the
// EXPIRES column only when the registry says (ACR never does).
func hasExpiry(ts ...time.Time) bool {
	return slices.ContainsFunc(ts, func(t time.Time) bool { return !t.IsZero() })
}

func newManifestListDeletedCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "list-deleted HOST/REPO",
		Short: "List a repository's soft-deleted manifests with the tags they had (ACR soft delete)",
		Long: `List the soft deletions of a repository's manifests, by digest and, for a digest deleted
more than once, oldest first: each with the tags it had, its size, when it was deleted and,
where the registry says (the local registry does, ACR does not), when the deletion expires.
Restore one with 'acrctl manifest restore HOST/REPO@DIGEST'. The credential needs the
deleted/read permission.`,
		Example: `  acrctl manifest list-deleted myregistry.azurecr.io/library/hello-world
  acrctl manifest list-deleted localhost:5000/hello --output json | jq -r '.manifests[].digest'`,
		Args:              exactArgs(1, "a repository HOST/REPO"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refRepo)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			list := s.client.DeletedManifests(cmd.Context(), ref.Repository, &acr.ListOptions{ReadAhead: true})
			w := cmd.OutOrStdout()
			if out.json() {
				// Written as the manifests arrive, never held whole.
				l := newJSONList(w, "manifests", "registry", ref.Registry, "imageName", ref.Repository)
				for m, err := range list {
					if err != nil {
						return explainDeleted(s, err, "the deleted manifests of "+ref.String())
					}
					j := deletedManifestJSON{Digest: m.Digest.String(), ImageSize: m.Size,
						MediaType: m.MediaType, Tags: m.Tags, CreatedTime: m.CreatedOn, LastUpdateTime: m.LastUpdatedOn,
						DeletedAt: m.DeletedOn, ExpiresAfter: m.ExpiresOn}
					if j.Tags == nil {
						j.Tags = []string{}
					}
					l.add(j)
				}
				return l.end()
			}
			// The table aligns its columns over all rows.
			var ms []acr.DeletedManifest
			for m, err := range list {
				if err != nil {
					return explainDeleted(s, err, "the deleted manifests of "+ref.String())
				}
				ms = append(ms, m)
			}
			if len(ms) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s has no deleted manifests\n", ref)
				return nil
			}
			expiry := make([]time.Time, len(ms))
			for i, m := range ms {
				expiry[i] = m.ExpiresOn
			}
			expires := hasExpiry(expiry...)
			tw := newTable(w)
			fmt.Fprint(tw, "DIGEST\tTAGS\tSIZE\tDELETED (UTC)")
			if expires {
				fmt.Fprint(tw, "\tEXPIRES (UTC)")
			}
			fmt.Fprintln(tw)
			for _, m := range ms {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s", printable(m.Digest.String()), printable(orDash(strings.Join(m.Tags, ","))), formatSize(m.Size), formatTableTime(m.DeletedOn))
				if expires {
					fmt.Fprintf(tw, "\t%s", formatTableTime(m.ExpiresOn))
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

// deletedTags lists the soft deletions of a repository's tags, only those
// of tag when it is not "".
func deletedTags(cmd *cobra.Command, s *session, ref acr.Reference, tag string) ([]acr.DeletedTag, error) {
	var ts []acr.DeletedTag
	for t, err := range s.client.DeletedTags(cmd.Context(), ref.Repository, nil) {
		if err != nil {
			return nil, explainDeleted(s, err, "the deleted tags of "+ref.Registry+"/"+ref.Repository)
		}
		if tag == "" || t.Name == tag {
			ts = append(ts, t)
		}
	}
	return ts, nil
}

func newTagListDeletedCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "list-deleted HOST/REPO[:TAG]",
		Short: "List a repository's soft-deleted tags with the digests they pointed at (ACR soft delete)",
		Long: `List the soft deletions of a repository's tags, by name and, for a tag deleted more than
once, oldest first: each with the digest it pointed at, when it was deleted and, where the
registry says (the local registry does, ACR does not), when the deletion expires. With
:TAG, only that tag's deletions are listed; the last one is what 'acrctl manifest restore
HOST/REPO:TAG' brings back. The credential needs the deleted/read permission.`,
		Example: `  acrctl tag list-deleted myregistry.azurecr.io/library/hello-world
  acrctl tag list-deleted localhost:5000/hello:v1
  acrctl tag list-deleted localhost:5000/hello --output json | jq -r '.tags[] | "\(.name) \(.digest)"'`,
		Args:              exactArgs(1, "a repository HOST/REPO or a tag HOST/REPO:TAG"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refAny)
			if err != nil {
				return err
			}
			if ref.Digest != "" {
				return usageError{fmt.Errorf("%q names a digest; this command takes a repository or a tag: %s/%s[:TAG]", args[0], ref.Registry, ref.Repository)}
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			ts, err := deletedTags(cmd, s, ref, ref.Tag)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out.json() {
				js := make([]deletedTagJSON, len(ts))
				for i, t := range ts {
					js[i] = deletedTagJSON{Tag: t.Name, Digest: t.Digest.String(), DeletedAt: t.DeletedOn, ExpiresAfter: t.ExpiresOn}
				}
				return writeJSON(w, struct {
					Registry   string           `json:"registry"`
					Repository string           `json:"imageName"`
					Tags       []deletedTagJSON `json:"tags"`
				}{ref.Registry, ref.Repository, js})
			}
			if len(ts) == 0 {
				if ref.Tag != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s/%s has no deleted tag %s\n", ref.Registry, ref.Repository, ref.Tag)
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s has no deleted tags\n", ref)
				}
				return nil
			}
			expiry := make([]time.Time, len(ts))
			for i, t := range ts {
				expiry[i] = t.ExpiresOn
			}
			expires := hasExpiry(expiry...)
			tw := newTable(w)
			fmt.Fprint(tw, "TAG\tDIGEST\tDELETED (UTC)")
			if expires {
				fmt.Fprint(tw, "\tEXPIRES (UTC)")
			}
			fmt.Fprintln(tw)
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s", printable(t.Name), printable(t.Digest.String()), formatTableTime(t.DeletedOn))
				if expires {
					fmt.Fprintf(tw, "\t%s", formatTableTime(t.ExpiresOn))
				}
				fmt.Fprintln(tw)
			}
			return tw.Flush()
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

// deletedTagsOf returns the tags a manifest had at its most recent
// deletion, or nil when they cannot be listed, for error messages.
func deletedTagsOf(cmd *cobra.Command, s *session, repo string, d digest.Digest) []string {
	var tags []string
	for m, err := range s.client.DeletedManifests(cmd.Context(), repo, nil) {
		if err != nil {
			return nil
		}
		if m.Digest == d {
			tags = m.Tags
		}
	}
	return tags
}

func newManifestRestoreCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var tag string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore HOST/REPO:TAG | HOST/REPO@DIGEST [--tag T] [--force]",
		Short: "Restore a soft-deleted manifest and its tags (ACR soft delete)",
		Long: `Restore a soft-deleted manifest. By tag, it restores the manifest the tag pointed at when
it was last deleted (the last entry of 'acrctl tag list-deleted HOST/REPO:TAG', as az acr
manifest restore picks) and puts the tag back on it. By digest, it restores the most recent
deletion of that manifest with the tags it had then, or with --tag T only that tag; a
manifest that was not deleted gets the deleted tag back. A tag that now points at another
manifest is refused unless --force moves it. The credential needs the deleted/read and
deleted/restore permissions.`,
		Example: `  acrctl manifest restore myregistry.azurecr.io/library/hello-world:v1
  acrctl manifest restore localhost:5000/hello@sha256:4c5e...
  acrctl manifest restore localhost:5000/hello@sha256:4c5e... --tag v1 --force
  acrctl manifest restore localhost:5000/hello:v1 --output json | jq -r .digest`,
		Args:              exactArgs(1, "a deleted manifest HOST/REPO:TAG or HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			if ref.Tag != "" && ref.Digest != "" {
				return usageError{fmt.Errorf("%q names both a tag and a digest: give HOST/REPO:TAG, or HOST/REPO@DIGEST with --tag TAG", args[0])}
			}
			if ref.Tag != "" && tag != "" {
				return usageError{fmt.Errorf("--tag goes with HOST/REPO@DIGEST; %s restores the tag %s: drop --tag, or name the manifest by digest", args[0], ref.Tag)}
			}
			if tag != "" {
				if _, err := acr.ParseReference(ref.Registry + "/" + ref.Repository + ":" + tag); err != nil {
					return usageError{fmt.Errorf("--tag %q is not a valid tag: %v", tag, err)}
				}
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			repo := ref.Registry + "/" + ref.Repository
			d := ref.Digest
			if ref.Tag != "" {
				ts, err := deletedTags(cmd, s, ref, ref.Tag)
				if err != nil {
					return err
				}
				if len(ts) == 0 {
					return fmt.Errorf("%s has no deleted tag %s, so there is nothing to restore by that tag; fix: acrctl tag list-deleted %s lists the deleted tags, and acrctl manifest list-deleted %s the deleted manifests", repo, ref.Tag, repo, repo)
				}
				// As az: the last entry is the most recent deletion.
				d = ts[len(ts)-1].Digest
				tag = ref.Tag
				if len(ts) > 1 {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s was deleted %d times; restoring its most recent deletion, %s@%s\n", ref, len(ts), repo, printable(d.String()))
				}
			}
			m, err := s.client.RestoreManifest(cmd.Context(), ref.Repository, d, &acr.RestoreOptions{Tag: tag, Force: force})
			if err != nil {
				switch {
				case errors.Is(err, acr.ErrTagInUse):
					what := "the tag " + tag
					if tag == "" {
						what = "a tag it had when deleted"
						if old := deletedTagsOf(cmd, s, ref.Repository, d); len(old) > 0 {
							what += " (" + strings.Join(old, ", ") + ")"
						}
					}
					alt := fmt.Sprintf("acrctl manifest restore %s@%s --tag OTHER to restore it under another tag", repo, d)
					return fmt.Errorf("cannot restore %s@%s: %s now points at another manifest: %s; fix: pass --force to move it, or %s", repo, d, what, registrySaid(err, true), alt)
				case errors.Is(err, acr.ErrNotFound):
					return fmt.Errorf("%s@%s has no deletion to restore: %s; fix: acrctl manifest list-deleted %s lists what can be restored (deletions past the retention are gone for good)", repo, d, registrySaid(err, true), repo)
				}
				return s.explain(err)
			}
			w := cmd.OutOrStdout()
			if out.json() {
				return writeJSON(w, toManifestJSON(m))
			}
			tags := "no tags"
			if len(m.Tags) > 0 {
				tags = "tags " + strings.Join(m.Tags, ", ")
			}
			fmt.Fprintf(w, "Restored %s@%s (%s)\n", repo, printable(m.Digest.String()), printable(tags))
			return nil
		},
	}
	cmd.Flags().StringVar(&tag, "tag", "", "with a digest: restore only this tag onto the manifest (default: the tags it had when deleted)")
	cmd.Flags().BoolVar(&force, "force", false, "move a restored tag that now points at another manifest")
	addOutputFlag(cmd, &out)
	return cmd
}
