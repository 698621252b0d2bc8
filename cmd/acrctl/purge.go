package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/purge"
	"github.com/spf13/cobra"
)

const purgeLong = `Delete old tags, and optionally untagged manifests, from the repositories of a registry.

What is deleted, in every repository that the repository part of a --filter matches:
  - a tag whose repository and name match a --filter and no --exclude, that was last
    updated before now minus --ago, and that is not among the --keep newest of those
    tags in its repository: as acr purge's --keep, it keeps the latest tags that would
    go, so tags younger than --ago stay and do not count (nor do excluded or locked ones);
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
  - a referrers tag (sha256-HEX, the OCI referrers tag schema), in which registries
    without the referrers API list another manifest's signatures and SBOMs;
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
it is deleted and skipped if it changed since planning, and an untagged manifest also
if an index pushed since then references it. --max-deletes and --timeout
bound a run; what remains is reported, and the next run continues from there.

--dry-run prints exactly the lines the real run prints for what it deletes, and
deletes nothing. On ACR (and acrctl serve) it also asks what the credential's
token grants in each repository: deletions it does not allow (delete; metadata_write
to lift a lock) are reported as "would fail", and the dry run exits 1 as the real run
would; a registry that does not say (Basic credentials, no token) is left to the real
run. Output: one line per deleted item on stdout, KIND<TAB>REF<TAB>REASON;
notes, unlocks, skips and the summary on stderr. --output json prints one JSON
document with the deleted items and their reasons, and what was kept, skipped,
failed or remains. A repository that a filter names literally (app:.*, not a
pattern) and the registry does not hold makes the run exit 3 once the rest is done.

On a registry with soft delete (ACR's soft-delete policy, acrctl serve --soft-delete),
deletions can be restored until the retention runs out: the summary, and the report of
--output json under "recovery", say whether the registry lists the run's deletions as
restorable and until when (ACR does not say until when: its retention days are in the
registry's policy). acrctl purge --undo REPORT.json restores exactly what the run of
that report deleted: untagged manifests as they were, then each tag onto the digest it
pointed at. A tag pushed again onto another manifest since is left alone and reported,
unless --force moves it back. What is back already is skipped, so --undo can run again.
The host is the report's, unless given; REPORT - reads the report from stdin.

Exit status: 0 when everything planned was done or --max-deletes stopped the run;
1 when a deletion failed or --timeout stopped it; 2 on a usage error; 3 when a
repository a filter names literally does not exist; 130 (Ctrl-C) or 143 (SIGTERM)
when interrupted.
With --undo: 0 when every deletion is back, 1 when some could not be restored.

Connection and credentials as for every command: --username with --password or
--password-stdin (--password - also reads stdin), else what docker login, acrctl login or
az acr login stored for the host, else Entra ID for *.azurecr.io hosts; loopback hosts
use plain http unless --ca-file or --insecure asks for https.`

const purgeExample = `  # What would go: tags of app/* older than 30 days, keeping the 5 newest
  acrctl purge myregistry.azurecr.io --filter 'app/.*:.*' --ago 30d --keep 5 --dry-run

  # Delete them, and the images they leave untagged, except release tags
  acrctl purge myregistry.azurecr.io --filter 'app/.*:.*' --exclude '.*:release-.*' --ago 30d --keep 5 --untagged

  # Untagged manifests older than a week, at most 1000 deletes per run, as JSON
  acrctl purge myregistry.azurecr.io --filter 'app/.*:' --ago 7d --untagged-only --max-deletes 1000 --output json

  # Keep the report of a run, and undo that run (on a registry with soft delete)
  acrctl purge myregistry.azurecr.io --filter 'app/.*:.*' --ago 30d --untagged --output json > report.json
  acrctl purge --undo report.json`

