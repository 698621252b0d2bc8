package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

func newManifestCmd() *cobra.Command {
	o := &remoteOptions{}
	cmd := newGroup("manifest", "List, show, fetch, check, lock and delete manifests (images and artifacts) and list their referrers", o)
	cmd.AddCommand(newManifestListCmd(o), newManifestShowCmd(o), newManifestGetCmd(o), newManifestExistsCmd(o), newManifestReferrersCmd(o), newManifestUpdateCmd(o), newManifestDeleteCmd(o),
		newManifestListDeletedCmd(o), newManifestRestoreCmd(o))
	return cmd
}

// platformJSON is a child of an index in --output json, as ACR's
// /acr/v1 API lists it under references.
type platformJSON struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	OS           string `json:"os,omitempty"`
}

// manifestJSON is a manifest's properties in --output json, with the field
// names of ACR's /acr/v1 API, which az acr manifest list-metadata and
// show-metadata print as is. Registry and imageName are set by manifest
// show, update and restore only: manifest list gives them once, beside the
// manifests, as the API does.
type manifestJSON struct {
	Registry             string          `json:"registry,omitempty"`
	ImageName            string          `json:"imageName,omitempty"`
	Digest               string          `json:"digest"`
	ImageSize            int64           `json:"imageSize"`
	CreatedTime          time.Time       `json:"createdTime,omitzero"`
	LastUpdateTime       time.Time       `json:"lastUpdateTime,omitzero"`
	Architecture         string          `json:"architecture,omitempty"`
	OS                   string          `json:"os,omitempty"`
	MediaType            string          `json:"mediaType,omitempty"`
	ConfigMediaType      string          `json:"configMediaType,omitempty"`
	ArtifactType         string          `json:"artifactType,omitempty"`
	Tags                 []string        `json:"tags"`
	References           []platformJSON  `json:"references,omitempty"`
	ChangeableAttributes permissionsJSON `json:"changeableAttributes"`
}

func toManifestJSON(m acr.ManifestProperties) manifestJSON {
	j := manifestJSON{Registry: m.Registry, ImageName: m.Repository, Digest: m.Digest.String(), ImageSize: m.Size, MediaType: m.MediaType,
		ConfigMediaType: m.ConfigMediaType, ArtifactType: m.ArtifactType, Architecture: m.Architecture, OS: m.OS, Tags: m.Tags,
		CreatedTime: m.CreatedOn, LastUpdateTime: m.LastUpdatedOn, ChangeableAttributes: toPermissionsJSON(m.Permissions)}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	for _, r := range m.RelatedArtifacts {
		j.References = append(j.References, platformJSON{Digest: r.Digest.String(), Architecture: r.Architecture, OS: r.OS})
	}
	return j
}

// platform formats OS/ARCH, or "-".
func platform(os, arch string) string {
	if os == "" && arch == "" {
		return "-"
	}
	return os + "/" + arch
}

func newManifestListCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var order orderFlag
	var paging pagingFlags
	cmd := &cobra.Command{
		Use:   "list HOST/REPO [--order time-desc|time-asc] [--top N] [--page-size N] [--last DIGEST]",
		Short: "List the manifests of a repository with their tags, sizes and locks (ACR)",
		Example: `  acrctl manifest list myregistry.azurecr.io/library/hello-world --order time-desc
  acrctl manifest list localhost:5000/hello -o json | jq -r '.manifests[] | select(.tags == []) | .digest'`,
		Aliases:           []string{"ls"},
		Args:              exactArgs(1, "a repository HOST/REPO"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refRepo)
			if err != nil {
				return err
			}
			last, err := parseDigest("--last", paging.last)
			if err != nil {
				return err
			}
			if err := paging.check(); err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			// manifest list reads every page: each is requested while
			// the one before is decoded.
			list := limit(s.client.Manifests(cmd.Context(), ref.Repository, &acr.ManifestsOptions{Order: acr.Order(order),
				PageSize: paging.size(), Last: last, ReadAhead: paging.readAhead()}), &paging)
			w := cmd.OutOrStdout()
			if out.json() {
				// Written as the manifests arrive, never held whole.
				l := newJSONList(w, "manifests", "registry", ref.Registry, "imageName", ref.Repository)
				for m, err := range list {
					if err != nil {
						return s.explain(err)
					}
					j := toManifestJSON(m)
					j.Registry, j.ImageName = "", ""
					l.add(j)
				}
				return l.end()
			}
			// The table aligns its columns over all rows.
			var ms []acr.ManifestProperties
			for m, err := range list {
				if err != nil {
					return s.explain(err)
				}
				ms = append(ms, m)
			}
			if len(ms) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s has no manifests\n", ref)
				return nil
			}
			// The columns are the same whatever the locks, for scripts.
			tw := newTable(w)
			fmt.Fprintln(tw, "DIGEST\tTAGS\tSIZE\tPLATFORM\tLAST UPDATED (UTC)\tDISABLED")
			for _, m := range ms {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(m.Digest.String()), printable(orDash(strings.Join(m.Tags, ","))), formatSize(m.Size),
					printable(platform(m.OS, m.Architecture)), formatTableTime(m.LastUpdatedOn), disabled(m.Permissions))
			}
			return tw.Flush()
		},
	}
	addOrderFlag(cmd, &order, "digest")
	addPagingFlags(cmd, &paging, "digest")
	addOutputFlag(cmd, &out)
	return cmd
}

