package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/emulator/store"
	"github.com/opencontainers/go-digest"
)

// secretPath is in the errors of brokenStore: no answer may carry it.
const secretPath = "/srv/registry-secret/data/meta.db"

// brokenStore is a memory store whose metadata and blob reads fail, while
// broken is set, with an error that names a file of the server, as a disk
// store's I/O errors do.
type brokenStore struct {
	store.Store
	broken atomic.Bool
}

func (s *brokenStore) fail() error {
	if s.broken.Load() {
		return errors.New("read " + secretPath + ": input/output error")
	}
	return nil
}

func (s *brokenStore) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.View(ctx, fn)
}

func (s *brokenStore) OpenBlob(ctx context.Context, d digest.Digest) (store.BlobReader, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.OpenBlob(ctx, d)
}

// TestInternalErrorsHideDetail: a 500 from the registry, and an
// InternalError from its storage endpoint, tell the client no more than
// that the server failed: the detail, which names the server's files, goes
// to the log, under the id the answer carries.
func TestInternalErrorsHideDetail(t *testing.T) {
	var logged bytes.Buffer
	bs := &brokenStore{Store: store.NewMemory()}
	reg, err := emulator.New(&emulator.Options{Store: bs, BlobStorageURL: "http://storage.example/s",
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	hs := httptest.NewServer(reg)
	defer hs.Close()
	hc := hs.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &client{t: t, base: hs.URL, hc: hc}
	d := c.pushBlob("app", []byte("layer"))
	loc := c.do("GET", "/v2/app/blobs/"+d.String(), nil).want(t, http.StatusTemporaryRedirect).Header.Get("Location")

	bs.broken.Store(true)
	r := c.do("GET", "/v2/app/tags/list", nil).want(t, http.StatusInternalServerError)
	if strings.Contains(string(r.body), secretPath) || !strings.Contains(string(r.body), "log") {
		t.Errorf("500 body %s: want a generic message that points to the server's log, without %s", r.body, secretPath)
	}
	if id := r.Header.Get("X-Ms-Correlation-Request-Id"); !strings.Contains(logged.String(), secretPath) || !strings.Contains(logged.String(), id) {
		t.Errorf("the log %q does not hold the detail under the answer's id %s", logged.String(), id)
	}

	w := httptest.NewRecorder()
	reg.StorageHandler().ServeHTTP(w, httptest.NewRequest("GET", loc, nil))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), secretPath) || !strings.Contains(w.Body.String(), "InternalError") {
		t.Errorf("storage answer while the store fails: %d %s, want 500 InternalError without %s", w.Code, w.Body, secretPath)
	}
}
