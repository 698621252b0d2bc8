package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/atomicfile"
	"github.com/acrgo/acr/internal/spec"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// File is a local file pushed as one layer of an artifact.
type File struct {
	// Path is the file to read.
	Path string
	// Name is its title in the artifact; the default is Path's base name.
	Name string
	// MediaType is the layer's media type; the default is
	// application/vnd.oci.image.layer.v1.tar, and for a directory
	// application/vnd.oci.image.layer.v1.tar+gzip.
	MediaType string
}

// ErrInvalidMediaType is the category of a media type or artifact type that
// is not TYPE/SUBTYPE as the OCI image spec requires (RFC 6838's names).
var ErrInvalidMediaType = spec.ErrInvalidMediaType

// ValidateMediaType checks a media type or artifact type against the OCI
// image spec's grammar; an error matches ErrInvalidMediaType. PushFiles
// checks every type it is given with it before sending anything.
func ValidateMediaType(mt string) error { return spec.ValidateMediaType(mt) }

// PushOptions configures PushFiles.
type PushOptions struct {
	ArtifactType string
	Annotations  map[string]string
	// Config is a file used as the config blob, with ConfigMediaType; by
	// default the config is the empty JSON object ({}).
	Config          string
	ConfigMediaType string
	// Subject makes the artifact a referrer of this manifest.
	Subject     *ocispec.Descriptor
	Concurrency int
	Progress    func(Progress)
	// Total, when set, is told once, before anything is sent, how many
	// bytes the push accounts for in Progress: every blob and the manifest.
	Total func(int64)
}

// PushFiles pushes files as an OCI artifact (an image manifest with one
// layer per file, titled with org.opencontainers.image.title) and tags it
// ref, when ref is not empty. Files stream from disk: each is hashed in a
// first pass, then pushed in parallel. A directory is packed as oras packs
// one: a gzip-compressed tar of its tree under its title, annotated with
// [AnnotationUnpack] and [AnnotationDigest] so that oras and [PullFiles]
// unpack it.
func PushFiles(ctx context.Context, dst Target, ref string, files []File, opts *PushOptions) (_ ocispec.Descriptor, err error) {
	ctx, endSpan := startSpan(ctx, "transfer.PushFiles", dst)
	defer func() { endSpan(err) }()
	var o PushOptions
	if opts != nil {
		o = *opts
	}
	for _, mt := range []struct{ what, v string }{{"artifact type", o.ArtifactType}, {"config media type", o.ConfigMediaType}} {
		if mt.v != "" {
			if err := ValidateMediaType(mt.v); err != nil {
				return ocispec.Descriptor{}, fmt.Errorf("%s: %w", mt.what, err)
			}
		}
	}
	for _, f := range files {
		if f.MediaType != "" {
			if err := ValidateMediaType(f.MediaType); err != nil {
				return ocispec.Descriptor{}, fmt.Errorf("%s: %w", f.Path, err)
			}
		}
	}
	src := &fileSource{paths: map[digest.Digest]string{}, blobs: map[digest.Digest][]byte{}}
	var layers []ocispec.Descriptor
	seen := map[string]bool{}
	for _, f := range files {
		name := f.Name
		if name == "" {
			name = filepath.Base(f.Path)
		}
		if seen[name] {
			return ocispec.Descriptor{}, fmt.Errorf("transfer: two files are titled %q; give them distinct names", name)
		}
		seen[name] = true
		mt := f.MediaType
		ann := map[string]string{ocispec.AnnotationTitle: name}
		var d digest.Digest
		var size int64
		if fi, err := os.Stat(f.Path); err == nil && fi.IsDir() {
			if mt == "" {
				mt = ocispec.MediaTypeImageLayerGzip
			}
			tmp, gz, n, td, err := packDir(f.Path, name)
			if err != nil {
				return ocispec.Descriptor{}, err
			}
			defer os.Remove(tmp)
			d, size = gz, n
			src.paths[d] = tmp
			ann[AnnotationDigest] = td.String()
			ann[AnnotationUnpack] = "true"
		} else {
			if mt == "" {
				mt = ocispec.MediaTypeImageLayer
			}
			var err error
			if d, size, err = hashFile(f.Path); err != nil {
				return ocispec.Descriptor{}, err
			}
			src.paths[d] = f.Path
		}
		layers = append(layers, ocispec.Descriptor{MediaType: mt, Digest: d, Size: size, Annotations: ann})
	}
	config := ocispec.DescriptorEmptyJSON
	src.blobs[config.Digest] = config.Data
	config.Data = nil
	if o.Config != "" {
		d, size, err := hashFile(o.Config)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		mt := o.ConfigMediaType
		if mt == "" {
			mt = "application/vnd.oci.image.config.v1+json"
		}
		config = ocispec.Descriptor{MediaType: mt, Digest: d, Size: size}
		src.paths[d] = o.Config
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: o.ArtifactType, Config: config,
		Layers: layers, Subject: o.Subject, Annotations: o.Annotations}
	m.SchemaVersion = 2
	if m.ArtifactType == "" && o.Config == "" {
		m.ArtifactType = "application/vnd.unknown.artifact.v1"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	root := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b)), ArtifactType: m.ArtifactType}
	src.blobs[root.Digest] = b
	if o.Total != nil {
		total, seen := root.Size, map[digest.Digest]bool{}
		for _, l := range append([]ocispec.Descriptor{config}, layers...) {
			if !seen[l.Digest] {
				seen[l.Digest] = true
				total += l.Size
			}
		}
		o.Total(total)
	}
	desc, err := Copy(ctx, src, root.Digest.String(), dst, ref, &CopyOptions{Concurrency: o.Concurrency, Progress: o.Progress})
	if err == nil {
		desc.ArtifactType = m.ArtifactType
	}
	return desc, err
}

