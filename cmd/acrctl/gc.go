package main

import (
	"fmt"

	"github.com/acrgo/acr/emulator/store"
	"github.com/spf13/cobra"
)

func newGCCmd() *cobra.Command {
	var dir string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove blobs that no manifest references from a stopped local registry",
		Long: `Remove blobs that no manifest references from the data directory of a local registry.
Run it while the registry is stopped: the data directory's database admits one process.`,
		Example: `  acrctl gc --data ./registry --dry-run
  acrctl gc --data ./registry`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := defaultDataDir()
				if err != nil {
					return err
				}
				dir = d
			}
			s, err := store.OpenDisk(dir, nil)
			if err != nil {
				return fmt.Errorf("open %s (is a registry still serving it? stop it first): %w", dir, err)
			}
			defer s.Close()
			res, err := store.GC(cmd.Context(), s, &store.GCOptions{DryRun: dryRun})
			if err != nil {
				return err
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			out := cmd.OutOrStdout()
			for _, d := range res.Removed {
				fmt.Fprintln(out, d)
			}
			fmt.Fprintf(out, "%s %d blobs, %d bytes\n", verb, len(res.Removed), res.BytesFreed)
			if res.DeletedExpired > 0 {
				fmt.Fprintf(out, "%s %d soft-deleted manifests and tags whose retention ran out\n", verb, res.DeletedExpired)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory (default: $XDG_DATA_HOME/acrctl/registry)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed and change nothing")
	return cmd
}
