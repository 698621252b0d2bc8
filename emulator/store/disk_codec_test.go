package store

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// viaJSON returns v as a JSON record of it decodes: binary records must
// decode to the same. Strings that are not UTF-8, which JSON replaces and
// registry names and digests never hold, are skipped.
func viaJSON[T any](t *testing.T, v T, strs ...string) T {
	t.Helper()
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Skip("not UTF-8")
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Skip("not encodable as JSON:", err)
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// fuzzTime builds a time in a zone of offset minutes.
func fuzzTime(sec int64, nsec uint32, offMin int16) time.Time {
	t := time.Unix(sec%(1<<35), int64(nsec%1e9))
	if offMin%(24*60) == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("Z", int(offMin%(24*60))*60))
}

// FuzzTagRecord: a tag's binary record decodes to what its JSON record
// decodes to, and no record makes the decoder panic.
func FuzzTagRecord(f *testing.F) {
	f.Add("latest", "sha256:0000000000000000000000000000000000000000000000000000000000000000", int64(1765000000), uint32(5), int16(0), byte(15), []byte{1, 2})
	f.Add("v1.0", "sha512:ab", int64(-62135596800), uint32(0), int16(120), byte(3), []byte("{}"))
	f.Add("x", "sha256:ABCDEF", int64(0), uint32(999999999), int16(-330), byte(0), []byte{})
	f.Fuzz(func(t *testing.T, name, d string, sec int64, nsec uint32, off int16, attrs byte, junk []byte) {
		decodeTagRecord([]byte(name), junk, nil) // must not panic
		if name == "" {
			return
		}
		at := fuzzTime(sec, nsec, off)
		tag := Tag{Name: name, Digest: digest.Digest(d), CreatedAt: at, UpdatedAt: at.Add(time.Duration(nsec)),
			Attrs: Attributes{DeleteEnabled: attrs&1 != 0, WriteEnabled: attrs&2 != 0, ReadEnabled: attrs&4 != 0, ListEnabled: attrs&8 != 0}}
		want := viaJSON(t, tag, name, d)
		got, err := decodeTagRecord([]byte(name), encodeTag(tag), nil)
		if err != nil {
			t.Fatalf("decodeTagRecord(encodeTag(%+v)): %v", tag, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("tag through its binary record differs from through JSON (-json +binary):\n%s", diff)
		}
	})
}

// FuzzManifestRecord: a manifest's binary record decodes to what its JSON
// record, without annotations, decodes to.
func FuzzManifestRecord(f *testing.F) {
	f.Add("sha256:1111111111111111111111111111111111111111111111111111111111111111", "application/vnd.oci.image.manifest.v1+json",
		"", "linux", "sha256:2222222222222222222222222222222222222222222222222222222222222222", int64(500), 2, int64(1765000000), int16(60), []byte{1})
	f.Add("sha512:x", "text/plain", "application/vnd.example", "plan9", "", int64(-1), 0, int64(0), int16(0), []byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, d, mediaType, artifactType, os, blob string, size int64, n int, sec int64, off int16, junk []byte) {
		decodeManifestRecord([]byte(d), junk, true) // must not panic
		if d == "" {
			return
		}
		at := fuzzTime(sec, uint32(size), off)
		m := Manifest{Digest: digest.Digest(d), MediaType: mediaType, Size: size, ArtifactType: artifactType,
			ConfigMediaType: mediaType + "+config", Subject: digest.Digest(blob), Architecture: artifactType, OS: os, ImageSize: -size,
			CreatedAt: at, UpdatedAt: at, Attrs: Attributes{ReadEnabled: size%2 == 0, ListEnabled: true}}
		for i := range n % 5 {
			m.Blobs = append(m.Blobs, digest.Digest(blob+string(rune('a'+i))), digest.Digest(blob))
			m.Children = append(m.Children, Platform{Digest: digest.Digest(blob), Architecture: os, OS: mediaType})
		}
		want := viaJSON(t, m, d, mediaType, artifactType, os, blob)
		got, err := decodeManifestRecord([]byte(d), encodeManifest(m), false)
		if err != nil {
			t.Fatalf("decodeManifestRecord(encodeManifest(%+v)): %v", m, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("manifest through its binary record differs from through JSON (-json +binary):\n%s", diff)
		}
	})
}

// TestRecordSizes: the binary records are several times smaller than the
// JSON ones, which is why they exist.
func TestRecordSizes(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 0, 0, 123456789, time.UTC)
	d := digest.FromString("m")
	tag := Tag{Name: "t00001", Digest: d, CreatedAt: at, UpdatedAt: at, Attrs: DefaultAttributes()}
	m := Manifest{Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 400,
		ConfigMediaType: "application/vnd.oci.empty.v1+json", ImageSize: 402, Blobs: []digest.Digest{digest.FromString("{}")},
		CreatedAt: at, UpdatedAt: at, Attrs: DefaultAttributes()}
	tj, _ := json.Marshal(tag)
	mj, _ := json.Marshal(m)
	tb, mb := encodeTag(tag), encodeManifest(m)
	t.Logf("tag: %d bytes as JSON, %d binary; manifest: %d as JSON, %d binary", len(tj), len(tb), len(mj), len(mb))
	if 3*len(tb) > len(tj) || 4*len(mb) > len(mj) {
		t.Errorf("binary records of %d and %d bytes, want under a third of the tag's JSON (%d) and a quarter of the manifest's (%d)",
			len(tb), len(mb), len(tj), len(mj))
	}
}

// TestRecordUnknownFormat: a record whose first byte is neither binary's
// nor JSON's is refused with an error saying so, through the store's
// reads as well.
func TestRecordUnknownFormat(t *testing.T) {
	rec := append([]byte{0x02}, encodeTag(Tag{Name: "t"})[1:]...)
	if _, err := decodeTagRecord([]byte("t"), rec, nil); err == nil || !strings.Contains(err.Error(), "unknown format 0x2") {
		t.Errorf("decodeTagRecord of format 2: got %v, want an error naming the unknown format", err)
	}
	if _, err := decodeManifestRecord([]byte("d"), rec, false); err == nil || !strings.Contains(err.Error(), "unknown format 0x2") {
		t.Errorf("decodeManifestRecord of format 2: got %v, want an error naming the unknown format", err)
	}
	st, err := OpenDisk(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*diskStore)
	defer s.Close()
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTags).Put(itemKey("r", "t"), rec) })
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(t.Context(), func(tx Tx) error {
		_, _, err := tx.Tag("r", "t")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "later build") || !strings.Contains(err.Error(), `"r"`) {
		t.Errorf("Tag of a record of format 2: got %v, want an error naming the repository and a later build", err)
	}
}

// TestTextSlab: strings carved from a slab keep their bytes while more are
// carved after them from the same buffer, across blocks and for lengths
// from empty to past a block's quarter.
func TestTextSlab(t *testing.T) {
	var slab textSlab
	var got, want []string
	buf := make([]byte, 0, 4*textSlabBlock)
	for i := range 5000 {
		n := (i * 37) % (textSlabBlock/4 + 40)
		buf = buf[:0]
		for j := range n {
			buf = append(buf, byte('a'+(i+j)%26))
		}
		got = append(got, slab.string(buf))
		want = append(want, string(buf))
		clear(buf[:n]) // the caller's buffer is reused
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d: %q, want %q", i, got[i], want[i])
		}
	}
	var none *textSlab
	if s := none.string([]byte("v1")); s != "v1" {
		t.Errorf("nil slab: %q", s)
	}
}