func printManifest(cmd *cobra.Command, out *outputFormat, m acr.ManifestProperties) error {
	return writeManifest(cmd, out, m, true)
}

// writeManifest prints a manifest's properties; without acrMetadata (a
// registry without /acr/v1), only those the manifest itself gives: no
// platform, tags, times or lock flags, and the size only when m.Size is
// not negative.
func writeManifest(cmd *cobra.Command, out *outputFormat, m acr.ManifestProperties, acrMetadata bool) error {
	w := cmd.OutOrStdout()
	if out.json() {
		if acrMetadata {
			return writeJSON(w, toManifestJSON(m))
		}
		j := ociManifestJSON{Registry: m.Registry, ImageName: m.Repository, Digest: m.Digest.String(), MediaType: m.MediaType,
			ConfigMediaType: m.ConfigMediaType, ArtifactType: m.ArtifactType}
		if m.Size >= 0 {
			j.ImageSize = &m.Size
		}
		return writeJSON(w, j)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Registry:\t%s\n", printable(m.Registry))
	fmt.Fprintf(tw, "Repository:\t%s\n", printable(m.Repository))
	fmt.Fprintf(tw, "Digest:\t%s\n", printable(m.Digest.String()))
	fmt.Fprintf(tw, "Media type:\t%s\n", printable(orDash(m.MediaType)))
	if m.ConfigMediaType != "" {
		fmt.Fprintf(tw, "Config media type:\t%s\n", printable(m.ConfigMediaType))
	}
	if m.ArtifactType != "" {
		fmt.Fprintf(tw, "Artifact type:\t%s\n", printable(m.ArtifactType))
	}
	if m.Size >= 0 {
		fmt.Fprintf(tw, "Image size:\t%s\n", formatSizeBytes(m.Size)) // config and layers, or an index's children
	}
	if acrMetadata {
		fmt.Fprintf(tw, "Platform:\t%s\n", printable(platform(m.OS, m.Architecture)))
		fmt.Fprintf(tw, "Tags:\t%s\n", printable(orDash(strings.Join(m.Tags, ", "))))
		for _, r := range m.RelatedArtifacts {
			fmt.Fprintf(tw, "Child:\t%s %s\n", printable(r.Digest.String()), printable(platform(r.OS, r.Architecture)))
		}
		fmt.Fprintf(tw, "Created:\t%s\n", formatTime(m.CreatedOn))
		fmt.Fprintf(tw, "Last updated:\t%s\n", formatTime(m.LastUpdatedOn))
		writePermissions(tw, m.Permissions)
	}
	return tw.Flush()
}

// ociManifestJSON is manifest show -o json on a registry without ACR's
// metadata: the fields of manifestJSON that the manifest itself gives.
type ociManifestJSON struct {
	Registry        string `json:"registry"`
	ImageName       string `json:"imageName"`
	Digest          string `json:"digest"`
	ImageSize       *int64 `json:"imageSize,omitempty"`
	MediaType       string `json:"mediaType,omitempty"`
	ConfigMediaType string `json:"configMediaType,omitempty"`
	ArtifactType    string `json:"artifactType,omitempty"`
}

// showOCIManifest is manifest show on a registry without ACR's metadata:
// what the manifest's verified bytes tell. An image's size is its config's
// and layers' (an artifact manifest's blobs'), as ACR counts imageSize; an
// index's would need its children, and is left out.
func showOCIManifest(cmd *cobra.Command, s *session, out *outputFormat, ref acr.Reference) error {
	m, err := s.client.GetManifest(cmd.Context(), ref.Repository, ref.TagOrDigest(), nil)
	if err != nil {
		return s.explain(err)
	}
	var doc struct {
		ArtifactType string               `json:"artifactType"`
		Config       *ocispec.Descriptor  `json:"config"`
		Layers       []ocispec.Descriptor `json:"layers"`
		Blobs        []ocispec.Descriptor `json:"blobs"`
	}
	if err := json.Unmarshal(m.Bytes, &doc); err != nil {
		return fmt.Errorf("the manifest %s is not JSON: %w; acrctl manifest get %s prints its bytes", m.Digest, err, ref)
	}
	p := acr.ManifestProperties{Registry: ref.Registry, Repository: ref.Repository, Digest: m.Digest, MediaType: m.MediaType,
		ArtifactType: doc.ArtifactType, Size: -1}
	if !m.IsIndex() {
		p.Size = 0
		if doc.Config != nil {
			p.ConfigMediaType = doc.Config.MediaType
			p.Size += doc.Config.Size
		}
		for _, l := range append(doc.Layers, doc.Blobs...) {
			p.Size += l.Size
		}
	}
	noMetadata(cmd, ref.Registry, "tags, platform, times and lock flags")
	return writeManifest(cmd, out, p, false)
}

// noMetadata notes on stderr that a registry without ACR's /acr/v1 API
// keeps no record of what: the command shows what the OCI API tells.
func noMetadata(cmd *cobra.Command, host, what string) {
	fmt.Fprintf(cmd.ErrOrStderr(), "note: %s does not serve Azure Container Registry's /acr/v1 metadata API, so its %s are not known; shown is what the OCI API tells\n", host, what)
}

func newManifestShowCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "show HOST/REPO:TAG|HOST/REPO@DIGEST",
		Short: "Show a manifest's properties: size, platform, tags, times and lock flags (ACR)",
		Long: `Show the properties the registry keeps about a manifest (ACR's /acr/v1 metadata). For
the manifest's own bytes, use 'acrctl manifest get'. On a registry without that API only
what the manifest itself tells is shown (digest, media types, artifact type, and an
image's size: its config and layers); a note on stderr says so.`,
		Example: `  acrctl manifest show myregistry.azurecr.io/library/hello-world:latest
  acrctl manifest show localhost:5000/hello@sha256:4c5e... -o json | jq .imageSize`,
		Args:              exactArgs(1, "a manifest HOST/REPO:TAG or HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			m, err := s.client.GetManifestProperties(cmd.Context(), ref.Repository, ref.TagOrDigest())
			if errors.Is(err, acr.ErrNotSupported) {
				return showOCIManifest(cmd, s, &out, ref)
			}
			if err != nil {
				return s.explain(err)
			}
			return printManifest(cmd, &out, m)
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func newManifestGetCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var pretty bool
	cmd := &cobra.Command{
		Use:   "get HOST/REPO:TAG|HOST/REPO@DIGEST [--pretty]",
		Short: "Print a manifest's exact bytes, verified against its digest",
		Long: `Print a manifest's bytes exactly as the registry stores them, after checking that they
hash to the digest asked for (or the one the registry announces for a tag). --pretty
indents the JSON for reading; the digest is then of the original bytes, not the output.
The manifest is itself a JSON document, so -o json prints it as -o text does: exactly
its bytes (a manifest that is not JSON is refused with -o json).`,
		Example: `  acrctl manifest get myregistry.azurecr.io/library/hello-world:latest --pretty
  acrctl manifest get localhost:5000/hello:v1 | jq -r '.layers[].digest'
  acrctl manifest get localhost:5000/hello@sha256:4c5e... > manifest.json`,
		Args:              exactArgs(1, "a manifest HOST/REPO:TAG or HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			m, err := s.client.GetManifest(cmd.Context(), ref.Repository, ref.TagOrDigest(), nil)
			if err != nil {
				if errors.Is(err, acr.ErrLocked) {
					return lockRefusal(cmd.Context(), s, ref, lockRead, err)
				}
				return s.explain(err)
			}
			body := m.Bytes
			if out.json() && !json.Valid(body) {
				return fmt.Errorf("the manifest %s is not JSON, so -o json cannot print it; drop -o json for the raw bytes", m.Digest)
			}
			if pretty {
				var buf bytes.Buffer
				if err := json.Indent(&buf, m.Bytes, "", "  "); err != nil {
					return fmt.Errorf("the manifest %s is not JSON, so --pretty cannot indent it: %v; drop --pretty for the raw bytes", m.Digest, err)
				}
				buf.WriteByte('\n')
				body = buf.Bytes()
			}
			_, err = cmd.OutOrStdout().Write(body)
			return err
		},
	}
	cmd.Flags().BoolVar(&pretty, "pretty", false, "indent the JSON")
	out.hint = "the manifest is JSON either way; redirect stdout to write it to a file"
	addOutputFlag(cmd, &out)
	return cmd
}

// existsJSON is manifest exists's --output json: whether the manifest is
// there and, when it is, its digest.
type existsJSON struct {
	Registry  string `json:"registry"`
	ImageName string `json:"imageName"`
	Tag       string `json:"tag,omitempty"`
	Digest    string `json:"digest,omitempty"`
	Exists    bool   `json:"exists"`
}

func newManifestExistsCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "exists HOST/REPO:TAG|HOST/REPO@DIGEST",
		Short: "Check whether a tag or manifest exists; exit 0 if it does, 3 if not",
		Long: `Check whether the registry holds the manifest a tag or digest names, with one HEAD
request, on any registry. Exit status 0 when it does, and the digest is printed (with
--output json: registry, imageName, tag, digest and exists: true). 3 when it does not
(the repository or the tag is unknown), as az exits for a missing resource: a line on
stderr says so, and with --output json stdout holds the same document with exists: false
and no digest. A failure that leaves the question open (a refused credential, no answer)
exits 1, with nothing on stdout and the problem on stderr.`,
		Example: `  acrctl manifest exists myregistry.azurecr.io/app:1.0.0
  if acrctl manifest exists localhost:5000/app:$GIT_SHA 2>/dev/null; then echo "already built"; fi
  acrctl manifest exists localhost:5000/app:$GIT_SHA && rc=0 || rc=$?   # 0 there, 3 not, 1 failed
  acrctl manifest exists localhost:5000/app:v1 -o json | jq -r .digest`,
		Args:              exactArgs(1, "a manifest HOST/REPO:TAG or HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			// A tag is resolved with the HEAD that answers the question, so
			// the digest it names comes with the answer.
			d, ok := ref.Digest, true
			if ref.Digest != "" {
				ok, err = s.client.ManifestExists(cmd.Context(), ref.Repository, ref.Digest.String())
			} else {
				d, err = s.client.ResolveDigest(cmd.Context(), ref.Repository, ref.Tag)
				if errors.Is(err, acr.ErrNotFound) {
					d, ok, err = "", false, nil
				}
			}
			if err != nil {
				if errors.Is(err, acr.ErrLocked) {
					return lockRefusal(cmd.Context(), s, ref, lockRead, err)
				}
				return s.explain(err)
			}
			if !ok {
				d = ""
			}
			w := cmd.OutOrStdout()
			if out.json() {
				if err := writeJSON(w, existsJSON{Registry: ref.Registry, ImageName: ref.Repository, Tag: ref.Tag, Digest: d.String(), Exists: ok}); err != nil {
					return err
				}
			} else if ok {
				fmt.Fprintln(w, printable(d.String()))
			}
			if !ok {
				return absentError{fmt.Errorf("%s does not exist", ref)}
			}
			return nil
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func newManifestUpdateCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var locks lockFlags
	cmd := &cobra.Command{
		Use:   "update HOST/REPO:TAG|HOST/REPO@DIGEST [--delete-enabled B] [--write-enabled B] [--list-enabled B] [--read-enabled B]",
		Short: "Change a manifest's lock flags (ACR)",
		Long: `Change the lock flags of a manifest, named by digest or by a tag that points at it:
--write-enabled false refuses overwriting and deleting it; --delete-enabled false refuses
deleting it; --read-enabled false refuses pulling it; --list-enabled false hides it from
listings. --lock sets write and delete off, --unlock on. Prints the new properties.`,
		Example: `  acrctl manifest update myregistry.azurecr.io/library/hello-world:v1 --lock
  acrctl manifest update localhost:5000/hello@sha256:4c5e... --read-enabled false`,
		Args:              exactArgs(1, "a manifest HOST/REPO:TAG or HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			u, err := locks.update()
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			m, err := s.client.UpdateManifestProperties(cmd.Context(), ref.Repository, ref.TagOrDigest(), u)
			if err != nil {
				return s.explain(err)
			}
			return printManifest(cmd, &out, m)
		},
	}
	locks.addFlags(cmd, "manifest")
	addOutputFlag(cmd, &out)
	return cmd
}

func newManifestDeleteCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete HOST/REPO:TAG|HOST/REPO@DIGEST [--yes]",
		Short: "Delete a manifest with every tag that points at it",
		Long: `Delete a manifest, named by digest or by a tag (resolved to its digest first), with
every tag that points at it; on ACR its referrers (signatures, SBOMs) go with it. On a
registry without the referrers API, a deleted referrer is also removed from its subject's
referrers tag index (with the last referrer, the index and its tag go), and the output
says so. To remove only a tag, use 'acrctl tag delete'. When that takes more than was named (a tag
names the manifest, the manifest has tags or referrers, or an index in the repository lists
it as a platform, on registries that list indexes' children as ACR does), it asks for
confirmation on a terminal, as repo delete does; pass --yes in scripts.`,
		Example: `  acrctl manifest delete myregistry.azurecr.io/library/hello-world@sha256:4c5e...
  acrctl manifest delete localhost:5000/hello:v1 --yes -o json`,
		Aliases:           []string{"rm"},
		Args:              exactArgs(1, "a manifest HOST/REPO:TAG or HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			d, err := s.client.ResolveDigest(ctx, ref.Repository, ref.TagOrDigest())
			if err != nil {
				return s.explain(err)
			}
			name := ref.Registry + "/" + ref.Repository + "@" + d.String()
			tags, more := manifestDeleteScope(cmd, s, ref, d, yes)
			if more != "" {
				if err := confirm(cmd, o, yes, name+" "+more); err != nil {
					return err
				}
			}
			del, err := s.client.DeleteManifest(ctx, ref.Repository, d.String())
			var unindexed *acr.ReferrersTagError
			if err != nil && !errors.As(err, &unindexed) {
				if errors.Is(err, acr.ErrLocked) {
					return lockRefusal(ctx, s, ref, lockDelete, err)
				}
				return s.explain(err)
			}
			// The manifest is gone; what follows an index failure is
			// reported after it.
			if out.json() {
				if tags == nil {
					tags = []string{}
				}
				if err := writeJSON(cmd.OutOrStdout(), struct {
					Registry         string   `json:"registry"`
					ImageName        string   `json:"imageName"`
					ManifestsDeleted []string `json:"manifestsDeleted"`
					TagsDeleted      []string `json:"tagsDeleted"`
					UnindexedFrom    string   `json:"unindexedFrom,omitempty"`
				}{ref.Registry, ref.Repository, []string{d.String()}, tags, del.UnindexedFrom.String()}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted manifest %s\n", printable(name))
				if del.UnindexedFrom != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "Removed it from the referrers tag index of its subject %s/%s@%s\n",
						ref.Registry, ref.Repository, printable(del.UnindexedFrom.String()))
				}
			}
			if unindexed != nil {
				return referrersIndexLeft(s, ref, unindexed)
			}
			return nil
		},
	}
	addYesFlag(cmd, &yes)
	addOutputFlag(cmd, &out)
	return cmd
}

