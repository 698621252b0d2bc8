package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/purge"
	"github.com/spf13/cobra"
)

const purgeLong = `Delete old tags, and optionally untagged manifests, from the repositories of a registry.

What is deleted, in every repository that the repository part of a --filter matches:
  - a tag whose repository and name match a --filter and no --exclude, that was last
    updated before now minus --ago, and that is not among the --keep newest matching
    tags of its repository (excluded tags neither count towards --keep nor go);
  - with --untagged, also the manifests that have no tag once those tags are deleted and
    that were last updated before now minus --ago; with --untagged-only, no tag, only
    manifests without tags already. A filter with an empty tag part (app:) names a
    repository for the untagged purge without matching any tag;
  - with a deleted manifest, its referrers (signatures, SBOMs, attestations): the registry
    deletes them with their subject, and they are listed.

Never deleted:
  - a manifest that a kept index references (the images of a multi-arch tag);
  - a referrer whose subject is kept, or is not in the repository, although referrers
    are untagged; and a manifest one of whose referrers keeps a tag or a lock;
  - anything locked (deleteEnabled or writeEnabled false on the tag, manifest, referrer
    or repository), unless --include-locked, which unlocks each just before deleting it
    and says so; a locked repository is unlocked for the purge and locked again.

Filters are Go regular expressions (RE2, no lookahead: use --exclude) that must match
the whole name, as acr purge's do. Durations are Go durations plus days: 30d, 1d12h,
90m; --ago 0 means any age, and a value too large to represent (100000000d) means
nothing is old enough, never everything.

Ages, order and locks come from ACR's /acr/v1 metadata, page by page; manifests are
read only when untagged candidates may have a subject (OCI types) and for indexes
whose metadata lists no children. Other registries report no ages: there only
--ago 0 without --keep or --untagged works, deleting matching tags by name.

Tags go first, oldest first, then untagged manifests, indexes before their children,
with at most --concurrency requests in flight. Each object is read again just before
it is deleted and skipped if it changed since planning. --max-deletes and --timeout
bound a run; what remains is reported, and the next run continues from there.

--dry-run prints exactly the lines the real run prints for what it deletes, and
deletes nothing. Output: one line per deleted item on stdout, KIND<TAB>REF<TAB>REASON;
notes, unlocks, skips and the summary on stderr. --output json prints one JSON
document with the deleted items and their reasons, and what was kept, skipped,
failed or remains.

Exit status: 0 when everything planned was done or --max-deletes stopped the run;
1 when a deletion failed or --timeout or an interrupt stopped it; 2 on a usage error.

Credentials: --username and --password (--password - reads it from stdin), else those
that docker login stored for the host. Loopback hosts are reached over plain http.`

const purgeExample = `  # What would go: tags of app/* older than 30 days, keeping the 5 newest
  acrctl purge myregistry.azurecr.io --filter 'app/.*:.*' --ago 30d --keep 5 --dry-run

  # Delete them, and the images they leave untagged, except release tags
  acrctl purge myregistry.azurecr.io --filter 'app/.*:.*' --exclude '.*:release-.*' --ago 30d --keep 5 --untagged

  # Untagged manifests older than a week, at most 1000 deletes per run, as JSON
  acrctl purge myregistry.azurecr.io --filter 'app/.*:' --ago 7d --untagged-only --max-deletes 1000 --output json`

// purgeFlags holds the flags of acrctl purge.
type purgeFlags struct {
	filters, excludes  []string
	ago, timeout       purgeDuration
	keep               int
	untagged           bool
	untaggedOnly       bool
	unreferencedOnly   bool
	includeLocked      bool
	dryRun             bool
	concurrency        int
	maxDeletes         int
	output             string
	username, password string
}

// purgeDuration is a flag value in purge.ParseDuration's syntax.
type purgeDuration struct{ d time.Duration }

func (p *purgeDuration) String() string {
	if p.d == 0 {
		return "0" // which pflag's help treats as unset
	}
	return purge.FormatDuration(p.d)
}
func (p *purgeDuration) Type() string { return "duration" }
func (p *purgeDuration) Set(s string) error {
	d, err := purge.ParseDuration(s)
	if err != nil {
		return err
	}
	p.d = d
	return nil
}

