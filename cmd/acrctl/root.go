package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// usageError marks errors in how the command was called; they exit with 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run executes acrctl with args and returns the exit code: 0 on success, 1
// on failure, 2 on a usage error, 3 when the registry holds no such
// repository, tag, manifest or blob as the command names (an exists
// command's "no" among them). Tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(hoistFlags(root, args))
	open := &openSessions{}
	tp, stopTracing := tracingFromEnv(stderr)
	defer stopTracing()
	ctx = context.WithValue(ctx, tracingKey{}, tp)
	cmd, err := root.ExecuteContextC(context.WithValue(ctx, sessionsKey{}, open))
	// An interrupted push leaves upload sessions open; their cancels run
	// in the background, given a moment before the process exits.
	open.drain(3 * time.Second)
	if err == nil {
		return 0
	}
	err = cobraError(cmd, err)
	// The message may quote the registry's own words: printable keeps
	// them from steering the terminal.
	fmt.Fprintln(stderr, "acrctl: "+printable(strings.ReplaceAll(dropPackagePrefixes(oneLine(err.Error())), "\t", " ")))
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return 2
	}
	var ae absentError
	if errors.As(err, &ae) {
		return 3
	}
	return 1
}

// absentError is the answer "no" of an exists command, and the error of any
// command whose repository, tag, manifest or blob the registry does not
// hold: it exits with 3, as az exits for a missing resource (az acr
// repository show, az acr manifest show), so that a script can tell "not
// there" from a failure to ask (1).
type absentError struct{ err error }

func (e absentError) Error() string { return e.err.Error() }
func (e absentError) Unwrap() error { return e.err }

// cobraError rewrites cobra's own usage errors in acrctl's one-line style,
// with the fix: its texts are multi-line or name flag groups in brackets.
func cobraError(cmd *cobra.Command, err error) error {
	s := strings.TrimSpace(err.Error())
	help := "see '" + cmd.CommandPath() + " --help'"
	var n, m int
	switch {
	case strings.HasPrefix(s, "unknown command "):
		first, rest, _ := strings.Cut(s, "\n")
		var sugg []string
		for _, l := range strings.Split(rest, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Did you mean") {
				sugg = append(sugg, `"`+l+`"`)
			}
		}
		if len(sugg) == 0 {
			// cobra suggests only under the root; do it under groups too.
			var typed string
			if cmd.SuggestionsMinimumDistance <= 0 {
				cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on the root
			}
			if _, err := fmt.Sscanf(first, "unknown command %q", &typed); err == nil {
				for _, sg := range cmd.SuggestionsFor(typed) {
					sugg = append(sugg, `"`+sg+`"`)
				}
			}
		}
		msg, see, _ := strings.Cut(first, " (see ")
		if len(sugg) > 0 {
			msg += ": did you mean " + strings.Join(sugg, " or ") + "?"
		}
		if see != "" {
			msg += " (see " + see
		}
		if !strings.Contains(msg, "--help") {
			msg += " (" + help + ")"
		}
		return usageError{errors.New(msg)}
	case strings.HasPrefix(s, "if any flags in the group") && strings.Contains(s, "none of the others can be"):
		return usageError{fmt.Errorf("%s cannot be used together: pick one (%s)", flagGroup(s), help)}
	case strings.HasPrefix(s, "if any flags in the group") && strings.Contains(s, "must all be set"):
		return usageError{fmt.Errorf("%s go together: give all of them (%s)", flagGroup(s), help)}
	case strings.HasPrefix(s, "at least one of the flags in the group"):
		return usageError{fmt.Errorf("give one of %s (%s)", strings.Replace(flagGroup(s), " and ", " or ", 1), help)}
	}
	var val, flag, why string
	if k, _ := fmt.Sscanf(s, "invalid argument %q for %q flag: ", &val, &flag); k == 2 {
		_, why, _ = strings.Cut(s, " flag: ")
		name := flag
		if i := strings.LastIndex(flag, "--"); i >= 0 {
			name = flag[i:]
		}
		why = strings.TrimSuffix(why, " ("+help+")")
		return usageError{fmt.Errorf("%s %q: %s (%s)", name, val, why, help)}
	}
	usage := strings.TrimSuffix(strings.TrimSpace(cmd.UseLine()), " [flags]")
	if k, _ := fmt.Sscanf(s, "requires at least %d arg(s), only received %d", &n, &m); k == 2 {
		return usageError{fmt.Errorf("%s needs at least %d arguments, got %d; usage: %s (%s)", cmd.CommandPath(), n, m, usage, help)}
	}
	if k, _ := fmt.Sscanf(s, "accepts %d arg(s), received %d", &n, &m); k == 2 {
		return usageError{fmt.Errorf("%s takes %d arguments, got %d; usage: %s (%s)", cmd.CommandPath(), n, m, usage, help)}
	}
	if k, _ := fmt.Sscanf(s, "accepts at most %d arg(s), received %d", &n, &m); k == 2 {
		return usageError{fmt.Errorf("%s takes at most %d arguments, got %d; usage: %s (%s)", cmd.CommandPath(), n, m, usage, help)}
	}
	return err
}