// manifestDeleteScope returns the tags deleting manifest d takes with it,
// and, when that is more than the user named, what more in words ("" when
// nothing more goes). What cannot be found out counts as more. With yes
// (--yes: no question to ask) it does not page through the manifests for
// indexes that list d.
func manifestDeleteScope(cmd *cobra.Command, s *session, ref acr.Reference, d digest.Digest, yes bool) ([]string, string) {
	ctx := cmd.Context()
	var tags []string
	var more []string
	known := true
	if m, err := s.client.GetManifestProperties(ctx, ref.Repository, d.String()); err == nil {
		tags = m.Tags
	} else if ref.Tag != "" {
		tags, known = []string{ref.Tag}, false
	} else {
		known = false
	}
	switch {
	case len(tags) == 1 && tags[0] == ref.Tag && known:
		more = append(more, "with its only tag "+ref.Tag)
	case len(tags) == 1 && known:
		more = append(more, "with its tag "+tags[0])
	case len(tags) > 0 && known:
		more = append(more, "with its tags "+strings.Join(tags, ", "))
	case ref.Tag != "":
		more = append(more, "(which "+ref.Tag+" points at) with every tag that points at it")
	case !known:
		more = append(more, "with every tag that points at it")
	}
	if !yes {
		if ix := indexesListing(ctx, s, ref.Repository, d); ix != "" {
			more = append(more, ix)
		}
	}
	n, err := 0, error(nil)
	for _, e := range s.client.Referrers(ctx, ref.Repository, d, "") {
		if err = e; err != nil {
			break
		}
		n++
	}
	switch {
	case err != nil:
		more = append(more, "and any referrers (signatures, SBOMs)")
	case n == 1:
		more = append(more, "and its referrer")
	case n > 1:
		more = append(more, fmt.Sprintf("and its %d referrers", n))
	}
	return tags, strings.Join(more, " ")
}