// newPurgeCmd returns the purge command; the root command registers it.
func newPurgeCmd() *cobra.Command {
	f := &purgeFlags{}
	cmd := &cobra.Command{
		Use:     "purge HOST --filter REPO_REGEX:TAG_REGEX --ago DURATION [flags]",
		Short:   "Delete old tags and untagged manifests by pattern, age and count",
		Long:    purgeLong,
		Example: purgeExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("purge takes one registry host, such as myregistry.azurecr.io, and got %d arguments (see 'acrctl purge --help')", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runPurge(cmd, args[0], f) },
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&f.filters, "filter", nil, "REPO_REGEX:TAG_REGEX of the tags to purge; repeatable (required)")
	fs.StringArrayVar(&f.excludes, "exclude", nil, "REPO_REGEX:TAG_REGEX of tags never to delete; repeatable")
	fs.Var(&f.ago, "ago", "delete what was last updated longer ago than this, such as 30d or 1d12h; 0 for any age (required)")
	fs.IntVar(&f.keep, "keep", 0, "keep this many newest matching tags per repository, whatever their age")
	fs.BoolVar(&f.untagged, "untagged", false, "also delete manifests left without tags, older than --ago")
	fs.BoolVar(&f.untaggedOnly, "untagged-only", false, "delete only manifests without tags older than --ago, no tag")
	fs.BoolVar(&f.unreferencedOnly, "unreferenced-only", false, "with --untagged or --untagged-only: keep manifests that have referrers (signed or attested images)")
	fs.BoolVar(&f.includeLocked, "include-locked", false, "unlock and delete locked tags, manifests and repositories too")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be deleted and delete nothing")
	fs.IntVar(&f.concurrency, "concurrency", purge.DefaultConcurrency, fmt.Sprintf("requests in flight, 1 to %d", purge.MaxConcurrency))
	fs.IntVar(&f.maxDeletes, "max-deletes", 0, "stop after this many deletes (tags and manifests); 0 for no bound")
	fs.Var(&f.timeout, "timeout", "stop after this long, such as 30m; 0 for no bound")
	fs.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fs.StringVarP(&f.username, "username", "u", "", "user name for the registry")
	fs.StringVarP(&f.password, "password", "p", "", "password or token for the registry; - reads it from stdin")
	// Required and exclusive flags are checked in options, so that their
	// errors are usage errors (exit 2) with purge's own wording.
	return cmd
}

// options turns the flags into purge options.
func (f *purgeFlags) options(cmd *cobra.Command) (*purge.Options, error) {
	switch {
	case len(f.filters) == 0:
		return nil, usageError{errors.New("--filter is required: name the tags to purge as REPO_REGEX:TAG_REGEX, such as 'app/.*:.*'")}
	case !cmd.Flags().Changed("ago"):
		return nil, usageError{errors.New("--ago is required: the age to delete from, such as 30d; 0 for any age")}
	case f.unreferencedOnly && !f.untagged && !f.untaggedOnly:
		return nil, usageError{errors.New("--unreferenced-only limits the purge of untagged manifests: add --untagged or --untagged-only")}
	case f.untagged && f.untaggedOnly:
		return nil, usageError{errors.New("--untagged and --untagged-only exclude each other: --untagged deletes tags and the manifests they leave untagged, --untagged-only only manifests untagged already")}
	}
	o := &purge.Options{Ago: f.ago.d, Keep: f.keep, Untagged: f.untagged, UntaggedOnly: f.untaggedOnly, UnreferencedOnly: f.unreferencedOnly,
		IncludeLocked: f.includeLocked, DryRun: f.dryRun, Concurrency: f.concurrency, MaxDeletes: f.maxDeletes}
	for _, s := range f.filters {
		flt, err := purge.ParseFilter(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--filter: %w", err)}
		}
		o.Filters = append(o.Filters, flt)
	}
	for _, s := range f.excludes {
		flt, err := purge.ParseFilter(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--exclude: %w", err)}
		}
		o.Excludes = append(o.Excludes, flt)
	}
	switch {
	case f.keep < 0:
		return nil, usageError{fmt.Errorf("--keep %d: want 0 or more", f.keep)}
	case f.maxDeletes < 0:
		return nil, usageError{fmt.Errorf("--max-deletes %d: want 0 (no bound) or more", f.maxDeletes)}
	case f.concurrency < 1 || f.concurrency > purge.MaxConcurrency:
		return nil, usageError{fmt.Errorf("--concurrency %d: want 1 to %d", f.concurrency, purge.MaxConcurrency)}
	case f.output != "text" && f.output != "json":
		return nil, usageError{fmt.Errorf("--output %q: want text or json", f.output)}
	}
	return o, nil
}

