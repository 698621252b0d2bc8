package emulator

import (
	"fmt"
	"net/http"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// getRepo returns a repository or NAME_UNKNOWN. A repository that holds
// only blobs (no manifest was ever pushed to it) is NAME_UNKNOWN too, as in
// the reference registry, whose catalog and tag list know a repository from
// its first manifest on; the blob routes use getBlobRepo.
func getRepo(tx store.Tx, name string) (store.Repository, error) {
	repo, err := getBlobRepo(tx, name)
	if err == nil && repo.BlobsOnly {
		return repo, errRepoUnknown(name)
	}
	return repo, err
}

// getBlobRepo returns a repository, also one that holds only blobs, or
// NAME_UNKNOWN.
func getBlobRepo(tx store.Tx, name string) (store.Repository, error) {
	repo, ok, err := tx.Repo(name)
	if err != nil {
		return repo, err
	}
	if !ok {
		return repo, errRepoUnknown(name)
	}
	return repo, nil
}

func errRepoUnknown(name string) error {
	return newError(http.StatusNotFound, spec.ErrorCodeNameUnknown, "repository %q is not found", name)
}

// ensureRepo returns a repository for a manifest, creating it when missing
// and making it known when it held only blobs.
func ensureRepo(tx store.Tx, name string, now time.Time) (store.Repository, error) {
	repo, ok, err := tx.Repo(name)
	if err != nil || (ok && !repo.BlobsOnly) {
		return repo, err
	}
	if ok {
		repo.BlobsOnly = false
		repo.UpdatedAt = now
	} else {
		repo = store.Repository{Name: name, CreatedAt: now, UpdatedAt: now, Attrs: store.DefaultAttributes()}
	}
	return repo, tx.PutRepo(repo)
}

// ensureBlobRepo returns a repository for a blob, creating it, marked as
// holding only blobs, when missing.
func ensureBlobRepo(tx store.Tx, name string, now time.Time) error {
	_, ok, err := tx.Repo(name)
	if err != nil || ok {
		return err
	}
	return tx.PutRepo(store.Repository{Name: name, CreatedAt: now, UpdatedAt: now, Attrs: store.DefaultAttributes(), BlobsOnly: true})
}

// touchRepo records a change to a repository's content.
func touchRepo(tx store.Tx, repo store.Repository, now time.Time) error {
	repo.UpdatedAt = now
	return tx.PutRepo(repo)
}

// resolved is a manifest reference resolved inside a transaction.
type resolved struct {
	manifest store.Manifest
	tag      *store.Tag // set when the reference was a tag
}

// resolveRef resolves a tag or digest to a manifest of repo, or returns
// MANIFEST_UNKNOWN.
func resolveRef(tx store.Tx, repo, ref string) (resolved, error) {
	var res resolved
	var d digest.Digest
	if spec.IsDigest(ref) {
		var err error
		if d, err = spec.ParseDigest(ref); err != nil {
			return res, newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "%v", err)
		}
	} else {
		if err := spec.ValidateTag(ref); err != nil {
			return res, newError(http.StatusBadRequest, spec.ErrorCodeTagInvalid, "%v", err)
		}
		t, ok, err := tx.Tag(repo, ref)
		if err != nil {
			return res, err
		}
		if !ok {
			return res, manifestTagUnknown(ref)
		}
		res.tag = &t
		d = t.Digest
	}
	m, ok, err := tx.Manifest(repo, d)
	if err != nil {
		return res, err
	}
	if !ok {
		return res, newError(http.StatusNotFound, spec.ErrorCodeManifestUnknown, "manifest unknown: %s is not in repository %q", d, repo)
	}
	res.manifest = m
	return res, nil
}

// manifestTagUnknown is ACR's 404 for a manifest requested by a tag it does
// not have (G TestClient_GetManifest_wrongTag).
func manifestTagUnknown(tag string) error {
	return &apiError{status: http.StatusNotFound, code: spec.ErrorCodeManifestUnknown,
		message: fmt.Sprintf("manifest tagged by %q is not found", tag), detail: map[string]string{"Tag": tag}}
}

// tagUnknown is ACR's 404 for tag properties of a tag it does not have
// (G TestClient_GetTagProperties_wrongTag).
func tagUnknown() error {
	return newError(http.StatusNotFound, spec.ErrorCodeTagUnknown, "the specified tag does not exist")
}

// tagsOf returns the tags of repo that point at d, in name order.
func tagsOf(tx store.Tx, repo string, d digest.Digest) ([]store.Tag, error) {
	var out []store.Tag
	for t, err := range tx.Tags(repo, "") {
		if err != nil {
			return nil, err
		}
		if t.Digest == d {
			out = append(out, t)
		}
	}
	return out, nil
}