// flagGroup turns cobra's "[data memory]" into "--data and --memory".
func flagGroup(s string) string {
	_, rest, ok := strings.Cut(s, "[")
	names, _, ok2 := strings.Cut(rest, "]")
	if !ok || !ok2 {
		return "these flags"
	}
	fs := strings.Fields(names)
	for i := range fs {
		fs[i] = "--" + fs[i]
	}
	if len(fs) <= 2 {
		return strings.Join(fs, " and ")
	}
	return strings.Join(fs[:len(fs)-1], ", ") + " and " + fs[len(fs)-1]
}

// isCobraUsage recognizes cobra's own argument and flag errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "required flag(s)", "requires at least", "requires at most", "if any flags in the group"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// hoistFlags moves flags given before the subcommand to after it, so that
// "acrctl -v tag list HOST/REPO" works as in crane, regctl, docker and
// kubectl; a flag the subcommand does not define is then reported by it.
func hoistFlags(root *cobra.Command, args []string) []string {
	i := 0
	var lead []string
	for i < len(args) && strings.HasPrefix(args[i], "-") && len(args[i]) > 1 && args[i] != "--" {
		lead = append(lead, args[i])
		i++
		if !strings.Contains(lead[len(lead)-1], "=") && i < len(args) && takesValue(lead[len(lead)-1]) {
			lead = append(lead, args[i])
			i++
		}
	}
	if len(lead) == 0 || lead[0] == "-h" || lead[0] == "--help" || lead[0] == "--version" {
		return args
	}
	rest := args[i:]
	cmd, _, err := root.Find(rest)
	if err != nil || cmd == root {
		return args
	}
	depth := len(strings.Fields(cmd.CommandPath())) - 1
	if depth > len(rest) {
		return args
	}
	out := append([]string{}, rest[:depth]...)
	out = append(out, lead...)
	return append(out, rest[depth:]...)
}

// takesValue reports whether a flag given before the subcommand takes a
// value: the connection and output flags that do.
func takesValue(flag string) bool {
	switch strings.TrimLeft(flag, "-") {
	case "u", "username", "p", "password", "ca-file", "registry-config", "output", "o":
		return true
	}
	return false
}

// packagePrefixes are the "pkg: " prefixes the library's packages put on
// their errors, which mean nothing to a user of acrctl.
var packagePrefixes = []string{"acr: ", "transfer: ", "transport: ", "purge: ", "dockerconfig: ", "emulator: ", "store: "}

// dropPackagePrefixes removes the library's package prefixes where they
// start a message or one of its ": "-separated parts.
func dropPackagePrefixes(s string) string {
	for changed := true; changed; {
		changed = false
		for _, p := range packagePrefixes {
			if t, ok := strings.CutPrefix(s, p); ok {
				s, changed = t, true
			}
			if strings.Contains(s, ": "+p) {
				s, changed = strings.ReplaceAll(s, ": "+p, ": "), true
			}
		}
	}
	return s
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "acrctl",
		Short: "Manage Azure Container Registry and OCI registries, or serve a local one",
		Long: `Manage Azure Container Registry and any OCI registry: repositories, tags, manifests and
blobs, with ACR's lock flags and metadata; or serve a local ACR-compatible registry.

Exit codes: 0 done, 1 failed, 2 usage error, 3 the registry holds no such repository,
tag, manifest or blob as the command names (as az acr repository show exits), 130 or
143 interrupted (Ctrl-C, SIGTERM).

New here? 'acrctl quickstart' starts a local registry and tours the client library.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	// Without a shorthand: -v means --verbose in every subcommand.
	root.Flags().Bool("version", false, "print acrctl's version, VCS revision and Go version")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w%s (see '%s --help')", err, azFlagHint(err), c.CommandPath())}
	})
	root.CompletionOptions.DisableDefaultCmd = true // completion.go restricts it to bash, zsh and fish
	root.AddCommand(newQuickstartCmd(), newRepoCmd(), newTagCmd(), newManifestCmd(), newBlobCmd(),
		newLoginCmd(), newLogoutCmd(), newCompletionCmd(), newServeCmd(), newGCCmd(),
		newPushCmd(), newPullCmd(), newCopyCmd(), newAttachCmd(), newPurgeCmd(), newConsoleCmd(), newVersionCmd())
	return root
}

// azFlags maps the flags of az acr that acrctl spells differently to what
// acrctl takes instead, for scripts moving from az acr.
var azFlags = map[string]string{
	"--orderby":    "acrctl sorts with --order time-desc|time-asc",
	"--repository": "acrctl takes the repository in the reference, HOST/REPO",
	"--image":      "acrctl takes the image as the reference, HOST/REPO:TAG or HOST/REPO@DIGEST",
	"--registry":   "acrctl takes the registry as the reference's HOST",
	"--name":       "acrctl takes the registry as the reference's HOST",
	"--detail":     "acrctl prints every detail with -o json",
	"--query":      "acrctl has no JMESPath: pipe -o json to jq",
}

// azFlagHint returns, for an unknown flag that az acr takes, what acrctl
// takes instead, or "".
func azFlagHint(err error) string {
	flag, ok := strings.CutPrefix(err.Error(), "unknown flag: ")
	if !ok {
		return ""
	}
	if alt, ok := azFlags[flag]; ok {
		return ", as az acr spells it: " + alt
	}
	return ""
}
