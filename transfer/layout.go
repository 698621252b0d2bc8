package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layout is a Target backed by an OCI image layout directory (OCI image
// spec, "OCI Image Layout Specification"): an oci-layout file, index.json,
// and blobs/ALG/HEX. Tags are index.json entries annotated with
// org.opencontainers.image.ref.name.
type Layout struct {
	dir string
	mu  sync.Mutex // serializes index.json updates
	// madeDirs holds the blobs/ALG directories known to exist, so that a
	// pull of thousands of blobs creates each once instead of asking
	// for it before every file.
	madeDirs sync.Map
}

// OpenLayout opens the layout in dir, creating an empty one when dir does
// not exist or is empty.
func OpenLayout(dir string) (*Layout, error) {
	l := &Layout{dir: dir}
	_, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile))
	switch {
	case err == nil:
		if _, err := os.Stat(filepath.Join(dir, ocispec.ImageIndexFile)); err != nil {
			return nil, fmt.Errorf("transfer: %s has an oci-layout file but no readable index.json: %w", dir, err)
		}
		return l, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("transfer: %s is not empty and not an OCI image layout (no oci-layout file)", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, ocispec.ImageBlobsDir), 0o755); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := writeFileAtomic(filepath.Join(dir, ocispec.ImageLayoutFile), b); err != nil {
		return nil, err
	}
	if err := l.writeIndex(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}); err != nil {
		return nil, err
	}
	return l, nil
}

// String returns "oci:DIR".
func (l *Layout) String() string { return "oci:" + l.dir }

func (l *Layout) blobPath(d digest.Digest) string {
	return filepath.Join(l.dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

func (l *Layout) readIndex() (ocispec.Index, error) {
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(l.dir, ocispec.ImageIndexFile))
	if err != nil {
		return idx, err
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("transfer: %s/index.json does not parse: %w", l.dir, err)
	}
	// Every digest read here may become a path (blobs/ALG/ENCODED): one
	// such as sha256:../../x would leave the layout. The index is refused
	// whole, rather than the entry skipped, so that no rewrite of it
	// (Tag, an untagged copy) drops the entry unseen.
	for i, e := range idx.Manifests {
		if !spec.IsDigestSyntax(string(e.Digest)) {
			return ocispec.Index{}, fmt.Errorf("transfer: %s/index.json: entry %d has digest %q, which is not a digest (ALGORITHM:ENCODED, such as sha256: and 64 hex digits); fix or remove the entry", l.dir, i, e.Digest)
		}
	}
	return idx, nil
}

func (l *Layout) writeIndex(idx ocispec.Index) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.dir, ocispec.ImageIndexFile), b)
}

// refName reports whether an index entry is tagged ref. Tools write either
// the bare tag (oras, the spec's example) or a full reference (crane,
// containerd); both match.
func refName(desc ocispec.Descriptor, ref string) bool {
	n := desc.Annotations[ocispec.AnnotationRefName]
	return n == ref || strings.HasSuffix(n, ":"+ref) && !strings.Contains(ref, "/")
}

