package store

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/opencontainers/go-digest"
)

// Tag and manifest records in meta.db are binary: a registry holds many
// of them, and listings read them all. As JSON a tag took about 300 bytes
// and a manifest about 500 (media types, 71-character digests, field
// names, RFC 3339 times); binary, about 55 and 70, so that 100,000 tags and
// their manifests fit in a third of the pages. The name or digest is the
// record's key and is not repeated; manifests' annotations are kept apart
// (bucketAnnotations), as JSON.
//
// A binary record starts with recordBinary; a JSON record, written before
// layout version 2 or converted from version 1, starts with '{' and is
// still read. Any other first byte is a format of a later build, which
// would also have raised formatVersion.
const recordBinary = 0x01

// mediaTypes are strings common in records, written as their index: the
// list is part of the format, so entries are only ever appended, and
// appending one raises formatVersion, so that an older build refuses a
// file holding indexes it does not know rather than reading it as damaged.
var mediaTypes = []string{
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.config.v1+json",
	"application/vnd.docker.container.image.v1+json",
	"application/vnd.oci.empty.v1+json",
	"amd64",
	"arm64",
	"linux",
	"windows",
	"arm",
	"386",
	"ppc64le",
	"s390x",
	"riscv64",
	"unknown",
}

var mediaTypeIndex = func() map[string]int {
	m := make(map[string]int, len(mediaTypes))
	for i, s := range mediaTypes {
		m[s] = i
	}
	return m
}()

// recordWriter appends a binary record's fields.
type recordWriter struct{ b []byte }

func (w *recordWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *recordWriter) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }

// str writes a string as a uvarint x: 0 for "", 2i+1 for mediaTypes[i],
// 2n for a literal of n bytes that follows.
func (w *recordWriter) str(s string) {
	if s == "" {
		w.uint(0)
		return
	}
	if i, ok := mediaTypeIndex[s]; ok {
		w.uint(uint64(2*i + 1))
		return
	}
	w.uint(uint64(2 * len(s)))
	w.b = append(w.b, s...)
}

// digest writes a canonical sha256 digest as 1 and its 32 bytes, anything
// else as 0 and the string.
func (w *recordWriter) digest(d digest.Digest) {
	if sum, ok := sha256Bytes(d); ok {
		w.b = append(w.b, 1)
		w.b = append(w.b, sum...)
		return
	}
	w.b = append(w.b, 0)
	w.str(string(d))
}

// time writes a time as Unix seconds, nanoseconds and its zone's offset
// in seconds: what JSON keeps of it.
func (w *recordWriter) time(t time.Time) {
	_, off := t.Zone()
	w.int(t.Unix())
	w.uint(uint64(t.Nanosecond()))
	w.int(int64(off))
}

func (w *recordWriter) attrs(a Attributes) {
	var f byte
	for i, set := range []bool{a.DeleteEnabled, a.WriteEnabled, a.ReadEnabled, a.ListEnabled} {
		if set {
			f |= 1 << i
		}
	}
	w.b = append(w.b, f)
}

func sha256Bytes(d digest.Digest) ([]byte, bool) {
	const prefix = "sha256:"
	s := string(d)
	if len(s) != len(prefix)+64 || s[:len(prefix)] != prefix {
		return nil, false
	}
	for _, c := range s[len(prefix):] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, false
		}
	}
	sum, err := hex.DecodeString(s[len(prefix):])
	return sum, err == nil
}

var errCorruptRecord = errors.New("truncated or malformed binary record")

// checkFormat returns an error for a record that is neither binary nor
// JSON.
func checkFormat(v []byte) error {
	if len(v) > 0 && v[0] != recordBinary && v[0] != '{' {
		return fmt.Errorf("record of unknown format %#x: meta.db is damaged, or was written by a later build than this one", v[0])
	}
	return nil
}

// recordReader reads a binary record's fields; the first error sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) fail() {
	if r.err == nil {
		r.err = errCorruptRecord
	}
	r.b = nil
}

