package purge_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/purge"
)

// TestDeniedRepository: a repository the credential may not read is
// reported and skipped; the others are purged (acr-cli#523).
func TestDeniedRepository(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("open", "a", "v1")
	e.at(1).image("secret", "b", "v1")
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/secret") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
			return
		}
		e.srv.Registry.ServeHTTP(w, r)
	}))
	defer hs.Close()
	client, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(day(30))
	res, err := purge.Run(t.Context(), client, &purge.Options{Filters: filters(".*:.*"), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deleted", refs(res.Deleted), tagRefs("open", "v1"))
	if len(res.Failed) != 1 || res.Failed[0].Item.Ref() != "secret" || !errors.Is(res.Failed[0].Err, acr.ErrForbidden) {
		t.Errorf("failed: %+v", res.Failed)
	}
	if res.Complete() {
		t.Error("Complete() with a repository failed")
	}
	if !e.hasTag("secret", "v1") {
		t.Error("secret:v1 is gone")
	}
}