// Resolve implements Target. An empty ref names the layout's only
// manifest, as crane writes layouts without tags.
func (l *Layout) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	idx, err := l.readIndex()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if ref == "" {
		if len(idx.Manifests) == 1 {
			return plain(idx.Manifests[0]), nil
		}
		return ocispec.Descriptor{}, fmt.Errorf("transfer: %s holds %d manifests; name one with oci:DIR:TAG (tags: %s)", l, len(idx.Manifests), strings.Join(layoutTags(idx), ", "))
	}
	if spec.IsDigest(ref) {
		d, err := spec.ParseDigest(ref)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("%w: %v", acr.ErrInvalidReference, err)
		}
		for _, m := range idx.Manifests {
			if m.Digest == d {
				return plain(m), nil
			}
		}
		// Not listed: a manifest stored as a blob still resolves.
		b, err := os.ReadFile(l.blobPath(d))
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("transfer: %s: %s: %w", l, ref, acr.ErrNotFound)
		}
		var probe struct {
			MediaType string `json:"mediaType"`
		}
		json.Unmarshal(b, &probe)
		return ocispec.Descriptor{MediaType: probe.MediaType, Digest: d, Size: int64(len(b))}, nil
	}
	for i := len(idx.Manifests) - 1; i >= 0; i-- {
		if refName(idx.Manifests[i], ref) {
			return plain(idx.Manifests[i]), nil
		}
	}
	held := "it has no tags"
	if tags := layoutTags(idx); len(tags) > 0 {
		const shown = 10
		held = "its tags: " + strings.Join(tags[:min(len(tags), shown)], ", ")
		if len(tags) > shown {
			held += fmt.Sprintf(" and %d more", len(tags)-shown)
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("transfer: %s has no tag %q (%s): %w", l, ref, held, acr.ErrNotFound)
}

// layoutTags returns the tags of idx's manifests, in its order.
func layoutTags(idx ocispec.Index) []string {
	var tags []string
	for _, m := range idx.Manifests {
		if n := m.Annotations[ocispec.AnnotationRefName]; n != "" {
			tags = append(tags, n)
		}
	}
	return tags
}

// plain drops a descriptor's annotations, which belong to the index entry.
func plain(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: d.ArtifactType}
}

// Fetch implements Target.
func (l *Layout) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", acr.ErrInvalidReference, err)
	}
	f, err := os.Open(l.blobPath(desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("transfer: %s has no blob %s: %w", l, desc.Digest, acr.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &verifyingReader{r: f, c: f, v: desc.Digest.Verifier(), size: desc.Size, d: desc.Digest}, nil
}

// fetchRaw opens a blob without verifying it, for destinations that do.
func (l *Layout) fetchRaw(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", acr.ErrInvalidReference, err)
	}
	f, err := os.Open(l.blobPath(desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("transfer: %s has no blob %s: %w", l, desc.Digest, acr.ErrNotFound)
	}
	return f, err
}

// Exists implements Target.
func (l *Layout) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if err := desc.Digest.Validate(); err != nil {
		return false, fmt.Errorf("%w: %v", acr.ErrInvalidReference, err)
	}
	fi, err := os.Stat(l.blobPath(desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil && fi.Size() == desc.Size, err
}

// Push implements Target: the content is written to a temporary file while
// it is verified, then renamed into place.
func (l *Layout) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("%w: %v", acr.ErrInvalidReference, err)
	}
	dst := l.blobPath(desc.Digest)
	dir := filepath.Dir(dst)
	if _, ok := l.madeDirs.Load(dir); !ok {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		l.madeDirs.Store(dir, true)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+desc.Digest.Encoded()[:12]+"-*")
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(f.Name())
		}
	}()
	// A self-verifying source fails its last read on a mismatch: hashing
	// again here would only cost CPU. Other sources (what Copy fetches raw
	// for a layout, such as a registry download) are hashed here, for large
	// blobs in a second goroutine while the content is written. The
	// writes go to f in writeSize pieces; the wrapper also keeps
	// io.CopyBuffer from using *os.File's ReadFrom, so that reads fill the
	// larger buffer.
	w := pieceWriter{f}
	v := desc.Digest.Verifier()
	trusted := isSelfVerifying(r)
	var n int64
	switch {
	case trusted:
		n, err = io.CopyBuffer(w, io.LimitReader(r, desc.Size+1), copyBuffer(desc.Size))
		if err == nil && n == desc.Size {
			// Read to the source's EOF so that it checks the digest.
			_, err = r.Read(make([]byte, 1))
			if err == io.EOF {
				err = nil
			}
		}
	case desc.Size >= pipelineMin:
		n, err = copyHashing(w, v, io.LimitReader(r, desc.Size+1))
	default:
		n, err = io.CopyBuffer(io.MultiWriter(w, v), io.LimitReader(r, desc.Size+1), copyBuffer(desc.Size))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != desc.Size || (!trusted && !v.Verified()) {
		return fmt.Errorf("%w: %s: received %d bytes that do not match %s (%d bytes)", acr.ErrDigestMismatch, l, n, desc.Digest, desc.Size)
	}
	if err := rename(f.Name(), dst); err != nil {
		return err
	}
	renamed = true
	if isManifest(desc.MediaType) {
		return l.recordSubject(desc)
	}
	return nil
}

