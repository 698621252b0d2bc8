package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

func newBlobCmd() *cobra.Command {
	o := &remoteOptions{}
	cmd := newGroup("blob", "Upload, download, check and delete blobs (layers and configs)", o)
	cmd.AddCommand(newBlobPutCmd(o), newBlobGetCmd(o), newBlobExistsCmd(o), newBlobDeleteCmd(o))
	return cmd
}

// blobJSON is a blob in --output json; imageName is the repository, as
// ACR's API names it everywhere else.
type blobJSON struct {
	Registry  string `json:"registry"`
	ImageName string `json:"imageName"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Exists    *bool  `json:"exists,omitempty"`
	File      string `json:"file,omitempty"`
}

func newBlobPutCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var noProgress bool
	cmd := &cobra.Command{
		Use:   "put HOST/REPO FILE|-",
		Short: "Upload a file (or stdin) as a blob and print its digest",
		Long: `Upload a file, or stdin with -, as a blob of the repository and print its digest. The
content is hashed while it streams, in one request when it is small and in resumable
chunks when it is large, so any size works in bounded memory. A progress line shows on a
terminal (not with --no-progress or -v).`,
		Example: `  acrctl blob put myregistry.azurecr.io/hello layer.tar.gz
  tar c ./site | acrctl blob put localhost:5000/site -
  digest=$(acrctl blob put localhost:5000/hello config.json)
  acrctl blob put localhost:5000/hello config.json -o json | jq .size`,
		Args:              exactArgs(2, "a repository HOST/REPO and a FILE (or - for stdin)"),
		ValidArgsFunction: completeRefsThenFiles(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refRepo)
			if err != nil {
				return err
			}
			var r io.Reader
			var label string
			total := int64(-1)
			if args[1] == "-" {
				if o.passwordStdin {
					return usageError{errors.New("stdin cannot carry both the blob (-) and --password-stdin: pass the blob as a file, or log in first with acrctl login")}
				}
				r, label = cmd.InOrStdin(), "stdin"
			} else {
				f, err := os.Open(args[1])
				if err != nil {
					return fmt.Errorf("open the blob's file: %w; fix: check the path (nothing was uploaded)", err)
				}
				defer f.Close()
				fi, err := f.Stat()
				if err != nil {
					return err
				}
				if fi.IsDir() {
					return usageError{fmt.Errorf("%s is a directory; upload a file, or an archive: tar c %s | acrctl blob put %s -", args[1], args[1], ref)}
				}
				r, total, label = f, fi.Size(), filepath.Base(args[1])
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			p := startProgress(cmd.ErrOrStderr(), showProgress(cmd.ErrOrStderr(), noProgress, o.verbose), "Uploading "+label, total)
			desc, err := s.client.UploadBlob(cmd.Context(), ref.Repository, r, &acr.UploadBlobOptions{Progress: p.Set})
			p.Finish(err == nil)
			if err != nil {
				if errors.Is(err, acr.ErrLocked) {
					return lockRefusal(cmd.Context(), s, ref, lockWrite, err)
				}
				return s.explain(err)
			}
			w := cmd.OutOrStdout()
			if out.json() {
				return writeJSON(w, blobJSON{Registry: ref.Registry, ImageName: ref.Repository, Digest: desc.Digest.String(), Size: desc.Size})
			}
			fmt.Fprintln(w, desc.Digest)
			return nil
		},
	}
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress line")
	addOutputFlag(cmd, &out)
	return cmd
}

func newBlobGetCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var file string
	var noProgress bool
	var parts int
	var cont bool
	cmd := &cobra.Command{
		Use:   "get HOST/REPO@DIGEST [--output-file FILE [--continue]] [-o text|json]",
		Short: "Download a blob to stdout or a file, verifying its digest",
		Long: `Download a blob and verify that it hashes to its digest. With --output-file FILE the
content goes to a temporary file beside FILE that is renamed into place only once
verified, so FILE never holds partial or wrong content; a replaced FILE keeps its mode,
a new one gets the umask's. -o json then prints what was written. Without --output-file
it streams to stdout; a mismatch then fails the command after the bytes were written.
Downloads resume after dropped connections. Across runs, --continue (-c, as wget -c and
curl -C -) keeps what a failed or interrupted download received in .FILE.partial-HEX12
(the digest's first 12 hex digits), and the next run with --continue hashes those bytes
again and asks the registry only for the rest. It starts over, with a note, when the
registry ignores the Range request or the partial cannot be the blob's start; a digest
mismatch removes the partial. The content is hashed while it is written, in one stream;
--parts N fetches a blob of more than 32 MiB in N byte ranges at once, which is slower
from a near registry and faster over a long link, where one connection cannot fill the
line. (-o is the output format in every acrctl command; -o FILE, the old spelling, is
refused with a pointer to --output-file.)`,
		Example: `  acrctl blob get myregistry.azurecr.io/hello@sha256:4c5e... --output-file layer.tar.gz
  acrctl blob get localhost:5000/hello@sha256:4c5e... | tar tz
  acrctl blob get localhost:5000/hello@sha256:4c5e... --output-file layer.tar.gz -o json
  acrctl blob get myregistry.azurecr.io/models@sha256:9f2a... --output-file weights.bin --continue`,
		Args:              exactArgs(1, "a blob HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refDigest)
			if err != nil {
				return err
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if cont && file == "" {
				return usageError{errors.New("--continue resumes a download into a file, and stdout cannot be resumed: add --output-file FILE")}
			}
			if cont && parts > 1 {
				return usageError{errors.New("--continue and --parts cannot be combined: parts are written out of order, so an interrupted download leaves no start of the blob to resume from; drop --parts")}
			}
			if file == "" && out.json() {
				return usageError{errors.New("-o json describes a blob written to a file, and without --output-file the blob itself goes to stdout: add --output-file FILE")}
			}
			if file == "" && isTerminal(stdout) {
				return usageError{errors.New("stdout is a terminal: pass --output-file FILE, or pipe the blob into a program")}
			}
			var perm fs.FileMode
			if file != "" {
				// Before any request: a path that cannot take the file
				// would otherwise fail only after the whole download.
				if perm, err = outputFileMode(file); err != nil {
					return err
				}
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			spareP()
			ctx := cmd.Context()
			show := showProgress(stderr, noProgress, o.verbose)
			// The progress line learns the size, for its percentage, from
			// the download's answer (opts.Size): no request of its own.
			opts := &acr.DownloadBlobToOptions{}
			if file != "" {
				p := startProgress(stderr, show, "Downloading "+filepath.Base(file), -1)
				opts.Parts = parts
				if p != nil {
					opts.Progress, opts.Size = p.Set, p.SetTotal
				}
				var n int64
				if cont {
					note := func(line string) {
						if p != nil {
							fmt.Fprint(stderr, "\r\x1b[K") // above the progress line
						}
						fmt.Fprintln(stderr, line)
					}
					n, err = resumeToFile(ctx, s.client, ref.Repository, ref.Digest, file, perm, opts, note, p, stderr)
				} else {
					n, err = downloadToFile(ctx, s.client, ref.Repository, ref.Digest, file, perm, opts)
				}
				p.Finish(err == nil)
				var pe partialError
				if errors.As(err, &pe) {
					return fmt.Errorf("%w; %s", explainDownload(ctx, s, ref, pe.err), pe.hint)
				}
				if err != nil {
					return explainDownload(ctx, s, ref, err)
				}
				if out.json() {
					return writeJSON(stdout, blobJSON{Registry: ref.Registry, ImageName: ref.Repository, Digest: ref.Digest.String(), Size: n, File: file})
				}
				fmt.Fprintf(stderr, "Wrote %s (%d bytes, digest verified)\n", file, n)
				return nil
			}
			p := startProgress(stderr, show, "Downloading "+ref.Digest.Encoded()[:12], -1)
			if p != nil {
				opts.Progress, opts.Size = p.Set, p.SetTotal
			}
			_, err = s.client.DownloadBlobTo(ctx, ref.Repository, ref.Digest, stdout, opts)
			p.Finish(err == nil)
			if err != nil {
				return explainDownload(ctx, s, ref, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "output-file", "", "write the blob to this file instead of stdout")
	cmd.Flags().BoolVarP(&cont, "continue", "c", false, "with --output-file, keep a failed or interrupted download in .FILE.partial-HEX12 and resume it on the next run")
	cmd.Flags().IntVar(&parts, "parts", 0, "with --output-file, fetch a large blob in this many byte ranges at once (helps on high-latency links; 0: the library's default)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress line")
	out.hint = "-o is the output format in every acrctl command; write the blob to a file with --output-file FILE"
	addOutputFlag(cmd, &out)
	return cmd
}

// spareP gives the Go scheduler one P more than it has (GOMAXPROCS, the
// number of CPUs by default) for the rest of the process. A download keeps
// two goroutines busy, one hashing and one receiving and writing. With a P
// per CPU both are taken, so whenever the writer spends more than 20 µs in
// a write(2), the runtime's monitor thread takes its P away, and keeps
// waking every 20 µs to look again. With a spare P it leaves the P alone:
// from a loopback registry, 512 MiB to a file then took 2,500-3,400 context
// switches instead of 4,500-5,800, and 2-17% less client CPU
// (bench/RESULTS.md, "blob get at the floor"). A GOMAXPROCS set in the
// environment is left as it is; the spare is added once a process.
func spareP() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	spareOnce.Do(func() { runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1) })
}

var spareOnce sync.Once

// outputFileMode checks that path can take a downloaded file and returns
// the mode the file gets: that of the file it replaces, as curl -o and a
// shell redirection keep it, or 0 for a new one, which gets 0666 less the
// umask, as pull creates files.
func outputFileMode(path string) (fs.FileMode, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return 0, usageError{fmt.Errorf("--output-file %s is a directory; name a file in it: --output-file %s", path, filepath.Join(path, "NAME"))}
	case err == nil && fi.Mode().IsRegular():
		return fi.Mode().Perm(), nil
	case err == nil:
		return 0, fmt.Errorf("--output-file %s is not a regular file (%v); name a file", path, fi.Mode().Type())
	}
	dir := filepath.Dir(path)
	di, derr := os.Stat(dir)
	switch {
	case errors.Is(derr, fs.ErrNotExist):
		return 0, fmt.Errorf("--output-file %s: the directory %s does not exist; fix: create it (mkdir -p %s) or name a file in an existing directory", path, dir, dir)
	case derr != nil:
		return 0, fmt.Errorf("--output-file %s: %w", path, derr)
	case !di.IsDir():
		return 0, fmt.Errorf("--output-file %s: %s is not a directory; fix: name a file in a directory", path, dir)
	}
	return 0, nil
}

// downloadToFile downloads a blob into a temporary file beside path
// (.NAME.partial-*) with mode perm (0: 0666 less the umask), and renames it
// into place once verified, so that path never holds partial or wrong
// content.
func downloadToFile(ctx context.Context, client *acr.Client, repo string, d digest.Digest, path string, perm fs.FileMode, opts *acr.DownloadBlobToOptions) (int64, error) {
	f, err := createPartial(path, perm)
	if err != nil {
		return 0, err
	}
	n, err := client.DownloadBlobTo(ctx, repo, d, f, opts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return n, err
	}
	return n, nil
}

// createPartial creates .NAME.partial-N beside path with mode perm, set
// exactly whatever the umask, or with 0 the umask's modes (os.CreateTemp
// would make it 0600).
func createPartial(path string, perm fs.FileMode) (*os.File, error) {
	create := fs.FileMode(0o666)
	if perm != 0 {
		create = 0o600 // until the Chmod below
	}
	f, err := atomicfile.CreatePartial(path, create)
	if err != nil {
		return nil, err
	}
	if perm != 0 {
		if err := f.Chmod(perm); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
	}
	return f, nil
}

func explainDownload(ctx context.Context, s *session, ref acr.Reference, err error) error {
	switch {
	case errors.Is(err, acr.ErrLocked):
		// Only the repository's flags guard a blob.
		return lockRefusal(ctx, s, acr.Reference{Registry: ref.Registry, Repository: ref.Repository}, lockRead, err)
	case errors.Is(err, acr.ErrDigestMismatch):
		return fmt.Errorf("the content the registry sent for %s does not match its digest: %v; nothing verified was lost, retry, and report it to the registry's operator if it persists", ref, err)
	case errors.Is(err, acr.ErrNotFound):
		return absentError{fmt.Errorf("%s does not exist in the registry: %v; fix: check the digest (acrctl manifest get %s/%s:TAG lists an image's blobs)", ref, err, ref.Registry, ref.Repository)}
	}
	return s.explain(err)
}

func newBlobExistsCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "exists HOST/REPO@DIGEST",
		Short: "Check whether a repository holds a blob; exit 0 if it does, 3 if not (1: asking failed)",
		Example: `  acrctl blob exists myregistry.azurecr.io/hello@sha256:4c5e...
  if acrctl blob exists localhost:5000/hello@sha256:4c5e... >/dev/null 2>&1; then echo present; fi`,
		Args:              exactArgs(1, "a blob HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refDigest)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			size, ok, err := s.client.BlobExists(cmd.Context(), ref.Repository, ref.Digest)
			if err != nil {
				return s.explain(err)
			}
			w := cmd.OutOrStdout()
			if out.json() {
				if err := writeJSON(w, blobJSON{Registry: ref.Registry, ImageName: ref.Repository, Digest: ref.Digest.String(), Size: size, Exists: &ok}); err != nil {
					return err
				}
			} else if ok {
				fmt.Fprintf(w, "%s exists (%d bytes)\n", ref, size)
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

func newBlobDeleteCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "delete HOST/REPO@DIGEST",
		Short: "Delete a blob from a repository",
		Long: `Delete a blob from a repository. Manifests that reference it then fail to pull, so
delete blobs only after the manifests that use them.`,
		Example: `  acrctl blob delete myregistry.azurecr.io/hello@sha256:4c5e...
  acrctl blob delete localhost:5000/hello@sha256:4c5e... -o json`,
		Aliases:           []string{"rm"},
		Args:              exactArgs(1, "a blob HOST/REPO@DIGEST"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refDigest)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			if err := s.client.DeleteBlob(cmd.Context(), ref.Repository, ref.Digest); err != nil {
				switch {
				case errors.Is(err, acr.ErrNotFound):
					return absentError{fmt.Errorf("%s does not exist, so there is nothing to delete: %v", ref, err)}
				case errors.Is(err, acr.ErrLocked):
					// Only the repository's flags guard a blob.
					return lockRefusal(cmd.Context(), s, acr.Reference{Registry: ref.Registry, Repository: ref.Repository}, lockDelete, err)
				}
				return s.explain(err)
			}
			if out.json() {
				return writeJSON(cmd.OutOrStdout(), struct {
					Registry     string   `json:"registry"`
					ImageName    string   `json:"imageName"`
					BlobsDeleted []string `json:"blobsDeleted"`
				}{ref.Registry, ref.Repository, []string{ref.Digest.String()}})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted blob %s\n", ref)
			return nil
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

// completeRefsThenFiles completes the reference, then a file name.
func completeRefsThenFiles(o *remoteOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return completeRefs(o)(cmd, args, toComplete)
		}
		if len(args) == 1 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}