// purgeClient connects to host with --username and --password, or with
// what docker login stored. It is local to purge until the commands share
// one connection helper.
func purgeClient(cmd *cobra.Command, host, username, password string) (*acr.Client, error) {
	if password == "-" {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	var cred acr.Credential
	switch {
	case username != "" && password != "":
		cred = acr.BasicCredential(username, password)
	case username != "" || password != "":
		return nil, usageError{errors.New("--username and --password go together")}
	default:
		c, err := acr.DockerConfigCredential("")
		if err != nil {
			return nil, err
		}
		cred = c
	}
	return acr.NewClient(host, cred, &acr.ClientOptions{UserAgent: "acrctl"})
}

func runPurge(cmd *cobra.Command, host string, f *purgeFlags) error {
	opts, err := f.options(cmd)
	if err != nil {
		return err
	}
	client, err := purgeClient(cmd, host, f.username, f.password)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if f.timeout.d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout.d)
		defer cancel()
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	text := f.output == "text"
	flush := func() {}
	if text {
		// A real run prints each deletion as it is done. A dry run plans
		// everything at once and may print tens of thousands of lines, so
		// they are buffered (20,000 lines were 20,000 writes); the buffer is
		// flushed before anything goes to stderr, keeping the two in order.
		out := bufio.NewWriterSize(stdout, 64<<10)
		opts.Progress = func(ev purge.Event) {
			if !ev.DryRun || ev.Action != purge.ActionDeleted {
				defer out.Flush()
				out.Flush()
			}
			printPurgeEvent(out, stderr, ev)
		}
		flush = func() { out.Flush() }
	}
	res, runErr := purge.Run(ctx, client, opts)
	flush()
	if res != nil {
		// Also after an error: what was done before it must be reported.
		if text {
			printPurgeSummary(stderr, client.Host(), res)
		} else {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(struct {
				Registry string `json:"registry"`
				*purge.Result
			}{client.Host(), res}); err != nil {
				return err
			}
		}
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return purgeStopError(ctx, f, runErr)
		}
		return runErr
	}
	switch {
	case len(res.Failed) > 0:
		return fmt.Errorf("%d of the planned deletions failed (listed %s)", len(res.Failed), purgeWhere(text))
	case res.Stop != nil && !errors.Is(res.Stop, purge.ErrMaxDeletes):
		return purgeStopError(ctx, f, res.Stop)
	}
	return nil
}

func purgeWhere(text bool) string {
	if text {
		return "above"
	}
	return `under "failed"`
}

// purgeStopError explains a run that the timeout or an interrupt stopped.
func purgeStopError(ctx context.Context, f *purgeFlags, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && f.timeout.d > 0 {
		return fmt.Errorf("stopped by --timeout %s before the purge was done; run it again to continue", purge.FormatDuration(f.timeout.d))
	}
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return errors.New("interrupted before the purge was done; run it again to continue")
	}
	return err
}

func printPurgeEvent(stdout, stderr io.Writer, ev purge.Event) {
	it := ev.Item
	switch ev.Action {
	case purge.ActionDeleted:
		// The same line in a dry run and a real run, so that the two diff
		// cleanly.
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", it.Kind, it.Ref(), it.Reason)
	case purge.ActionUnlocked:
		verb := "unlocked"
		if ev.DryRun {
			verb = "would unlock"
		}
		fmt.Fprintf(stderr, "%s %s %s: %s\n", verb, it.Kind, it.Ref(), ev.Detail)
	case purge.ActionRelocked:
		fmt.Fprintf(stderr, "%s: %s\n", it.Ref(), ev.Detail)
	case purge.ActionSkipped:
		fmt.Fprintf(stderr, "skipped %s %s: %s\n", it.Kind, it.Ref(), ev.Detail)
	case purge.ActionFailed:
		fmt.Fprintf(stderr, "failed %s %s: %s\n", it.Kind, it.Ref(), ev.Detail)
	}
}

func printPurgeSummary(w io.Writer, host string, res *purge.Result) {
	for _, it := range res.Kept {
		fmt.Fprintf(w, "kept %s %s: %s\n", it.Kind, it.Ref(), it.Reason)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	count := map[purge.Kind]int{}
	for _, it := range res.Deleted {
		count[it.Kind]++
	}
	verb := "deleted"
	if res.DryRun {
		verb = "would delete"
	}
	fmt.Fprintf(w, "%s: %s %s, %s and %s in %s examined\n", host, verb, purgePlural(count[purge.KindTag], "tag"),
		purgePlural(count[purge.KindManifest], "untagged manifest"), purgePlural(count[purge.KindReferrer], "referrer"),
		purgePlural(len(res.Repositories), "repository"))
	if len(res.Skipped) > 0 {
		fmt.Fprintf(w, "skipped %s that changed since planning or were gone\n", purgePlural(len(res.Skipped), "item"))
	}
	if res.Stop != nil {
		why := "stopped"
		if errors.Is(res.Stop, purge.ErrMaxDeletes) {
			why = "stopped at --max-deletes"
		}
		rest := purgePlural(len(res.Remaining), "planned deletion") + " remain"
		if n := len(res.NotExamined); n > 0 {
			rest += fmt.Sprintf(", and %s not examined (%s)", purgePlural(n, "repository"), strings.Join(purgeFirstN(res.NotExamined, 5), ", "))
		}
		fmt.Fprintf(w, "%s: %s; run again to continue\n", why, rest)
	}
}

func purgePlural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func purgeFirstN(ss []string, n int) []string {
	if len(ss) <= n {
		return ss
	}
	return append(ss[:n:n], fmt.Sprintf("%d more", len(ss)-n))
}