// purgeFlags holds the flags of acrctl purge.
type purgeFlags struct {
	filters, excludes []string
	ago, timeout      purgeDuration
	keep              int
	untagged          bool
	untaggedOnly      bool
	unreferencedOnly  bool
	includeLocked     bool
	dryRun            bool
	concurrency       int
	maxDeletes        int
	output            string
	remote            remoteOptions
	undo              string
	force             bool
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
		Use:     "purge HOST --filter REPO_REGEX:TAG_REGEX --ago DURATION [flags]\n  acrctl purge [HOST] --undo REPORT.json [--force]",
		Short:   "Delete old tags and untagged manifests by pattern, age and count",
		Long:    purgeLong,
		Example: purgeExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.undo != "" {
				if len(args) > 1 {
					return usageError{fmt.Errorf("purge --undo takes at most one registry host (the report names it), and got %d arguments", len(args))}
				}
				return nil
			}
			if len(args) != 1 {
				return usageError{fmt.Errorf("purge takes one registry host, such as myregistry.azurecr.io, and got %d arguments (see 'acrctl purge --help')", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.undo != "" {
				return runPurgeUndo(cmd, args, f)
			}
			return runPurge(cmd, args[0], f)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&f.filters, "filter", nil, "REPO_REGEX:TAG_REGEX of the tags to purge; repeatable (required)")
	fs.StringArrayVar(&f.excludes, "exclude", nil, "REPO_REGEX:TAG_REGEX of tags never to delete; repeatable")
	fs.Var(&f.ago, "ago", "delete what was last updated longer ago than this, such as 30d or 1d12h; 0 for any age (required)")
	fs.IntVar(&f.keep, "keep", 0, "keep this many of the newest tags that would go, per repository (as acr purge's --keep)")
	fs.BoolVar(&f.untagged, "untagged", false, "also delete manifests left without tags, older than --ago")
	fs.BoolVar(&f.untaggedOnly, "untagged-only", false, "delete only manifests without tags older than --ago, no tag")
	fs.BoolVar(&f.unreferencedOnly, "unreferenced-only", false, "with --untagged or --untagged-only: keep manifests that have referrers (signed or attested images)")
	fs.BoolVar(&f.includeLocked, "include-locked", false, "unlock and delete locked tags, manifests and repositories too")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be deleted and delete nothing")
	fs.IntVar(&f.concurrency, "concurrency", purge.DefaultConcurrency, fmt.Sprintf("requests in flight, 1 to %d", purge.MaxConcurrency))
	fs.IntVar(&f.maxDeletes, "max-deletes", 0, "stop after this many deletes (tags and manifests); 0 for no bound")
	fs.Var(&f.timeout, "timeout", "stop after this long, such as 30m; 0 for no bound")
	fs.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	f.remote.addFlags(fs)
	fs.StringVar(&f.undo, "undo", "", "restore what the run of this --output json report deleted (soft delete); - reads it from stdin")
	fs.BoolVar(&f.force, "force", false, "with --undo: move a tag back even when it now points at another manifest")
	// Required and exclusive flags are checked in options, so that their
	// errors are usage errors (exit 2) with purge's own wording.
	return cmd
}

// options turns the flags into purge options.
func (f *purgeFlags) options(cmd *cobra.Command) (*purge.Options, error) {
	switch {
	case f.force:
		return nil, usageError{errors.New("--force goes with --undo: it moves restored tags back onto their manifests")}
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

// purgeSession connects to host as every other command does: the same
// connection and credential flags, docker's config, Entra ID. A --password
// of "-" reads stdin, as purge has always allowed.
func purgeSession(cmd *cobra.Command, host string, f *purgeFlags) (*session, error) {
	if f.remote.password == "-" {
		f.remote.password, f.remote.passwordStdin = "", true
	}
	return f.remote.connect(cmd, host)
}

func runPurge(cmd *cobra.Command, host string, f *purgeFlags) error {
	opts, err := f.options(cmd)
	if err != nil {
		return err
	}
	s, err := purgeSession(cmd, host, f)
	if err != nil {
		return err
	}
	client := s.client
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
	// Also after an error: what was done before it must be reported; a run
	// that failed before examining anything has nothing to report.
	if res != nil && (runErr == nil || len(res.Repositories) > 0 || len(res.Deleted) > 0) {
		if text {
			printPurgeSummary(stderr, client.Host(), res)
		} else {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(purgeReport{client.Host(), res}); err != nil {
				return err
			}
		}
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return purgeStopError(ctx, f, runErr)
		}
		return s.explain(runErr)
	}
	switch {
	case len(res.Failed) > 0:
		repos := 0
		for _, f := range res.Failed {
			if f.Item.Kind == purge.KindRepository {
				repos++
			}
		}
		var parts []string
		if repos > 0 {
			parts = append(parts, purgePlural(repos, "repository")+" could not be examined")
		}
		if n := len(res.Failed) - repos; n > 0 && res.DryRun {
			parts = append(parts, fmt.Sprintf("the registry would refuse %d of the planned deletions", n))
		} else if n > 0 {
			parts = append(parts, fmt.Sprintf("%d of the planned deletions failed", n))
		}
		return fmt.Errorf("%s (listed %s)", strings.Join(parts, " and "), purgeWhere(text))
	case res.Stop != nil && !errors.Is(res.Stop, purge.ErrMaxDeletes):
		return purgeStopError(ctx, f, res.Stop)
	case len(res.Missing) > 0:
		return absentError{fmt.Errorf("%s holds no repository %s, which --filter names; fix: check the name (acrctl repo list %s lists them)",
			client.Host(), strings.Join(res.Missing, ", "), client.Host())}
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
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", it.Kind, printable(it.Ref()), printable(it.Reason))
	case purge.ActionUnlocked:
		verb := "unlocked"
		if ev.DryRun {
			verb = "would unlock"
		}
		fmt.Fprintf(stderr, "%s %s %s: %s\n", verb, it.Kind, printable(it.Ref()), printable(ev.Detail))
	case purge.ActionRelocked:
		fmt.Fprintf(stderr, "%s: %s\n", printable(it.Ref()), printable(ev.Detail))
	case purge.ActionSkipped:
		fmt.Fprintf(stderr, "skipped %s %s: %s\n", it.Kind, printable(it.Ref()), printable(ev.Detail))
	case purge.ActionFailed:
		verb := "failed"
		if ev.DryRun && it.Kind != purge.KindRepository {
			verb = "would fail"
		}
		fmt.Fprintf(stderr, "%s %s %s: %s\n", verb, it.Kind, printable(it.Ref()), printable(ev.Detail))
	}
}

func printPurgeSummary(w io.Writer, host string, res *purge.Result) {
	for _, it := range res.Kept {
		fmt.Fprintf(w, "kept %s %s: %s\n", it.Kind, printable(it.Ref()), printable(it.Reason))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", printable(n))
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
	if rc := res.Recovery; rc != nil {
		how := ""
		if rc.Restorable > 0 {
			how = " (acrctl manifest restore brings each back; acrctl purge --undo needs the report of --output json)"
		}
		fmt.Fprintf(w, "restore: %s%s\n", printable(rc.Detail), how)
	}
	if res.Stop != nil {
		why := "stopped"
		if errors.Is(res.Stop, purge.ErrMaxDeletes) {
			why = "stopped at --max-deletes"
		}
		rest := purgePlural(len(res.Remaining), "planned deletion") + " remain"
		if n := len(res.NotExamined); n > 0 {
			rest += fmt.Sprintf(", and %s not examined (%s)", purgePlural(n, "repository"), printable(strings.Join(purgeFirstN(res.NotExamined, 5), ", ")))
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

// purgeReport is the --output json document of a run: the Result and the
// registry it ran against.
type purgeReport struct {
	Registry string `json:"registry"`
	*purge.Result
}

// runPurgeUndo restores what the run of the --undo report deleted.
func runPurgeUndo(cmd *cobra.Command, args []string, f *purgeFlags) error {
	fs := cmd.Flags()
	for _, name := range []string{"filter", "exclude", "ago", "keep", "untagged", "untagged-only", "unreferenced-only",
		"include-locked", "dry-run", "max-deletes"} {
		if fs.Changed(name) {
			return usageError{fmt.Errorf("--undo restores what the run of its report deleted and takes no --%s", name)}
		}
	}
	switch {
	case f.concurrency < 1 || f.concurrency > purge.MaxConcurrency:
		return usageError{fmt.Errorf("--concurrency %d: want 1 to %d", f.concurrency, purge.MaxConcurrency)}
	case f.output != "text" && f.output != "json":
		return usageError{fmt.Errorf("--output %q: want text or json", f.output)}
	case f.undo == "-" && (f.remote.password == "-" || f.remote.passwordStdin):
		return usageError{errors.New("--undo - and --password - both read stdin: give one of them another way")}
	}
	rep, err := readPurgeReport(cmd, f.undo)
	if err != nil {
		return err
	}
	host := rep.Registry
	if len(args) == 1 && args[0] != host {
		return usageError{fmt.Errorf("%s is the report of a run against %s, not %s: give no host to restore into %s", f.undo, rep.Registry, args[0], rep.Registry)}
	}
	s, err := purgeSession(cmd, host, f)
	if err != nil {
		return err
	}
	client := s.client
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
	opts := &purge.UndoOptions{Force: f.force, Concurrency: f.concurrency}
	if text {
		opts.Progress = func(ev purge.Event) { printUndoEvent(stdout, stderr, ev) }
	}
	res, err := purge.Undo(ctx, client, rep.Result, opts)
	if err != nil {
		return s.explain(err)
	}
	if text {
		printUndoSummary(stderr, client.Host(), res)
	} else {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Registry string `json:"registry"`
			*purge.UndoResult
		}{client.Host(), res}); err != nil {
			return err
		}
	}
	switch {
	case res.Stop != nil:
		if errors.Is(res.Stop, context.DeadlineExceeded) && f.timeout.d > 0 {
			return fmt.Errorf("stopped by --timeout %s before the undo was done; run it again to continue", purge.FormatDuration(f.timeout.d))
		}
		return errors.New("interrupted before the undo was done; run it again to continue")
	case len(res.Failed) > 0:
		return fmt.Errorf("%s could not be restored (listed %s)", purgePlural(len(res.Failed), "deletion"), purgeWhere(text))
	}
	return nil
}

// readPurgeReport reads and checks the report of a run: a file, or stdin
// for "-".
func readPurgeReport(cmd *cobra.Command, name string) (*purgeReport, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("%w; fix: give the file that acrctl purge --output json wrote for the run to undo (or - to read it from stdin)", err)
		}
		defer file.Close()
		r = file
	}
	rep := &purgeReport{Result: &purge.Result{}}
	if err := json.NewDecoder(r).Decode(rep); err != nil {
		return nil, fmt.Errorf("%s is not the --output json report of acrctl purge: %w", name, err)
	}
	switch {
	case rep.Registry == "" || rep.Deleted == nil:
		return nil, fmt.Errorf("%s is not the --output json report of acrctl purge: it has no registry or no deleted list", name)
	case rep.DryRun:
		return nil, fmt.Errorf("%s is the report of a dry run, which deleted nothing: there is nothing to undo", name)
	}
	return rep, nil
}

func printUndoEvent(stdout, stderr io.Writer, ev purge.Event) {
	it := ev.Item
	switch ev.Action {
	case purge.ActionRestored:
		what := "restored"
		if it.Kind == purge.KindTag {
			what = "restored onto " + printable(it.Digest.String())
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", it.Kind, printable(it.Ref()), what)
	case purge.ActionSkipped:
		fmt.Fprintf(stderr, "skipped %s %s: %s\n", it.Kind, printable(it.Ref()), printable(ev.Detail))
	case purge.ActionFailed:
		detail := ev.Detail
		if errors.Is(ev.Err, acr.ErrTagInUse) {
			detail += "; --force moves it back"
		}
		fmt.Fprintf(stderr, "not restored %s %s: %s\n", it.Kind, printable(it.Ref()), printable(detail))
	}
}

func printUndoSummary(w io.Writer, host string, res *purge.UndoResult) {
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", printable(n))
	}
	count := map[purge.Kind]int{}
	for _, it := range res.Restored {
		count[it.Kind]++
	}
	fmt.Fprintf(w, "%s: restored %s, %s and %s", host, purgePlural(count[purge.KindTag], "tag"),
		purgePlural(count[purge.KindManifest], "untagged manifest"), purgePlural(count[purge.KindReferrer], "referrer"))
	if n := len(res.Skipped); n > 0 {
		fmt.Fprintf(w, "; %d back already", n)
	}
	if n := len(res.Failed); n > 0 {
		fmt.Fprintf(w, "; %s could not be restored", purgePlural(n, "deletion"))
	}
	if n := len(res.Remaining); n > 0 {
		fmt.Fprintf(w, "; %s not attempted", purgePlural(n, "deletion"))
	}
	fmt.Fprintln(w)
}