func hashFile(path string) (digest.Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if !fi.Mode().IsRegular() {
		return "", 0, fmt.Errorf("transfer: %s is not a regular file", path)
	}
	dg := digest.Canonical.Digester()
	n, err := io.CopyBuffer(dg.Hash(), f, make([]byte, 1<<20))
	if err != nil {
		return "", 0, err
	}
	return dg.Digest(), n, nil
}

// fileSource is a read-only Target over local files and in-memory blobs.
type fileSource struct {
	paths map[digest.Digest]string
	blobs map[digest.Digest][]byte
}

func (s *fileSource) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	d := digest.Digest(ref)
	b, ok := s.blobs[d]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("transfer: no manifest %s", ref)
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: d, Size: int64(len(b))}, nil
}

func (s *fileSource) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if b, ok := s.blobs[desc.Digest]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	p, ok := s.paths[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("transfer: no content %s", desc.Digest)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	// The file may have changed since it was hashed: verify as it streams.
	return &verifyingReader{r: f, c: f, v: desc.Digest.Verifier(), d: desc.Digest, size: desc.Size}, nil
}

// fetchRaw opens content without verifying it again: PushFiles hashed the
// files, and a registry destination verifies what it receives.
func (s *fileSource) fetchRaw(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if b, ok := s.blobs[desc.Digest]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	p, ok := s.paths[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("transfer: no content %s", desc.Digest)
	}
	return os.Open(p)
}

func (s *fileSource) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	return true, nil
}
func (s *fileSource) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	return fmt.Errorf("transfer: local files are read-only")
}
func (s *fileSource) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	return fmt.Errorf("transfer: local files are read-only")
}
func (s *fileSource) Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string) iter.Seq2[ocispec.Descriptor, error] {
	return func(func(ocispec.Descriptor, error) bool) {}
}

// PullOptions configures PullFiles.
type PullOptions struct {
	// Platform picks a manifest when the reference names an index; without
	// it, an index is a *[PlatformError] listing the platforms it has.
	Platform *ocispec.Platform
	// KeepOldFiles refuses, with an *[ExistsError], to replace a file that
	// exists; by default existing files are replaced, as oras does.
	KeepOldFiles bool
	// MaxUnpackedSize caps what a directory layer may unpack to; the
	// default is 64 GiB. Free space is checked too where it can be read.
	MaxUnpackedSize int64
	// Progress receives the bytes of each layer as it downloads; Total is
	// told once, before the first download, what they add up to.
	Progress func(Progress)
	Total    func(int64)
}

