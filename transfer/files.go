package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"

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
	// application/vnd.oci.image.layer.v1.tar.
	MediaType string
}

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
}

// PushFiles pushes files as an OCI artifact (an image manifest with one
// layer per file, titled with org.opencontainers.image.title) and tags it
// ref, when ref is not empty. Files stream from disk: each is hashed in a
// first pass, then pushed in parallel.
func PushFiles(ctx context.Context, dst Target, ref string, files []File, opts *PushOptions) (ocispec.Descriptor, error) {
	var o PushOptions
	if opts != nil {
		o = *opts
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
		if mt == "" {
			mt = ocispec.MediaTypeImageLayer
		}
		d, size, err := hashFile(f.Path)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		src.paths[d] = f.Path
		layers = append(layers, ocispec.Descriptor{MediaType: mt, Digest: d, Size: size,
			Annotations: map[string]string{ocispec.AnnotationTitle: name}})
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
	return Copy(ctx, src, root.Digest.String(), dst, ref, &CopyOptions{Concurrency: o.Concurrency, Progress: o.Progress})
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

// PullFiles downloads the layers of the artifact ref names that carry an
// org.opencontainers.image.title into dir, each through a temporary file
// renamed into place once verified. Titles that are absolute, contain
// "..", or would leave dir through a symbolic link are refused before
// anything is written. It returns the paths written.
func PullFiles(ctx context.Context, src Target, ref, dir string) ([]string, error) {
	root, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	rc, err := src.Fetch(ctx, root)
	if err != nil {
		return nil, err
	}
	b, err := readManifest(rc, root)
	rc.Close()
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("transfer: %s is not an image manifest: %w", root.Digest, err)
	}
	if m.Config.Digest == "" {
		return nil, fmt.Errorf("transfer: %s is an index or has no config; pull a platform's manifest", root.Digest)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	absDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	type job struct {
		desc ocispec.Descriptor
		path string
	}
	var jobs []job
	for _, l := range m.Layers {
		title := l.Annotations[ocispec.AnnotationTitle]
		if title == "" {
			continue
		}
		p, err := safeJoin(absDir, title)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, job{l, p})
	}
	var written []string
	for _, j := range jobs {
		if err := os.MkdirAll(filepath.Dir(j.path), 0o755); err != nil {
			return written, err
		}
		// The parent may be a link planted to escape: check again.
		if real, err := filepath.EvalSymlinks(filepath.Dir(j.path)); err != nil || !within(absDir, real) {
			return written, fmt.Errorf("transfer: refusing %q: its directory leaves %s", j.path, dir)
		}
		if err := fetchToFile(ctx, src, j.desc, j.path); err != nil {
			return written, err
		}
		written = append(written, j.path)
	}
	return written, nil
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

// fetchToFile writes content to path through a verified temporary file.
func fetchToFile(ctx context.Context, src Target, desc ocispec.Descriptor, path string) error {
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	v := desc.Digest.Verifier()
	n, err := io.CopyBuffer(io.MultiWriter(f, v), rc, copyBuffer(desc.Size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != desc.Size || !v.Verified() {
		return fmt.Errorf("transfer: %s: content does not match its descriptor", desc.Digest)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("transfer: refusing to replace the symbolic link %s", path)
	}
	return os.Rename(f.Name(), path)
}