// maxIndexesNamed bounds the indexes a delete's question names.
const maxIndexesNamed = 3

// maxIndexesFetched bounds the indexes indexesListing fetches because the
// listing does not carry their children.
const maxIndexesFetched = 100

// indexesListing says, in words for manifest delete's question, which
// indexes of repo list manifest d as one of their platforms: deleting it
// breaks their pulls on that platform. It reads ACR's manifest listing
// (one request per 1,000 manifests), which carries an index's children
// where the registry fills them in, and fetches the indexes it lists
// without them (at most maxIndexesFetched). What it cannot find out
// counts as more; on registries without that listing it says nothing,
// since finding out would take a fetch of every manifest.
func indexesListing(ctx context.Context, s *session, repo string, d digest.Digest) string {
	var names []string
	var platform string
	n, fetched := 0, 0
	unsure := ""
	lists := func(m acr.ManifestProperties) bool {
		children := m.RelatedArtifacts
		if len(children) == 0 && isIndexType(m.MediaType) {
			if fetched++; fetched > maxIndexesFetched {
				unsure = fmt.Sprintf("more than %d indexes to read", maxIndexesFetched)
				return false
			}
			got, err := s.client.GetManifest(ctx, repo, m.Digest.String(), nil)
			if err != nil {
				unsure = "reading the index " + m.Digest.String() + " failed"
				return false
			}
			ix, err := got.Index()
			if err != nil {
				return false
			}
			for _, c := range ix.Manifests {
				p := acr.ArtifactPlatform{Digest: c.Digest}
				if c.Platform != nil {
					p.OS, p.Architecture = c.Platform.OS, c.Platform.Architecture
				}
				children = append(children, p)
			}
		}
		for _, c := range children {
			if c.Digest == d {
				if platform == "" && c.OS != "" {
					platform = c.OS + "/" + c.Architecture
				}
				return true
			}
		}
		return false
	}
	for m, err := range s.client.Manifests(ctx, repo, nil) {
		if errors.Is(err, acr.ErrNotSupported) {
			return ""
		}
		if err != nil {
			unsure = "listing the manifests failed"
			break
		}
		if !lists(m) {
			continue
		}
		n++
		if len(names) < maxIndexesNamed {
			name := "@" + m.Digest.String()
			if len(m.Tags) > 0 {
				name = ":" + strings.Join(m.Tags, ", :")
			}
			names = append(names, name)
		}
	}
	if n == 0 {
		if unsure != "" {
			return "and perhaps an index that lists it (" + unsure + ")"
		}
		return ""
	}
	what := "the index " + names[0]
	if n > 1 {
		what = fmt.Sprintf("%d indexes (%s", n, strings.Join(names, "; "))
		if n > len(names) {
			what += "; …"
		}
		what += ")"
	}
	on := "its platform"
	if platform != "" {
		on = platform
	}
	return fmt.Sprintf("although %s lists it: pulls of %s for %s would then fail", what, pronoun(n), on)
}

