package acr_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// TestGranted asks the local registry's token service what credentials
// may do, as a scope-mapped ACR token, the admin user and an anonymous
// client are granted, without doing it: nothing is deleted.
func TestGranted(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{AnonymousPull: true,
		Users: map[string]string{"admin": "a", "ci": "c"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {
			{Repository: "app", Actions: []string{"content/read", "metadata/read"}},
			{Repository: "web", Actions: []string{"content/read", "metadata/read", "content/delete"}},
		}}})
	srv.PushImage(t, "app", "v1")
	client := func(cred acr.Credential) *acr.Client {
		c, err := acr.NewClient(srv.URL, cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name      string
		cred      acr.Credential
		repo      string
		actions   []string
		allows    []string
		disallows []string
	}{
		{"scope map without delete", acr.BasicCredential("ci", "c"), "app", []string{"metadata_read", "delete"}, []string{"metadata_read"}, []string{"delete"}},
		{"scope map with delete", acr.BasicCredential("ci", "c"), "web", []string{"metadata_read", "delete"}, []string{"metadata_read", "delete"}, nil},
		{"admin", acr.BasicCredential("admin", "a"), "app", []string{"delete", "metadata_write"}, []string{"delete", "metadata_write"}, nil},
		{"anonymous pull", nil, "app", []string{"pull", "delete"}, []string{"pull"}, []string{"delete"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := client(tc.cred).Granted(t.Context(), tc.repo, tc.actions...)
			if err != nil {
				t.Fatal(err)
			}
			if !g.Known {
				t.Fatalf("Granted: %+v, want Known: the registry issues tokens that list what they grant", g)
			}
			for _, a := range tc.allows {
				if !g.Allows(a) {
					t.Errorf("Granted %v: %s not allowed, want it allowed", g.Actions, a)
				}
			}
			for _, a := range tc.disallows {
				if g.Allows(a) {
					t.Errorf("Granted %v: %s allowed, want it refused", g.Actions, a)
				}
			}
		})
	}
	// What Granted says is what the registry does.
	err := client(acr.BasicCredential("ci", "c")).DeleteTag(t.Context(), "app", "v1")
	if err == nil {
		t.Error("the scope-mapped user deleted app:v1, which Granted said it may not")
	}
	if _, err := client(acr.BasicCredential("admin", "a")).GetTagProperties(t.Context(), "app", "v1"); err != nil {
		t.Errorf("app:v1 after the refused delete: %v", err)
	}
}

// TestGrantedUnknown: a registry that authenticates nobody cannot say;
// Granted asks it once, not at every call.
func TestGrantedUnknown(t *testing.T) {
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var requests atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		reg.ServeHTTP(w, r)
	}))
	defer hs.Close()
	c, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		g, err := c.Granted(t.Context(), "app", "delete")
		if err != nil {
			t.Fatal(err)
		}
		if g.Known || g.Allows("delete") {
			t.Fatalf("Granted on an open registry: %+v, want not Known", g)
		}
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests for 3 calls, want 1 (GET /v2/ once)", n)
	}
	for _, bad := range [][]string{nil, {""}, {"pull,delete"}, {"repository:app:delete"}} {
		if _, err := c.Granted(t.Context(), "app", bad...); err == nil {
			t.Errorf("Granted(app, %q): no error", bad)
		}
	}
	if _, err := c.Granted(t.Context(), "Bad Name", "delete"); err == nil {
		t.Error("Granted with an invalid repository name: no error")
	}
}
