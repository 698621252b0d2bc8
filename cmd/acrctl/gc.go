package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/spf13/cobra"
)

func newGCCmd() *cobra.Command {
	var dir string
	var dryRun bool
	var uploadAge time.Duration
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove blobs that no manifest references from a stopped local registry",
		Long: `Remove blobs that no manifest references from the data directory of a local registry,
soft-deleted manifests and tags whose retention ran out, and upload sessions older than
--upload-age (abandoned by clients that died mid-push). Run it while the registry is
stopped: the data directory's database admits one process.`,
		Example: `  acrctl gc --data ./registry --dry-run
  acrctl gc --data ./registry
  acrctl gc --data ./registry --upload-age 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := defaultDataDir()
				if err != nil {
					return err
				}
				dir = d
			}
			if uploadAge < 0 {
				return usageError{fmt.Errorf("--upload-age %v: want a duration of 0 or more, such as 24h", uploadAge)}
			}
			if _, err := os.Stat(filepath.Join(dir, "meta.db")); err != nil {
				return fmt.Errorf("%s is not the data directory of a local registry (it has no meta.db): check --data", dir)
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
			// Sessions are stamped with the real clock.
			cutoff := time.Now().Add(-uploadAge)
			var stale []store.Upload
			for u, err := range s.Uploads(cmd.Context()) {
				if err != nil {
					return err
				}
				if u.StartedAt.Before(cutoff) {
					stale = append(stale, u)
				}
			}
			var bytes int64
			for _, u := range stale {
				if !dryRun {
					if err := s.CancelUpload(cmd.Context(), u.ID); err != nil {
						return fmt.Errorf("remove upload session %s: %w", u.ID, err)
					}
				}
				fmt.Fprintf(out, "upload session %s in %s, started %s, %d bytes\n", u.ID, u.Repo, u.StartedAt.UTC().Format(time.RFC3339), u.Size)
				bytes += u.Size
			}
			fmt.Fprintf(out, "%s %d upload sessions older than %v, %d bytes\n", verb, len(stale), uploadAge, bytes)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory (default: $XDG_DATA_HOME/acrctl/registry)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed and change nothing")
	cmd.Flags().DurationVar(&uploadAge, "upload-age", 24*time.Hour, "remove upload sessions started longer ago than this")
	return cmd
}