// PlatformError is the answer to pulling an index without a platform, or
// with one it does not have.
type PlatformError struct {
	Index     digest.Digest
	Want      *ocispec.Platform
	Platforms []ocispec.Platform
	// NoPlatform lists the index's manifests that name no platform, which
	// only their digest can pick.
	NoPlatform []digest.Digest
}

func (e *PlatformError) Error() string {
	var names []string
	for _, p := range e.Platforms {
		names = append(names, PlatformString(p))
	}
	have := strings.Join(names, ", ")
	if have == "" {
		return fmt.Sprintf("%s is an index whose manifests name no platform; pull one by digest", e.Index)
	}
	if e.Want == nil {
		return fmt.Sprintf("%s is an index of platforms (%s); pick one", e.Index, have)
	}
	return fmt.Sprintf("index %s has no manifest for %s; it has %s", e.Index, PlatformString(*e.Want), have)
}

// PlatformString writes a platform as OS/ARCH[/VARIANT].
func PlatformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ExistsError is a destination already taken: by a file, with
// KeepOldFiles, by a directory where the artifact has a file, or by a
// symbolic link, which is neither followed nor replaced.
type ExistsError struct {
	Path string
	Dir  bool
	Link bool
}

func (e *ExistsError) Error() string {
	if e.Dir {
		return fmt.Sprintf("%s is a directory, in the way of a file of the artifact", e.Path)
	}
	if e.Link {
		return fmt.Sprintf("%s is a symbolic link, which is neither followed nor replaced", e.Path)
	}
	return fmt.Sprintf("%s exists", e.Path)
}

// NoFilesError is the answer to pulling files from a manifest that has
// layers but none with a file name (org.opencontainers.image.title), as a
// container image has: there is nothing PullFiles could write. Copy to a
// layout fetches such a manifest whole.
type NoFilesError struct {
	// Manifest is the image manifest, the one chosen from an index.
	Manifest digest.Digest
	// Layers is how many layers it has.
	Layers int
}

func (e *NoFilesError) Error() string {
	return fmt.Sprintf("%s has no files: none of its %d layers has a file name (%s), as in a container image", e.Manifest, e.Layers, ocispec.AnnotationTitle)
}

// DefaultMaxUnpackedSize is PullOptions.MaxUnpackedSize's default.
const DefaultMaxUnpackedSize = 64 << 30