// recordSubject lists a manifest that has a subject in index.json, untagged,
// so that Referrers finds it, as oras does.
func (l *Layout) recordSubject(desc ocispec.Descriptor) error {
	b, err := os.ReadFile(l.blobPath(desc.Digest))
	if err != nil {
		return err
	}
	var m struct {
		Subject *ocispec.Descriptor `json:"subject"`
	}
	if json.Unmarshal(b, &m) != nil || m.Subject == nil {
		return nil
	}
	return l.recordEntry(desc)
}

// recordEntry lists a manifest in index.json, untagged, unless an entry
// (tagged or not) lists it already: an untagged copy's root, or a referrer.
func (l *Layout) recordEntry(desc ocispec.Descriptor) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	for _, e := range idx.Manifests {
		if e.Digest == desc.Digest {
			return nil
		}
	}
	idx.Manifests = append(idx.Manifests, plain(desc))
	return l.writeIndex(idx)
}

// Tag implements Target.
func (l *Layout) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	if err := spec.ValidateTag(ref); err != nil {
		return fmt.Errorf("%w: %v", acr.ErrInvalidReference, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	kept := idx.Manifests[:0]
	for _, e := range idx.Manifests {
		if !refName(e, ref) {
			kept = append(kept, e)
		}
	}
	e := plain(desc)
	e.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	idx.Manifests = append(kept, e)
	return l.writeIndex(idx)
}

// Referrers implements Target: the manifests listed in index.json whose
// subject is desc.
func (l *Layout) Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string) iter.Seq2[ocispec.Descriptor, error] {
	return func(yield func(ocispec.Descriptor, error) bool) {
		idx, err := l.readIndex()
		if err != nil {
			yield(ocispec.Descriptor{}, err)
			return
		}
		seen := map[digest.Digest]bool{}
		for _, e := range idx.Manifests {
			if seen[e.Digest] || !isManifest(e.MediaType) {
				continue
			}
			seen[e.Digest] = true
			b, err := os.ReadFile(l.blobPath(e.Digest))
			if err != nil {
				continue
			}
			var m struct {
				MediaType    string              `json:"mediaType"`
				ArtifactType string              `json:"artifactType"`
				Config       *ocispec.Descriptor `json:"config"`
				Subject      *ocispec.Descriptor `json:"subject"`
				Annotations  map[string]string   `json:"annotations"`
			}
			if json.Unmarshal(b, &m) != nil || m.Subject == nil || m.Subject.Digest != desc.Digest {
				continue
			}
			at := m.ArtifactType
			if at == "" && m.Config != nil {
				at = m.Config.MediaType
			}
			if artifactType != "" && at != artifactType {
				continue
			}
			if !yield(ocispec.Descriptor{MediaType: e.MediaType, Digest: e.Digest, Size: e.Size, ArtifactType: at, Annotations: m.Annotations}, nil) {
				return
			}
		}
	}
}

