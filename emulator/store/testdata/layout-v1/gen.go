//go:build ignore

// Command gen writes this directory's meta.db, a store's metadata in
// layout version 1, and want.json, what that store's transactions read back
// from it, for TestDiskMigrateV1. It must run against the code that wrote
// layout version 1 (commit 1513a32 or before), from a checkout of it:
//
//	cp gen.go dump.go.txt /tmp && cd CHECKOUT && mkdir -p /tmp/gen && \
//	  cp /tmp/gen.go /tmp/gen/main.go && cp /tmp/dump.go.txt /tmp/gen/dump.go && \
//	  mv /tmp/gen ./gen && go run ./gen OUTDIR && rm -r ./gen
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

func main() {
	out := os.Args[1]
	dir, err := os.MkdirTemp("", "gen-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := store.OpenDisk(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Update(ctx, fill); err != nil {
		log.Fatal(err)
	}
	s.Close()
	// A manifest record written before annotations were kept apart holds
	// them inline.
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		log.Fatal(err)
	}
	legacy := digest.FromString("legacy manifest")
	rec := `{"digest":"` + legacy.String() + `","mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"imageSize":10,` +
		`"annotations":{"k":"v"},"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","attrs":{}}`
	err = db.Update(func(tx *bolt.Tx) error {
		rb, err := tx.Bucket([]byte("repos")).CreateBucketIfNotExists([]byte("legacy"))
		if err != nil {
			return err
		}
		mb, err := rb.CreateBucketIfNotExists([]byte("manifests"))
		if err != nil {
			return err
		}
		return mb.Put([]byte(legacy.String()), []byte(rec))
	})
	db.Close()
	if err != nil {
		log.Fatal(err)
	}
	s, err = store.OpenDisk(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	var want fixtureDump
	err = s.View(ctx, func(tx store.Tx) error {
		var err error
		want, err = dump(tx)
		return err
	})
	s.Close()
	if err != nil {
		log.Fatal(err)
	}
	js, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "want.json"), append(js, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "meta.db"))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "meta.db"), data, 0o644); err != nil {
		log.Fatal(err)
	}
}

// fill writes every kind of metadata, in repositories whose names are
// prefixes of one another.
func fill(tx store.Tx) error {
	at := func(sec int) time.Time { return time.Date(2026, 12, 6, 5, 0, sec, 123456789, time.UTC) }
	attrs := store.DefaultAttributes()
	locked := store.Attributes{ReadEnabled: true, ListEnabled: true}
	d := func(s string) digest.Digest { return digest.FromString(s) }
	var errs []error
	try := func(err error) { errs = append(errs, err) }
	for i, name := range []string{"app", "app/sub", "app-x", "empty", "many"} {
		try(tx.PutRepo(store.Repository{Name: name, CreatedAt: at(i), UpdatedAt: at(i + 10), Attrs: attrs}))
	}
	try(tx.PutRepo(store.Repository{Name: "locked", CreatedAt: at(1), UpdatedAt: at(2), Attrs: locked}))
	img := store.Manifest{Digest: d("img"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 500,
		ConfigMediaType: "application/vnd.oci.image.config.v1+json", Architecture: "amd64", OS: "linux", ImageSize: 7000,
		Annotations: map[string]string{"org.opencontainers.image.created": "2026-12-06"},
		Blobs:       []digest.Digest{d("config"), d("layer")}, CreatedAt: at(20), UpdatedAt: at(21), Attrs: attrs}
	idx := store.Manifest{Digest: d("idx"), MediaType: "application/vnd.oci.image.index.v1+json", Size: 300,
		Children: []store.Platform{{Digest: d("img"), Architecture: "amd64", OS: "linux"}}, CreatedAt: at(22), UpdatedAt: at(22), Attrs: locked}
	sig := store.Manifest{Digest: d("sig"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 200,
		ArtifactType: "application/vnd.example.sig", Subject: d("img"), CreatedAt: at(23), UpdatedAt: at(23), Attrs: attrs}
	for _, m := range []store.Manifest{img, idx, sig} {
		try(tx.PutManifest("app", m))
	}
	try(tx.PutReferrer("app", sig.Subject, sig.Digest))
	try(tx.PutReferrer("app", sig.Subject, d("sig2")))
	try(tx.PutTag("app", store.Tag{Name: "latest", Digest: img.Digest, CreatedAt: at(30), UpdatedAt: at(31), Attrs: attrs}))
	try(tx.PutTag("app", store.Tag{Name: "v1", Digest: idx.Digest, CreatedAt: at(32), UpdatedAt: at(32), Attrs: locked}))
	for _, l := range []string{"config", "layer"} {
		try(tx.PutBlobLink("app", store.BlobLink{Digest: d(l), Size: 100, CreatedAt: at(19)}))
	}
	try(tx.PutManifest("app/sub", store.Manifest{Digest: d("sub"), MediaType: "x", Size: 1, CreatedAt: at(40), UpdatedAt: at(40), Attrs: attrs}))
	try(tx.PutTag("app/sub", store.Tag{Name: "latest", Digest: d("sub"), CreatedAt: at(41), UpdatedAt: at(41), Attrs: attrs}))
	try(tx.PutTag("app-x", store.Tag{Name: "x", Digest: d("x"), CreatedAt: at(42), UpdatedAt: at(42), Attrs: attrs}))
	for i := range 70 { // past the disk store's scanBatch
		name := fmt.Sprintf("t%03d", i)
		try(tx.PutManifest("many", store.Manifest{Digest: d(name), MediaType: "x", Size: int64(i), CreatedAt: at(50), UpdatedAt: at(50), Attrs: attrs}))
		try(tx.PutTag("many", store.Tag{Name: name, Digest: d(name), CreatedAt: at(50), UpdatedAt: at(51), Attrs: attrs}))
	}
	// Content without a record.
	try(tx.PutTag("norecord", store.Tag{Name: "t", Digest: d("n"), CreatedAt: at(52), UpdatedAt: at(52), Attrs: attrs}))
	try(tx.PutBlobLink("norecord", store.BlobLink{Digest: d("n"), Size: 3, CreatedAt: at(52)}))
	// Soft-deleted records, in a repository that exists and in one that
	// does not.
	gone := store.Manifest{Digest: d("gone"), MediaType: "x", Size: 9, Blobs: []digest.Digest{d("gl")}, CreatedAt: at(1), UpdatedAt: at(1), Attrs: attrs}
	try(tx.PutDeleted("app", store.Deleted{Key: store.DeletedKey(store.DeletedTagKind, "old", at(53)), DeletedAt: at(53), ExpiresAt: at(59),
		Tag: &store.Tag{Name: "old", Digest: d("old"), CreatedAt: at(1), UpdatedAt: at(1), Attrs: attrs}}))
	try(tx.PutDeleted("gone", store.Deleted{Key: store.DeletedKey(store.DeletedManifestKind, gone.Digest.String(), at(54)), DeletedAt: at(54),
		ExpiresAt: at(58), Manifest: &gone, Tags: []string{"a", "b"}}))
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