// isIndexType reports whether a manifest media type is an OCI index or a
// Docker manifest list.
func isIndexType(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == "application/vnd.docker.distribution.manifest.list.v2+json"
}

// pronoun is "it" or "them".
func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// referrerJSON is one referrer in --output json: its descriptor as the
// registry lists it.
type referrerJSON struct {
	Digest       string            `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

func newManifestReferrersCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var artifactType string
	var prune bool
	cmd := &cobra.Command{
		Use:   "referrers HOST/REPO:TAG|HOST/REPO@DIGEST [--artifact-type T] [--prune]",
		Short: "List the artifacts that refer to a manifest (signatures, SBOMs, attestations)",
		Long: `List the manifests whose subject is the given manifest: what 'acrctl attach', notation,
cosign or oras attach to an image. It uses the OCI 1.1 referrers API and, on registries
without it, the referrers tag schema (a tag named after the digest). --artifact-type keeps
only the referrers of that type. --prune first removes from that tag's index the entries of
manifests the repository no longer holds (left by a client that deleted a referrer without
updating the index), and says which on stderr; an index left empty is deleted, with its tag.`,
		Example: `  acrctl manifest referrers myregistry.azurecr.io/app:v1
  acrctl manifest referrers localhost:5000/app:v1 --artifact-type application/vnd.cncf.notary.signature
  acrctl manifest referrers localhost:5000/app@sha256:4c5e... -o json | jq -r '.manifests[].digest'
  acrctl manifest referrers localhost:5000/app:v1 --prune`,
		Args:              exactArgs(1, "a manifest HOST/REPO:TAG or HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			subject, err := s.client.ResolveDigest(cmd.Context(), ref.Repository, ref.TagOrDigest())
			if err != nil {
				return s.explain(err)
			}
			if prune {
				gone, err := s.client.PruneReferrersIndex(cmd.Context(), ref.Repository, subject)
				if err != nil {
					return s.explain(err)
				}
				for _, d := range gone {
					fmt.Fprintf(cmd.ErrOrStderr(), "Removed %s, a deleted manifest, from the referrers tag index of %s/%s@%s\n",
						printable(d.String()), ref.Registry, ref.Repository, subject)
				}
			}
			refs := []referrerJSON{}
			for d, err := range s.client.Referrers(cmd.Context(), ref.Repository, subject, artifactType) {
				if err != nil {
					return s.explain(err)
				}
				refs = append(refs, referrerJSON{Digest: d.Digest.String(), MediaType: d.MediaType, ArtifactType: d.ArtifactType,
					Size: d.Size, Annotations: d.Annotations})
			}
			w := cmd.OutOrStdout()
			if out.json() {
				return writeJSON(w, struct {
					Registry   string `json:"registry"`
					Repository string `json:"imageName"`
					Subject    string `json:"subject"`
					// manifests, as in the index the referrers API
					// answers, which az acr manifest list-referrers prints.
					Referrers []referrerJSON `json:"manifests"`
				}{ref.Registry, ref.Repository, subject.String(), refs})
			}
			if len(refs) == 0 {
				what := "no referrers"
				if artifactType != "" {
					what = "no referrers of type " + artifactType
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s/%s@%s has %s\n", ref.Registry, ref.Repository, subject, what)
				return nil
			}
			tw := newTable(w)
			fmt.Fprintln(tw, "DIGEST\tARTIFACT TYPE\tSIZE\tCREATED (UTC)")
			for _, r := range refs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", printable(r.Digest), printable(orDash(r.ArtifactType)), formatSize(r.Size),
					printable(orDash(r.Annotations["org.opencontainers.image.created"])))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&artifactType, "artifact-type", "", "list only referrers of this artifact type")
	cmd.Flags().BoolVar(&prune, "prune", false, "first remove deleted manifests from the referrers tag index (registries without the referrers API)")
	addOutputFlag(cmd, &out)
	return cmd
}

// referrersIndexLeft explains a deletion of a referrer that the registry
// did, and whose entry in the referrers tag index of its subject was left
// behind (a *acr.ReferrersTagError): tools that list referrers through
// that index go on listing the deleted manifest.
func referrersIndexLeft(s *session, ref acr.Reference, e *acr.ReferrersTagError) error {
	subject := ref.Registry + "/" + ref.Repository + "@" + e.Subject.String()
	return fmt.Errorf("deleted manifest %s/%s@%s, but its entry in the referrers tag index of its subject %s stays, "+
		"so acrctl manifest referrers and oras discover still list it: %w; once that is fixed, run acrctl manifest referrers %s --prune to remove the entry",
		ref.Registry, ref.Repository, e.Referrer, subject, s.explain(e.Err), subject)
}