func (r *recordReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// str returns a copy: the record may point into the database's pages.
func (r *recordReader) str() string {
	x := r.uint()
	switch {
	case x == 0:
		return ""
	case x%2 == 1:
		if i := x / 2; i < uint64(len(mediaTypes)) {
			return mediaTypes[i]
		}
	case x/2 <= uint64(len(r.b)):
		s := string(r.b[:x/2])
		r.b = r.b[x/2:]
		return s
	}
	r.fail()
	return ""
}

func (r *recordReader) digest() digest.Digest {
	var text [len("sha256:") + 64]byte
	return digest.Digest(r.appendDigest(text[:0]))
}

// appendDigest appends the text of the digest that comes next to b.
func (r *recordReader) appendDigest(b []byte) []byte {
	switch r.byte() {
	case 0:
		return append(b, r.str()...)
	case 1:
		if len(r.b) < 32 {
			break
		}
		b = hex.AppendEncode(append(b, "sha256:"...), r.b[:32])
		r.b = r.b[32:]
		return b
	}
	r.fail()
	return b
}

// time decodes what recordWriter.time wrote into the time JSON would have
// decoded: UTC for a zero offset, Local where its offset matches, else a
// fixed zone.
func (r *recordReader) time() time.Time {
	sec, nsec, off := r.int(), r.uint(), r.int()
	if nsec >= 1e9 || off != int64(int32(off)) {
		r.fail()
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if off == 0 {
		return t.UTC()
	}
	if _, local := t.Zone(); int64(local) == off {
		return t
	}
	return t.In(time.FixedZone("", int(off)))
}

func (r *recordReader) attrs() Attributes {
	f := r.byte()
	return Attributes{DeleteEnabled: f&1 != 0, WriteEnabled: f&2 != 0, ReadEnabled: f&4 != 0, ListEnabled: f&8 != 0}
}

// count reads a list's length, at most what the rest of the record could
// hold at min bytes an element.
func (r *recordReader) count(min int) int {
	n := r.uint()
	if n > uint64(len(r.b)/min) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *recordReader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorruptRecord
	}
	return r.err
}

// encodeTag returns tag's record; its name is the key.
func encodeTag(tag Tag) []byte {
	w := recordWriter{b: make([]byte, 0, 64)}
	w.b = append(w.b, recordBinary)
	w.attrs(tag.Attrs)
	w.digest(tag.Digest)
	w.time(tag.CreatedAt)
	w.time(tag.UpdatedAt)
	return w.b
}

// decodeTagRecord decodes the record v of the tag named name, its name
// and digest into one string from slab (nil: a string of their own).
func decodeTagRecord(name, v []byte, slab *textSlab) (Tag, error) {
	if err := checkFormat(v); err != nil {
		return Tag{}, err
	}
	if len(v) > 0 && v[0] != recordBinary {
		return decodeTag(v)
	}
	r := recordReader{b: v[min(len(v), 1):]}
	if len(v) == 0 {
		r.fail()
	}
	attrs := r.attrs()
	// The name and the digest share one string: a listing decodes a
	// thousand tags a page.
	var buf [160]byte
	text := slab.string(r.appendDigest(append(buf[:0], name...)))
	tag := Tag{Name: text[:len(name)], Digest: digest.Digest(text[len(name):]), Attrs: attrs}
	tag.CreatedAt = r.time()
	tag.UpdatedAt = r.time()
	return tag, r.end()
}

// encodeManifest returns m's record, without its annotations; its digest
// is the key.
func encodeManifest(m Manifest) []byte {
	w := recordWriter{b: make([]byte, 0, 96)}
	w.b = append(w.b, recordBinary)
	w.str(m.MediaType)
	w.int(m.Size)
	w.str(m.ArtifactType)
	w.str(m.ConfigMediaType)
	w.digest(m.Subject)
	w.str(m.Architecture)
	w.str(m.OS)
	w.int(m.ImageSize)
	w.uint(uint64(len(m.Blobs)))
	for _, b := range m.Blobs {
		w.digest(b)
	}
	w.uint(uint64(len(m.Children)))
	for _, c := range m.Children {
		w.digest(c.Digest)
		w.str(c.Architecture)
		w.str(c.OS)
	}
	w.time(m.CreatedAt)
	w.time(m.UpdatedAt)
	w.attrs(m.Attrs)
	return w.b
}

// decodeManifestRecord decodes the record v of the manifest with digest
// d. A JSON record may hold the manifest's annotations; they are decoded
// only when annotations is set.
func decodeManifestRecord(d, v []byte, annotations bool) (Manifest, error) {
	if err := checkFormat(v); err != nil {
		return Manifest{}, err
	}
	if len(v) > 0 && v[0] != recordBinary {
		if annotations {
			var m Manifest
			err := json.Unmarshal(v, &m)
			return m, err
		}
		var s summary
		err := json.Unmarshal(v, &s)
		return s.Manifest, err
	}
	r := recordReader{b: v[min(len(v), 1):]}
	if len(v) == 0 {
		r.fail()
	}
	m := Manifest{Digest: digest.Digest(d)}
	m.MediaType = r.str()
	m.Size = r.int()
	m.ArtifactType = r.str()
	m.ConfigMediaType = r.str()
	m.Subject = r.digest()
	m.Architecture = r.str()
	m.OS = r.str()
	m.ImageSize = r.int()
	if n := r.count(2); n > 0 {
		m.Blobs = make([]digest.Digest, n)
		for i := range m.Blobs {
			m.Blobs[i] = r.digest()
		}
	}
	if n := r.count(4); n > 0 {
		m.Children = make([]Platform, n)
		for i := range m.Children {
			m.Children[i] = Platform{Digest: r.digest(), Architecture: r.str(), OS: r.str()}
		}
	}
	m.CreatedAt = r.time()
	m.UpdatedAt = r.time()
	m.Attrs = r.attrs()
	if err := r.end(); err != nil {
		return Manifest{}, fmt.Errorf("manifest %s: %w", d, err)
	}
	return m, nil
}

// textSlab hands out strings carved from shared blocks, one allocation a
// block rather than one a string: the disk registry's 1,000-tag page
// allocated a string for each tag. A string keeps its whole block alive,
// so a slab is for strings that are dropped together, such as one
// listing's. The nil slab allocates each string on its own.
type textSlab struct {
	block []byte // the current block; strings were carved from block[:len(block)]
}

// textSlabBlock is the size of a slab's block: about a hundred tags.
const textSlabBlock = 8 << 10

// string returns a string holding b's bytes.
func (s *textSlab) string(b []byte) string {
	if s == nil || len(b) == 0 || len(b) > textSlabBlock/4 {
		return string(b)
	}
	if cap(s.block)-len(s.block) < len(b) {
		s.block = make([]byte, 0, textSlabBlock)
	}
	start := len(s.block)
	s.block = append(s.block, b...)
	// The bytes from start on are never written again: later strings are
	// appended after them, and a full block is replaced, not reused.
	return unsafe.String(&s.block[start], len(b))
}
