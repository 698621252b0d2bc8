package emulator

import (
	"errors"
	"net/http"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
)

// handleBlob serves /v2/{name}/blobs/{digest} (OCI distribution spec:
// "Pulling blobs", "Deleting Blobs"). Reads go through http.ServeContent,
// which answers Range requests with 206 and, for disk stores, sends the
// file with sendfile.
func (s *Server) handleBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	d, err := spec.ParseDigest(rt.ref)
	if err != nil {
		return newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "%v", err)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		err := s.store.View(r.Context(), func(tx store.Tx) error {
			repo, err := getRepo(tx, rt.repo)
			if err != nil {
				return err
			}
			if err := checkRead(repo.Attrs, "repository "+rt.repo); err != nil {
				return err
			}
			if _, ok, err := tx.BlobLink(rt.repo, d); err != nil {
				return err
			} else if !ok {
				return blobUnknown(rt.repo, d.String())
			}
			return nil
		})
		if err != nil {
			return err
		}
		f, err := s.store.OpenBlob(r.Context(), d)
		if errors.Is(err, store.ErrNotFound) {
			return blobUnknown(rt.repo, d.String())
		}
		if err != nil {
			return err
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set(spec.HeaderContentDigest, d.String())
		h.Set("ETag", `"`+d.String()+`"`)
		h.Set("Cache-Control", "max-age=31536000")
		http.ServeContent(w, r, "", time.Time{}, f)
		return nil
	case http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		err := s.store.Update(r.Context(), func(tx store.Tx) error {
			repo, err := getRepo(tx, rt.repo)
			if err != nil {
				return err
			}
			if err := checkDelete(repo.Attrs, "repository "+rt.repo); err != nil {
				return err
			}
			if _, ok, err := tx.BlobLink(rt.repo, d); err != nil {
				return err
			} else if !ok {
				return blobUnknown(rt.repo, d.String())
			}
			return tx.DeleteBlobLink(rt.repo, d)
		})
		if err != nil {
			return err
		}
		w.Header().Set(spec.HeaderContentDigest, d.String())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return methodNotAllowed(r)
}

func blobUnknown(repo, d string) error {
	return &apiError{status: http.StatusNotFound, code: spec.ErrorCodeBlobUnknown, detail: d,
		message: "blob unknown to registry: " + d + " is not in repository " + repo}
}
