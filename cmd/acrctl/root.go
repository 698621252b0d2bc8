package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// usageError marks errors in how the command was called; they exit with 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run executes acrctl with args and returns the exit code: 0 on success, 1
// on failure, 2 on a usage error. Tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(hoistFlags(root, args))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "acrctl: "+oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return 2
	}
	return 1
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

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "acrctl",
		Short: "Manage Azure Container Registry and OCI registries, or serve a local one",
		Long: `Manage Azure Container Registry and any OCI registry: repositories, tags, manifests and
blobs, with ACR's lock flags and metadata; or serve a local ACR-compatible registry.

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
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.CompletionOptions.DisableDefaultCmd = true // completion.go restricts it to bash, zsh and fish
	root.AddCommand(newQuickstartCmd(), newRepoCmd(), newTagCmd(), newManifestCmd(), newBlobCmd(),
		newLoginCmd(), newLogoutCmd(), newCompletionCmd(), newServeCmd(), newGCCmd(),
		newPushCmd(), newPullCmd(), newCopyCmd(), newAttachCmd(), newPurgeCmd(), newVersionCmd())
	return root
}
