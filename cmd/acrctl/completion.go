package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print a script that makes the shell complete acrctl's commands, flags, flag values
and registry hosts (from docker's config.json). Load it in the current shell, or install
it where the shell looks for completions.`,
		Example: `  source <(acrctl completion bash)
  acrctl completion bash > /etc/bash_completion.d/acrctl
  acrctl completion zsh > "${fpath[1]}/_acrctl"
  acrctl completion fish > ~/.config/fish/completions/acrctl.fish`,
		ValidArgs:             []string{"bash", "zsh", "fish"},
		DisableFlagsInUseLine: true,
		Args:                  exactArgs(1, "a shell: bash, zsh or fish"),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, w := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			}
			return usageError{fmt.Errorf("unknown shell %q: want bash, zsh or fish", args[0])}
		},
	}
}