// PullFiles downloads the layers (an OCI artifact manifest's blobs) of the
// artifact ref names that carry an org.opencontainers.image.title into
// dir, each through a temporary file renamed into place once verified; a
// layer oras marked for unpacking (a directory, see [PushFiles]) is
// unpacked into a directory of its title.
// Before the first file is written every destination is checked: names
// that are absolute, contain "..", or would leave dir through a symbolic
// link, links in a directory that point outside it, directories in the way
// and, with KeepOldFiles, existing files are refused. Files get the
// umask's modes (a directory's files their archived modes, less the umask).
// A manifest with layers but none with a title (a container image) is a
// *NoFilesError, and dir is not created. It returns the paths written:
// files and the roots of directories.
func PullFiles(ctx context.Context, src Target, ref, dir string, opts *PullOptions) (_ []string, err error) {
	ctx, endSpan := startSpan(ctx, "transfer.PullFiles", src)
	defer func() { endSpan(err) }()
	var o PullOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxUnpackedSize <= 0 {
		o.MaxUnpackedSize = DefaultMaxUnpackedSize
	}
	root, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	b, err := fetchManifest(ctx, src, root)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is not an image manifest: %w", root.Digest, err)
	}
	manifest := root.Digest
	var probe struct {
		Manifests []json.RawMessage `json:"manifests"`
	}
	json.Unmarshal(b, &probe)
	if len(probe.Manifests) > 0 || spec.IsIndex(root.MediaType) || spec.IsIndex(m.MediaType) {
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("%s is not an index: %w", root.Digest, err)
		}
		perr := &PlatformError{Index: root.Digest, Want: o.Platform}
		var pick *ocispec.Descriptor
		for _, d := range idx.Manifests {
			if d.Platform == nil {
				perr.NoPlatform = append(perr.NoPlatform, d.Digest)
				continue
			}
			perr.Platforms = append(perr.Platforms, *d.Platform)
			if p := o.Platform; p != nil && pick == nil && p.OS == d.Platform.OS && p.Architecture == d.Platform.Architecture &&
				(p.Variant == "" || p.Variant == d.Platform.Variant) {
				pick = &d
			}
		}
		if pick == nil {
			return nil, perr
		}
		manifest = pick.Digest
		if b, err = fetchManifest(ctx, src, plain(*pick)); err != nil {
			return nil, err
		}
		m = ocispec.Manifest{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s is not an image manifest: %w", pick.Digest, err)
		}
	}
	if m.MediaType == spec.MediaTypeOCIArtifact {
		// An OCI artifact manifest (OCI 1.1's release candidates; ACR
		// holds them): its files are its blobs, and it has no config.
		var a struct {
			Blobs []ocispec.Descriptor `json:"blobs"`
		}
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("%s is not an artifact manifest: %w", root.Digest, err)
		}
		m.Layers = a.Blobs
	} else if m.Config.Digest == "" {
		return nil, fmt.Errorf("%s is not an image manifest: it has no config", root.Digest)
	}
	if len(m.Layers) > 0 && !slices.ContainsFunc(m.Layers, func(l ocispec.Descriptor) bool { return l.Annotations[ocispec.AnnotationTitle] != "" }) {
		return nil, &NoFilesError{Manifest: manifest, Layers: len(m.Layers)}
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	absDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	if absDir, err = filepath.Abs(absDir); err != nil {
		return nil, err
	}
	type job struct {
		desc ocispec.Descriptor
		path string
		plan *unpackPlan
	}
	var jobs []job
	var total int64
	seen := map[string]bool{}
	for _, l := range m.Layers {
		title := l.Annotations[ocispec.AnnotationTitle]
		if title == "" {
			continue
		}
		p, err := safeJoin(absDir, title)
		if err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, fmt.Errorf("the artifact has two files named %q", title)
		}
		seen[p] = true
		unpack := l.Annotations[AnnotationUnpack] == "true"
		if err := checkDest(absDir, p, unpack, o.KeepOldFiles); err != nil {
			return nil, err
		}
		jobs = append(jobs, job{desc: l, path: p})
		total += l.Size
	}
	// Directories nested in one another would unpack over each other.
	for _, a := range jobs {
		for _, b := range jobs {
			if a.path != b.path && within(a.path, b.path) {
				return nil, fmt.Errorf("the artifact's %q lies inside its %q", b.desc.Annotations[ocispec.AnnotationTitle], a.desc.Annotations[ocispec.AnnotationTitle])
			}
		}
	}
	if o.Total != nil {
		o.Total(total)
	}
	report := func(p Progress) {
		if o.Progress != nil {
			o.Progress(p)
		}
	}
	// Directories come first: they are downloaded to hidden files and
	// read through, so that their entries are checked with the rest.
	need := int64(0)
	for i := range jobs {
		j := &jobs[i]
		if j.desc.Annotations[AnnotationUnpack] != "true" {
			need += j.desc.Size
			continue
		}
		tmp, err := fetchToTemp(ctx, src, j.desc, absDir, j.path, report)
		if tmp != "" {
			defer os.Remove(tmp)
		}
		if err != nil {
			return nil, err
		}
		title := j.desc.Annotations[ocispec.AnnotationTitle]
		j.plan, err = scanDirLayer(tmp, j.path, path.Clean(title), digest.Digest(j.desc.Annotations[AnnotationDigest]), o.KeepOldFiles, o.MaxUnpackedSize)
		if err != nil {
			return nil, err
		}
		need += j.plan.bytes
	}
	if free, ok := freeSpace(absDir); ok && need > free {
		return nil, fmt.Errorf("the artifact needs %d bytes in %s, which has %d free", need, dir, free)
	}
	var written []string
	for _, j := range jobs {
		if j.plan != nil {
			if err := j.plan.unpack(); err != nil {
				return written, err
			}
		} else {
			if err := os.MkdirAll(filepath.Dir(j.path), 0o777); err != nil {
				return written, err
			}
			tmp, err := fetchToTemp(ctx, src, j.desc, absDir, j.path, report)
			if err == nil {
				err = os.Rename(tmp, j.path)
			}
			if err != nil {
				if tmp != "" {
					os.Remove(tmp)
				}
				return written, err
			}
		}
		written = append(written, j.path)
	}
	return written, nil
}