// verifyingReader checks size and digest at EOF.
type verifyingReader struct {
	r    io.Reader
	c    io.Closer
	v    digest.Verifier
	d    digest.Digest
	size int64
	n    int64
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.v.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF && (v.n != v.size || !v.v.Verified()) {
		return n, fmt.Errorf("%w: %s: stored content (%d bytes) does not match its descriptor (%d bytes)", acr.ErrDigestMismatch, v.d, v.n, v.size)
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.c.Close() }

func (v *verifyingReader) verifies() {}

// rename moves a temporary file over name. Unlike os.Rename it does not
// stat name first (to refuse renaming over a directory, which the
// rename(2) call refuses anyway): one system call less per blob, of the
// five a small blob costs.
func rename(old, name string) error {
	if err := syscall.Rename(old, name); err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: name, Err: err}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside name and renames it.
func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// pipelineMin is the size from which Push hashes in a second goroutine.
const pipelineMin = 4 << 20

// writeSize is the size of the writes to blob files, whatever the size of
// the buffers they come from (see pieceWriter). The kernel gives a write to
// a new file a page-cache folio of the write's size, up to what the file
// system allows; on this machine (kernel 6.18 in a VM that hands free
// memory back to its host after a few seconds) large writes to a new file
// are at times 10-25x slower in system time, most likely because a folio
// larger than 32 KiB (order 3, the largest the per-CPU free lists keep) is
// carved from memory the host took back (not proven). Which sizes suffer
// moves with the machine's state: on 2026-12-05 writes of 1 MiB were slow
// and 512 KiB fast, on the morning of 2026-12-06 512 KiB and more were slow
// and 128-384 KiB fast, and that evening (dd of 1 GiB after 1.5 GiB written
// and deleted, alternating) 256 KiB writes took 2.3-6.8 s in 7 of 9 runs
// and 0.21-0.24 s in the others, while 32 KiB writes took 0.26-0.33 s in 12 of
// 13 (64 and 128 KiB: 0.24-0.27 s with one 3.4 s run). The peers write 32
// KiB and are steady; so is this, for about 0.03 s per GiB of syscalls
// more than the fastest size on a good day.
const writeSize = 32 << 10

// pieceWriter writes to w in writeSize pieces.
type pieceWriter struct{ w io.Writer }

func (p pieceWriter) Write(b []byte) (int, error) {
	var n int
	for len(b) > 0 {
		k := min(len(b), writeSize)
		m, err := p.w.Write(b[:k])
		n += m
		if err == nil && m < k {
			err = io.ErrShortWrite
		}
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}

// bufSize bounds the buffers blobs are copied through: reads from the
// source and the hashing go in pieces this large, fewer syscalls and
// hand-offs than writeSize would take.
const bufSize = 256 << 10

// Buffers of copyHashing: reads fill a buffer, the hashing goroutine and
// the write both read it, and it is reused once both are done.
// pipelineBufs of them (1 MiB per blob in flight) let the reads and
// writes run ahead of the hashing.
var (
	pipelineBufSize = bufSize
	pipelineBufs    = 4
)

// copyHashing copies r to w and feeds the same bytes to h in a second
// goroutine, without copying them again: on two cores a download then
// costs about max(hash, read + write) rather than their sum.
func copyHashing(w, h io.Writer, r io.Reader) (int64, error) {
	work := make(chan []byte, pipelineBufs)
	free := make(chan []byte, pipelineBufs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range work {
			h.Write(b)
			free <- b[:cap(b)]
		}
	}()
	var n int64
	var err error
	allocated := 0
	for {
		var buf []byte
		select {
		case buf = <-free:
		default:
			if allocated < pipelineBufs {
				buf = make([]byte, pipelineBufSize)
				allocated++
			} else {
				buf = <-free
			}
		}
		m, rerr := io.ReadFull(r, buf)
		if m > 0 {
			work <- buf[:m]
			wm, werr := w.Write(buf[:m])
			n += int64(wm)
			if werr == nil && wm < m {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				err = werr
				break
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(work)
	<-done
	return n, err
}

// copyBuffer sizes a copy buffer to the content, up to bufSize: large
// reads for large blobs, no large allocations for thousands of small ones.
func copyBuffer(size int64) []byte {
	return make([]byte, min(max(size+1, 512), bufSize))
}
