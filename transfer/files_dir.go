package transfer

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// The annotations oras (oras-go's file store) puts on a layer that holds a
// directory: the layer is a gzip-compressed tar whose entries all sit under
// the layer's title, to be unpacked on pull, and the digest of the tar
// before compression.
const (
	AnnotationUnpack = "io.deis.oras.content.unpack"
	AnnotationDigest = "io.deis.oras.content.digest"
)

// packDir writes dir as a gzip-compressed tar to a new temporary file, its
// entries named under name as oras names them (name, name/a, name/a/b, ...),
// with owners cleared. Regular files, directories and symbolic links are
// packed; anything else is refused. It returns the temporary file's path,
// the digest and size of the compressed file and the digest of the tar.
func packDir(dir, name string) (tmp string, gz digest.Digest, size int64, tarDigest digest.Digest, err error) {
	f, err := os.CreateTemp("", "transfer-push-*.tar.gz")
	if err != nil {
		return "", "", 0, "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	gzd := digest.Canonical.Digester()
	zw := gzip.NewWriter(io.MultiWriter(f, gzd.Hash()))
	td := digest.Canonical.Digester()
	tw := tar.NewWriter(io.MultiWriter(zw, td.Hash()))
	buf := make([]byte, 1<<20)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		switch {
		case info.Mode().IsRegular(), info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is not a regular file, a directory or a symbolic link; only those can be pushed", p)
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		h.Name = path.Join(name, filepath.ToSlash(rel))
		if info.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		n, err := io.CopyBuffer(tw, in, buf)
		if err == nil && n != info.Size() {
			err = fmt.Errorf("%s changed while it was packed", p)
		}
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return "", "", 0, "", err
	}
	fi, err := f.Stat()
	if err != nil {
		return "", "", 0, "", err
	}
	return f.Name(), gzd.Digest(), fi.Size(), td.Digest(), nil
}

// unpackEntry is one entry of a directory layer, checked and placed.
type unpackEntry struct {
	h    *tar.Header
	path string // destination
}

// unpackPlan is a directory layer read once and checked: every entry's
// destination, and what it will cost on disk.
type unpackPlan struct {
	root    string // the directory the layer unpacks into
	blob    string // the downloaded tar.gz
	entries []unpackEntry
	bytes   int64
}

// scanDirLayer reads the tar.gz at blob without writing anything and
// checks every entry: its name lies under title, it leaves root through
// no '..' and no symbolic link (neither one on disk nor one earlier in the
// archive), a link points inside root, nothing on disk is of another kind
// in the way, and, with keepOld, nothing exists yet. Sizes must add up to
// no more than limit. The tar's digest is checked against want when set.
func scanDirLayer(blob, root, title string, want digest.Digest, keepOld bool, limit int64) (*unpackPlan, error) {
	f, err := os.Open(blob)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("the directory %q in the artifact is not gzip-compressed: %w", title, err)
	}
	var r io.Reader = zr
	var v digest.Verifier
	if want != "" && want.Validate() == nil {
		v = want.Verifier()
		r = io.TeeReader(r, v)
	}
	tr := tar.NewReader(r)
	plan := &unpackPlan{root: root, blob: blob}
	kinds := map[string]byte{} // destination -> tar type, for entries seen so far
	var links []unpackLink
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the directory %q in the artifact is not a valid tar: %w", title, err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
			return nil, fmt.Errorf("refusing the entry %q of the directory %q: its name is absolute or empty", h.Name, title)
		}
		for part := range strings.SplitSeq(name, "/") {
			if part == ".." {
				return nil, fmt.Errorf("refusing the entry %q of the directory %q: it contains '..'", h.Name, title)
			}
		}
		name = path.Clean(name)
		rel, ok := strings.CutPrefix(name, title)
		if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
			return nil, fmt.Errorf("refusing the entry %q of the directory %q: it lies outside that directory", h.Name, title)
		}
		dest := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(rel, "/")))
		if !within(root, dest) {
			return nil, fmt.Errorf("refusing the entry %q of the directory %q: it leaves the output directory", h.Name, title)
		}
		// Every directory between root and dest must be a directory, in
		// the archive and on disk, never a link.
		for p := filepath.Dir(dest); p != root && within(root, p); p = filepath.Dir(p) {
			if k, ok := kinds[p]; ok && k != tar.TypeDir {
				return nil, fmt.Errorf("refusing the entry %q of the directory %q: its parent is not a directory in the archive", h.Name, title)
			}
			if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
				return nil, fmt.Errorf("%s is in the way of %q from the artifact: it is not a directory", p, h.Name)
			}
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeSymlink:
		case tar.TypeLink:
			return nil, fmt.Errorf("refusing the entry %q of the directory %q: hard links are not unpacked", h.Name, title)
		default:
			continue // devices, FIFOs and the like are skipped, as oras does
		}
		if h.Size < 0 || h.Size > limit-plan.bytes {
			return nil, fmt.Errorf("refusing the directory %q: it unpacks to more than %d bytes", title, limit)
		}
		plan.bytes += h.Size
		if len(plan.entries) >= maxUnpackEntries {
			return nil, fmt.Errorf("refusing the directory %q: it holds more than %d entries", title, maxUnpackEntries)
		}
		if h.Typeflag == tar.TypeSymlink {
			target := h.Linkname
			if filepath.IsAbs(target) || strings.HasPrefix(target, "/") {
				return nil, fmt.Errorf("refusing the link %q of the directory %q: it points to the absolute path %q", h.Name, title, target)
			}
			if t := filepath.Join(filepath.Dir(dest), filepath.FromSlash(target)); !within(root, t) {
				return nil, fmt.Errorf("refusing the link %q of the directory %q: it points outside, to %q", h.Name, title, target)
			}
			links = append(links, unpackLink{name: h.Name, path: dest, target: target})
		}
		if _, dup := kinds[dest]; dup && !(h.Typeflag == tar.TypeDir && kinds[dest] == tar.TypeDir) {
			return nil, fmt.Errorf("refusing the directory %q: it holds %q twice", title, h.Name)
		}
		kinds[dest] = h.Typeflag
		if fi, err := os.Lstat(dest); err == nil {
			switch {
			case h.Typeflag == tar.TypeDir && !fi.IsDir():
				return nil, fmt.Errorf("%s is in the way of the directory %q from the artifact", dest, h.Name)
			case h.Typeflag != tar.TypeDir && fi.IsDir():
				return nil, &ExistsError{Path: dest, Dir: true}
			case h.Typeflag != tar.TypeDir && keepOld:
				return nil, &ExistsError{Path: dest}
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		hc := *h
		plan.entries = append(plan.entries, unpackEntry{h: &hc, path: dest})
	}
	// A link's target is checked lexically above; resolved on disk it must
	// not pass through another link (a/up -> .., a/out -> up/..), in the
	// archive, wherever it comes in it, or already in the output directory.
	for _, l := range links {
		p := filepath.Dir(l.path)
		parts := strings.Split(l.target, "/")
		for _, c := range parts[:len(parts)-1] {
			p = filepath.Join(p, c)
			fi, err := os.Lstat(p)
			if kinds[p] == tar.TypeSymlink || err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return nil, fmt.Errorf("refusing the link %q of the directory %q: its target %q goes through the link %s", l.name, title, l.target, p)
			}
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	if v != nil && !v.Verified() {
		return nil, fmt.Errorf("the directory %q in the artifact does not match its %s annotation", title, AnnotationDigest)
	}
	return plan, nil
}

// maxUnpackEntries caps the entries of one directory layer, whose plan is
// held in memory until it is written.
const maxUnpackEntries = 1 << 20

// unpackLink is a symbolic link a scan found.
type unpackLink struct{ name, path, target string }

// unpack writes the entries a scan checked. Files go through a temporary
// file renamed into place; modes come from the archive, less the umask.
func (p *unpackPlan) unpack() error {
	f, err := os.Open(p.blob)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	if err := os.MkdirAll(p.root, 0o777); err != nil {
		return err
	}
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	buf := make([]byte, 1<<20)
	i := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if i >= len(p.entries) || p.entries[i].h.Name != h.Name {
			continue // skipped in the scan
		}
		dest := p.entries[i].path
		i++
		perm := fs.FileMode(h.Mode) & fs.ModePerm
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dest, perm|0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{dest, h.ModTime})
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dest), 0o777); err != nil {
				return err
			}
			tmp, out, err := createHidden(dest, perm)
			if err != nil {
				return err
			}
			_, err = io.CopyBuffer(out, tr, buf)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp, dest)
			}
			if err != nil {
				os.Remove(tmp)
				return err
			}
			os.Chtimes(dest, time.Time{}, h.ModTime)
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(dest), 0o777); err != nil {
				return err
			}
			if fi, err := os.Lstat(dest); err == nil && fi.Mode()&fs.ModeSymlink != 0 || err == nil && fi.Mode().IsRegular() {
				if err := os.Remove(dest); err != nil {
					return err
				}
			}
			if err := os.Symlink(h.Linkname, dest); err != nil {
				return err
			}
		}
	}
	for j := len(dirs) - 1; j >= 0; j-- {
		os.Chtimes(dirs[j].path, time.Time{}, dirs[j].t)
	}
	return nil
}