// checkDest checks a destination before anything is written: every
// directory between dir and p is a directory (not a file, not a link), p
// is not a directory unless it is one to unpack into, and with keepOld a
// file does not exist there yet.
func checkDest(dir, p string, isDir, keepOld bool) error {
	for q := filepath.Dir(p); q != dir && within(dir, q); q = filepath.Dir(q) {
		fi, err := os.Lstat(q)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is in the way of %s: it is not a directory", q, p)
		}
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case isDir && fi.IsDir():
		return nil
	case isDir:
		return fmt.Errorf("%s is in the way of a directory of the artifact: it is not a directory", p)
	case fi.IsDir():
		return &ExistsError{Path: p, Dir: true}
	case fi.Mode()&fs.ModeSymlink != 0:
		return &ExistsError{Path: p, Link: true}
	case keepOld:
		return &ExistsError{Path: p}
	}
	return nil
}

func fetchManifest(ctx context.Context, src Target, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readManifest(rc, desc)
}

// safeJoin joins a layer title to dir, refusing names that leave it.
func safeJoin(dir, title string) (string, error) {
	if filepath.IsAbs(title) || strings.HasPrefix(title, "/") || strings.Contains(title, "\\") {
		return "", fmt.Errorf("transfer: refusing the absolute file name %q in the artifact", title)
	}
	for part := range strings.SplitSeq(title, "/") {
		if part == ".." {
			return "", fmt.Errorf("transfer: refusing the file name %q: it contains '..'", title)
		}
	}
	p := filepath.Join(dir, filepath.FromSlash(title))
	if !within(dir, p) || p == dir {
		return "", fmt.Errorf("transfer: refusing the file name %q: it leaves the output directory", title)
	}
	return p, nil
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// fetchToTemp downloads content into a hidden file beside path
// (.NAME.partial-*, created with the umask's modes), verified. It returns
// the file's name, also on error when one was created. From a registry the
// blob comes through DownloadBlobTo, which hashes while it writes.
func fetchToTemp(ctx context.Context, src Target, desc ocispec.Descriptor, dir, path string, report func(Progress)) (string, error) {
	tmpDir := filepath.Dir(path)
	if _, err := os.Stat(tmpDir); err != nil {
		tmpDir = dir
	}
	if r, ok := src.(*repository); ok && !isManifest(desc.MediaType) {
		name, f, err := createHidden(filepath.Join(tmpDir, filepath.Base(path)), 0o666)
		if err != nil {
			return "", err
		}
		n, err := r.client.DownloadBlobTo(ctx, r.repo, desc.Digest, f,
			&acr.DownloadBlobToOptions{Progress: func(n int64) { report(Progress{Desc: desc, Bytes: n}) }})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && n != desc.Size {
			err = fmt.Errorf("%s: the registry sent %d bytes, the descriptor says %d", desc.Digest, n, desc.Size)
		}
		if err != nil {
			return name, err
		}
		report(Progress{Desc: desc, Bytes: n, Done: true})
		return name, nil
	}
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	name, f, err := createHidden(filepath.Join(tmpDir, filepath.Base(path)), 0o666)
	if err != nil {
		return "", err
	}
	v := desc.Digest.Verifier()
	cr := &countingReader{r: rc, f: func(n int64) { report(Progress{Desc: desc, Bytes: n}) }}
	n, err := io.CopyBuffer(io.MultiWriter(f, v), cr, copyBuffer(desc.Size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return name, err
	}
	if n != desc.Size || !v.Verified() {
		return name, fmt.Errorf("%s: content does not match its descriptor", desc.Digest)
	}
	report(Progress{Desc: desc, Bytes: n, Done: true})
	return name, nil
}

// createHidden creates a new file beside path, named .NAME.partial-N, with
// perm less the umask (os.CreateTemp would make it 0600).
func createHidden(path string, perm fs.FileMode) (string, *os.File, error) {
	f, err := atomicfile.CreatePartial(path, perm)
	if err != nil {
		return "", nil, err
	}
	return f.Name(), f, nil
}
