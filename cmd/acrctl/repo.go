package main

import (
	"bufio"
	"errors"
	"fmt"
	"time"

	"github.com/acrgo/acr"
	"github.com/spf13/cobra"
)

// newGroup returns a command group whose subcommands share the connection
// and credential flags in o.
func newGroup(use, short string, o *remoteOptions) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: noArgsGroup}
	o.addFlags(cmd.PersistentFlags())
	return cmd
}

func newRepoCmd() *cobra.Command {
	o := &remoteOptions{}
	cmd := newGroup("repo", "List, show, lock and delete repositories", o)
	cmd.Aliases = []string{"repository"}
	cmd.AddCommand(newRepoListCmd(o), newRepoShowCmd(o), newRepoUpdateCmd(o), newRepoDeleteCmd(o), newRepoListDeletedCmd(o))
	return cmd
}

// repositoryJSON is a repository in --output json, with the field names
// of ACR's /acr/v1 API, which az acr repository show prints as is.
type repositoryJSON struct {
	Registry             string          `json:"registry"`
	ImageName            string          `json:"imageName"`
	CreatedTime          time.Time       `json:"createdTime,omitzero"`
	LastUpdateTime       time.Time       `json:"lastUpdateTime,omitzero"`
	ManifestCount        int             `json:"manifestCount"`
	TagCount             int             `json:"tagCount"`
	ChangeableAttributes permissionsJSON `json:"changeableAttributes"`
}

func newRepoListCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var paging pagingFlags
	cmd := &cobra.Command{
		Use:   "list HOST [--top N] [--page-size N] [--last REPO] [-o text|json|name]",
		Short: "List the repositories of a registry",
		Long: `List the repositories of a registry in name order, one per line: through ACR's
/acr/v1/_catalog, or the OCI /v2/_catalog on other registries. The credential needs
catalog access (on ACR, a role or token with registry:catalog:*). -o name keeps to one
name per line whatever the text output becomes; -o json prints the catalog's document.
--top N stops after N repositories (az's --top); --last resumes a listing after a
repository.`,
		Example: `  acrctl repo list myregistry.azurecr.io
  acrctl repo list localhost:5000 -o name | grep ^library/
  acrctl repo list localhost:5000 -o json | jq -r '.repositories[]'`,
		Aliases:           []string{"ls"},
		Args:              exactArgs(1, "the registry HOST[:PORT]"),
		ValidArgsFunction: completeHosts(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := parseHost(args[0])
			if err != nil {
				return err
			}
			if err := paging.check(); err != nil {
				return err
			}
			s, err := o.connect(cmd, host)
			if err != nil {
				return err
			}
			// The names are written as they arrive, never held whole,
			// and each page is requested while the one before is
			// decoded.
			list := limit(s.client.Repositories(cmd.Context(), &acr.ListOptions{PageSize: paging.size(), Last: paging.last,
				ReadAhead: paging.readAhead()}), &paging)
			w := cmd.OutOrStdout()
			if out.json() {
				l := newJSONList(w, "repositories", "registry", host)
				for name, err := range list {
					if err != nil {
						return s.explain(err)
					}
					l.add(name)
				}
				return l.end()
			}
			bw := bufio.NewWriter(w)
			n := 0
			for name, err := range list {
				if err != nil {
					return s.explain(err)
				}
				bw.WriteString(printable(name))
				bw.WriteByte('\n')
				n++
			}
			if n == 0 && !out.namesOnly() {
				// As tag list says it, on stderr: stdout stays empty.
				if paging.last != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s has no repositories after %s\n", host, printable(paging.last))
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s has no repositories\n", host)
				}
			}
			return bw.Flush()
		},
	}
	addPagingFlags(cmd, &paging, "repository")
	addNamesOutputFlag(cmd, &out)
	return cmd
}

func newRepoShowCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "show HOST/REPO",
		Short: "Show a repository's properties: counts, times and lock flags (ACR)",
		Example: `  acrctl repo show myregistry.azurecr.io/library/hello-world
  acrctl repo show localhost:5000/hello -o json | jq .changeableAttributes`,
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
			p, err := s.client.GetRepositoryProperties(cmd.Context(), ref.Repository)
			if err != nil {
				return s.explain(err)
			}
			return printRepository(cmd, &out, p)
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func printRepository(cmd *cobra.Command, out *outputFormat, p acr.RepositoryProperties) error {
	w := cmd.OutOrStdout()
	if out.json() {
		return writeJSON(w, repositoryJSON{Registry: p.Registry, ImageName: p.Name, CreatedTime: p.CreatedOn, LastUpdateTime: p.LastUpdatedOn,
			ManifestCount: p.ManifestCount, TagCount: p.TagCount, ChangeableAttributes: toPermissionsJSON(p.Permissions)})
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Registry:\t%s\n", printable(p.Registry))
	fmt.Fprintf(tw, "Repository:\t%s\n", printable(p.Name))
	fmt.Fprintf(tw, "Manifests:\t%d\n", p.ManifestCount)
	fmt.Fprintf(tw, "Tags:\t%d\n", p.TagCount)
	fmt.Fprintf(tw, "Created:\t%s\n", formatTime(p.CreatedOn))
	fmt.Fprintf(tw, "Last updated:\t%s\n", formatTime(p.LastUpdatedOn))
	writePermissions(tw, p.Permissions)
	return tw.Flush()
}

func newRepoUpdateCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var locks lockFlags
	cmd := &cobra.Command{
		Use:   "update HOST/REPO [--delete-enabled B] [--write-enabled B] [--list-enabled B] [--read-enabled B]",
		Short: "Change a repository's lock flags, which apply to everything in it (ACR)",
		Long: `Change a repository's lock flags. They apply to every tag and manifest inside it:
--write-enabled false refuses pushes, overwrites and deletes; --delete-enabled false
refuses deletes; --read-enabled false refuses pulls; --list-enabled false hides the
repository from listings. Prints the new properties.`,
		Example: `  acrctl repo update myregistry.azurecr.io/prod/api --write-enabled false
  acrctl repo update localhost:5000/hello --lock
  acrctl repo update localhost:5000/hello --delete-enabled true --write-enabled true`,
		Args:              exactArgs(1, "a repository HOST/REPO"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refRepo)
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
			p, err := s.client.UpdateRepositoryProperties(cmd.Context(), ref.Repository, u)
			if err != nil {
				return s.explain(err)
			}
			return printRepository(cmd, &out, p)
		},
	}
	locks.addFlags(cmd, "repository's content")
	addOutputFlag(cmd, &out)
	return cmd
}

func newRepoDeleteCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete HOST/REPO",
		Short: "Delete a repository with all its tags and manifests (ACR)",
		Long: `Delete a repository with all its tags and manifests. The registry refuses when a lock
protects anything inside; lift it with 'acrctl repo update REPO --unlock' (or the tag's or
manifest's update command). Asks for confirmation on a terminal; pass --yes in scripts.`,
		Example: `  acrctl repo delete myregistry.azurecr.io/old/api
  acrctl repo delete localhost:5000/hello --yes -o json`,
		Aliases:           []string{"rm"},
		Args:              exactArgs(1, "a repository HOST/REPO"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refRepo)
			if err != nil {
				return err
			}
			if err := confirm(cmd, o, yes, ref.String()+" with all its tags and manifests"); err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			d, err := s.client.DeleteRepository(cmd.Context(), ref.Repository)
			if err != nil {
				if errors.Is(err, acr.ErrLocked) {
					return fmt.Errorf("a lock protects %s or something in it: %s; fix: acrctl repo update %s --unlock, and unlock its locked tags and manifests", ref, registrySaid(err, false), ref)
				}
				if errors.Is(err, acr.ErrNotSupported) {
					return fmt.Errorf("%w; fix: on this registry delete its images one by one, with their tags: acrctl manifest delete %s:TAG --yes for each tag that acrctl tag list %s -o name lists", err, ref, ref)
				}
				return s.explain(err)
			}
			w := cmd.OutOrStdout()
			if out.json() {
				if d.Tags == nil {
					d.Tags = []string{}
				}
				manifests := make([]string, len(d.Manifests))
				for i, m := range d.Manifests {
					manifests[i] = m.String()
				}
				return writeJSON(w, struct {
					Registry         string   `json:"registry"`
					ImageName        string   `json:"imageName"`
					ManifestsDeleted []string `json:"manifestsDeleted"`
					TagsDeleted      []string `json:"tagsDeleted"`
				}{ref.Registry, ref.Repository, manifests, d.Tags})
			}
			fmt.Fprintf(w, "Deleted %s: %d manifests, %d tags\n", ref, len(d.Manifests), len(d.Tags))
			return nil
		},
	}
	addYesFlag(cmd, &yes)
	addOutputFlag(cmd, &out)
	return cmd
}
