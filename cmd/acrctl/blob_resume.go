package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
)

// blob get --continue keeps a download that fails or is interrupted and
// resumes it on the next run, as wget --continue (-c) and curl
// --continue-at - (-C -) do. The decisions, and why:
//
//   - The flag is opt-in, as in wget and curl: without it a failed
//     download leaves nothing behind, as before, so that scripts do not
//     litter directories with multi-GiB hidden files nobody asked for.
//   - The kept bytes live in ONE file beside FILE, .FILE.partial-HEX12,
//     named for the first 12 hex digits of the blob's digest (partialName):
//     never in FILE itself, which only ever holds verified content; found
//     again by the next run with no state elsewhere; and never mistaken for
//     the partial of another blob. (Downloads without the flag use
//     .FILE.partial-N, N a random decimal of at most 10 digits.)
//   - A kept partial of another digest for the same FILE is deleted, with
//     a note, before the download: FILE is about to become this blob. (One
//     that another run is writing, which holds its lock, is left alone.)
//   - The library's DownloadBlobToOptions.Resume does the work: it hashes
//     the kept bytes again, asks for the rest with a Range request, starts
//     over (with a note here) when the registry ignores Range or the
//     partial is longer than the blob, and checks the whole digest.
//   - A digest mismatch removes the partial and says to run again: the bad
//     bytes may be the kept ones, and the next run then starts clean.
//   - Any other failure, an interrupt included, keeps the partial, synced
//     to disk so that a crash soon after does not lose it, and says how to
//     resume; an empty one is removed.
//   - Two runs resuming the same partial at once would interleave their
//     writes, so a run holds a lock on it (lockPartial) and a second one
//     is refused.

// partialName is the file in which blob get --continue keeps the download
// of d into path between runs.
func partialName(path string, d digest.Digest) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".partial-"+d.Encoded()[:12])
}

// isKeptPartial reports whether name is a file that --continue kept for
// path, of any digest.
func isKeptPartial(name, path string) bool {
	hex, ok := strings.CutPrefix(name, "."+filepath.Base(path)+".partial-")
	if !ok || len(hex) != 12 {
		return false
	}
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// removeOtherPartials deletes the partials that --continue kept for path
// of digests other than d, noting each on stderr.
func removeOtherPartials(path string, d digest.Digest, stderr io.Writer) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return
	}
	mine := filepath.Base(partialName(path, d))
	for _, e := range entries {
		if name := e.Name(); name != mine && e.Type().IsRegular() && isKeptPartial(name, path) {
			full := filepath.Join(filepath.Dir(path), name)
			if inUse(full) {
				continue
			}
			if os.Remove(full) == nil {
				fmt.Fprintf(stderr, "acrctl: removed %s, a partial download of another blob into %s\n", full, path)
			}
		}
	}
}

// inUse reports whether another blob get --continue holds the lock on the
// partial download name, so that it is not deleted under that run.
func inUse(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	return lockPartial(f) != nil
}

// resumeToFile is downloadToFile with --continue: it downloads d into
// partialName(path, d), continuing what an earlier run left there, and
// renames it to path once verified. note prints a line on stderr above the
// progress line; p is the progress line, or nil.
func resumeToFile(ctx context.Context, client *acr.Client, repo string, d digest.Digest, path string, perm fs.FileMode, opts *acr.DownloadBlobToOptions, note func(string), p *progressBar, stderr io.Writer) (int64, error) {
	removeOtherPartials(path, d, stderr)
	name := partialName(path, d)
	create := fs.FileMode(0o666)
	if perm != 0 {
		create = 0o600 // until the Chmod below
	}
	// The partial is opened whether or not it exists, so a symlink or
	// device planted under its name would be written through: refuse
	// anything but a regular file, open without following a symlink (one
	// planted between the look and the open, when there was nothing to
	// look at, included), and check that the file opened is the one
	// looked at.
	before, lerr := lstat(name)
	if lerr == nil && !before.Mode().IsRegular() {
		return 0, notRegularPartial(name, before.Mode())
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|openNoFollow, create)
	if err != nil {
		if fi, lerr := os.Lstat(name); lerr == nil && !fi.Mode().IsRegular() {
			return 0, notRegularPartial(name, fi.Mode())
		}
		return 0, fmt.Errorf("open the partial download %s: %w", name, err)
	}
	if after, err := f.Stat(); err != nil || !after.Mode().IsRegular() || (lerr == nil && !os.SameFile(before, after)) {
		f.Close()
		return 0, fmt.Errorf("%s changed while it was opened; fix: run again, with no other program writing there", name)
	}
	if err := lockPartial(f); err != nil {
		f.Close()
		return 0, fmt.Errorf("%s is in use by another acrctl blob get --continue (%v); wait for it to finish, or stop it", name, err)
	}
	if perm != 0 {
		if err := f.Chmod(perm); err != nil {
			f.Close()
			return 0, err
		}
	}
	o := *opts
	o.Resume = true
	o.Resumed = func(r acr.Resumption) {
		switch {
		case r.Kept > 0 && r.Kept == r.Size:
			note(fmt.Sprintf("%s already holds the whole blob (%d bytes): verified, nothing to download", name, r.Kept))
		case r.Kept > 0:
			p.Resumed(r.Kept)
			of := ""
			if r.Size >= 0 {
				of = " of " + formatSize(r.Size)
			}
			note(fmt.Sprintf("Resuming from the %s%s (%d bytes) kept in %s", formatSize(r.Kept), of, r.Kept, name))
		default:
			note(fmt.Sprintf("Discarded the %d bytes kept in %s: %s; downloading the whole blob", r.Discarded, name, r.Reason))
		}
	}
	n, err := client.DownloadBlobTo(ctx, repo, d, f, &o)
	if err == nil {
		if err = f.Close(); err == nil {
			if err = os.Rename(name, path); err == nil {
				return n, nil
			}
		}
		os.Remove(name)
		return n, err
	}
	if errors.Is(err, acr.ErrDigestMismatch) {
		f.Close()
		os.Remove(name)
		return n, partialError{err: err, hint: "the partial download " + name + " was removed: run the command again to download the whole blob"}
	}
	size, serr := f.Seek(0, io.SeekEnd)
	if serr != nil || size == 0 {
		f.Close()
		os.Remove(name)
		return n, err
	}
	if serr := f.Sync(); serr != nil {
		f.Close()
		return n, partialError{err: err, hint: fmt.Sprintf("the %d bytes received are in %s, but syncing it failed (%v): run the same command again to resume, or delete it", size, name, serr)}
	}
	f.Close()
	return n, partialError{err: err, hint: fmt.Sprintf("kept the %d bytes received in %s: run the same command again to resume", size, name)}
}

// lstat is os.Lstat; tests replace it to plant a file under the partial's
// name between the look and the open.
var lstat = os.Lstat

// notRegularPartial is the error for a partial download that is a symlink,
// a device or anything else but a regular file.
func notRegularPartial(name string, mode fs.FileMode) error {
	return fmt.Errorf("%s, where a partial download of this blob is kept, is not a regular file (%v); fix: delete it", name, mode.Type())
}

// partialError is a failed --continue download with what became of its
// partial file: hint is said after the failure's explanation.
type partialError struct {
	err  error
	hint string
}

func (e partialError) Error() string { return e.err.Error() + "; " + e.hint }
func (e partialError) Unwrap() error { return e.err }
