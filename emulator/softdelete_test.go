package emulator_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
)

type deletedLists struct {
	Manifests []struct {
		Digest, DeletedAt, ExpiresAfter string
		Tags                            []string
	}
	Tags []struct{ Tag, Digest, DeletedAt, ExpiresAfter string }
}

// settableClock is a clock tests move.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // every event at its own time
	return c.t
}

func (c *settableClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSoftDeleteOff(t *testing.T) {
	c, _ := newClient(t, nil)
	for _, p := range []string{"/acr/v1/_deleted/_catalog", "/acr/v1/_deleted/app/_tags", "/acr/v1/_deleted/app/_manifests"} {
		if r := c.do("GET", p, nil).want(t, http.StatusBadRequest); !strings.Contains(string(r.body), "--soft-delete") {
			t.Errorf("%s: %s", p, r.body)
		}
	}
}

// TestSoftDelete: deletes keep what they remove for the retention; it is
// listed as az reads it, invisible elsewhere, and restored byte-identical,
// with its tags, by digest or by tag; a tag now used elsewhere needs force.
func TestSoftDelete(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		clk := &settableClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		c, _ := newClient(t, &emulator.Options{Dir: dir, SoftDeleteRetention: 7 * 24 * time.Hour, Now: clk.now})
		v1 := c.pushImage("app", "v1", "one")
		v2 := c.pushImage("app", "v2", "two")
		c.do("PUT", "/v2/app/manifests/"+v2.digest.String()+"?tag=also", v2.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)

		c.do("DELETE", "/acr/v1/app/_tags/v1", nil).want(t, http.StatusAccepted)
		c.do("DELETE", "/v2/app/manifests/"+v2.digest.String(), nil).want(t, http.StatusAccepted)
		c.do("GET", "/v2/app/manifests/v2", nil, acceptAll...).want(t, http.StatusNotFound)
		c.do("GET", "/acr/v1/app/_manifests/"+v2.digest.String(), nil).want(t, http.StatusNotFound)

		l := decode[deletedLists](t, c.do("GET", "/acr/v1/_deleted/app/_manifests", nil).want(t, http.StatusOK))
		if len(l.Manifests) != 1 || l.Manifests[0].Digest != v2.digest.String() || strings.Join(l.Manifests[0].Tags, ",") != "also,v2" ||
			!acrTime.MatchString(l.Manifests[0].DeletedAt) || l.Manifests[0].ExpiresAfter <= l.Manifests[0].DeletedAt {
			t.Fatalf("store %q: deleted manifests %+v", dir, l.Manifests)
		}
		l = decode[deletedLists](t, c.do("GET", "/acr/v1/_deleted/app/_tags", nil).want(t, http.StatusOK))
		var got []string
		for _, tg := range l.Tags {
			got = append(got, tg.Tag+"@"+tg.Digest[7:12])
		}
		if want := "also@" + v2.digest.Encoded()[:5] + ",v1@" + v1.digest.Encoded()[:5] + ",v2@" + v2.digest.Encoded()[:5]; strings.Join(got, ",") != want {
			t.Errorf("store %q: deleted tags %v, want %s", dir, got, want)
		}
		r := c.do("GET", "/acr/v1/_deleted/app/_tags?n=1", nil).want(t, http.StatusOK)
		if !strings.HasPrefix(r.Header.Get("Link"), "</acr/v1/_deleted/app/_tags?last=also") {
			t.Errorf("store %q: Link %q", dir, r.Header.Get("Link"))
		}
		if cat := decode[struct{ Repositories []string }](t, c.do("GET", "/acr/v1/_deleted/_catalog", nil).want(t, http.StatusOK)); strings.Join(cat.Repositories, ",") != "app" {
			t.Errorf("store %q: deleted catalog %v", dir, cat.Repositories)
		}

		// By digest, as az POSTs it: the manifest and its tags come back.
		c.do("POST", "/acr/v1/_deleted/app/_manifests/"+v2.digest.String()+"?force=False", []byte(`{"tag": null}`),
			"Content-Type", "application/json").want(t, http.StatusOK)
		for _, tag := range []string{"v2", "also"} {
			r := c.do("GET", "/v2/app/manifests/"+tag, nil, acceptAll...).want(t, http.StatusOK)
			if string(r.body) != string(v2.manifest) {
				t.Errorf("store %q: restored %s differs", dir, tag)
			}
		}
		c.do("GET", "/v2/app/blobs/"+v2.layer.String(), nil).want(t, http.StatusOK)
		// A tag alone, onto a manifest that never went away.
		c.do("POST", "/acr/v1/_deleted/app/_manifests/"+v1.digest.String(), []byte(`{"tag":"v1"}`)).want(t, http.StatusOK)
		c.do("GET", "/v2/app/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
		l = decode[deletedLists](t, c.do("GET", "/acr/v1/_deleted/app/_tags", nil).want(t, http.StatusOK))
		if len(l.Tags) != 0 {
			t.Errorf("store %q: restored tags still listed: %+v", dir, l.Tags)
		}

		// A tag that now points elsewhere needs force.
		c.do("DELETE", "/v2/app/manifests/"+v2.digest.String(), nil).want(t, http.StatusAccepted)
		v3 := c.pushImage("app", "v2", "three")
		r = c.do("POST", "/acr/v1/_deleted/app/_manifests/"+v2.digest.String()+"?force=False", []byte(`{"tag":"v2"}`)).want(t, http.StatusConflict)
		if r.errorCode() != "TAG_IN_USE" {
			t.Errorf("store %q: %s", dir, r.body)
		}
		c.do("GET", "/v2/app/manifests/v2", nil, acceptAll...).want(t, http.StatusOK) // still v3
		if r := c.do("HEAD", "/v2/app/manifests/v2", nil, acceptAll...); r.Header.Get("Docker-Content-Digest") != v3.digest.String() {
			t.Errorf("store %q: a refused restore moved the tag", dir)
		}
		c.do("POST", "/acr/v1/_deleted/app/_manifests/"+v2.digest.String()+"?force=True", []byte(`{"tag":"v2"}`)).want(t, http.StatusOK)
		if r := c.do("HEAD", "/v2/app/manifests/v2", nil, acceptAll...); r.Header.Get("Docker-Content-Digest") != v2.digest.String() {
			t.Errorf("store %q: a forced restore did not move the tag", dir)
		}

		// A deleted repository comes back manifest by manifest.
		c.do("DELETE", "/acr/v1/app", nil).want(t, http.StatusAccepted)
		c.do("GET", "/acr/v1/app", nil).want(t, http.StatusNotFound)
		c.do("POST", "/acr/v1/_deleted/app/_manifests/"+v1.digest.String(), nil).want(t, http.StatusOK)
		r = c.do("GET", "/v2/app/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
		if string(r.body) != string(v1.manifest) {
			t.Errorf("store %q: v1 after the repository's restore differs", dir)
		}
		c.do("GET", "/v2/app/blobs/"+v1.layer.String(), nil).want(t, http.StatusOK)

		// After the retention nothing is listed or restorable.
		clk.add(8 * 24 * time.Hour)
		l = decode[deletedLists](t, c.do("GET", "/acr/v1/_deleted/app/_manifests", nil).want(t, http.StatusOK))
		if len(l.Manifests) != 0 {
			t.Errorf("store %q: expired manifests listed: %+v", dir, l.Manifests)
		}
		c.do("POST", "/acr/v1/_deleted/app/_manifests/"+v3.digest.String(), nil).want(t, http.StatusNotFound)
	}
}

// TestSoftDeleteScopes: listing needs deleted_read, restoring also
// deleted_restore, the deleted catalog registry:deleted_catalog:*.
func TestSoftDeleteScopes(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}, SoftDeleteRetention: time.Hour})
	c.auth = basic("u", "p")
	im := c.pushImage("app", "v1", "one")
	c.do("DELETE", "/acr/v1/app/_tags/v1", nil).want(t, http.StatusAccepted)
	restore := "/acr/v1/_deleted/app/_manifests/" + im.digest.String()
	for _, tc := range []struct {
		scope, method, path string
		status              int
	}{
		{"repository:app:metadata_read", "GET", "/acr/v1/_deleted/app/_tags", 401},
		{"repository:app:deleted_read", "GET", "/acr/v1/_deleted/app/_tags", 200},
		{"repository:app:deleted_read", "POST", restore, 401},
		{"registry:catalog:*", "GET", "/acr/v1/_deleted/_catalog", 401},
		{"registry:deleted_catalog:*", "GET", "/acr/v1/_deleted/_catalog", 200},
		{"repository:app:deleted_read,deleted_restore", "POST", restore, 200},
	} {
		c.auth = "Bearer " + c.token(basic("u", "p"), tc.scope)
		r := c.do(tc.method, tc.path, []byte(`{"tag":"v1"}`))
		if r.StatusCode != tc.status {
			t.Errorf("%s %s with %s: %d %s", tc.method, tc.path, tc.scope, r.StatusCode, r.body)
		}
		if r.StatusCode == 401 && !strings.Contains(r.Header.Get("Www-Authenticate"), "deleted_") {
			t.Errorf("%s %s: challenge %q", tc.method, tc.path, r.Header.Get("Www-Authenticate"))
		}
	}
}

// TestSoftDeleteSurvivesRestart: soft-deleted records are durable on disk.
func TestSoftDeleteSurvivesRestart(t *testing.T) {
	opts := &emulator.Options{Dir: t.TempDir(), SoftDeleteRetention: time.Hour}
	reg, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(reg)
	c := &client{t: t, base: hs.URL, hc: hs.Client()}
	im := c.pushImage("app", "v1", "one")
	c.do("DELETE", "/v2/app/manifests/"+im.digest.String(), nil).want(t, http.StatusAccepted)
	hs.Close()
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	c2, _ := newClient(t, opts)
	l := decode[deletedLists](t, c2.do("GET", "/acr/v1/_deleted/app/_manifests", nil).want(t, http.StatusOK))
	if len(l.Manifests) != 1 || l.Manifests[0].Digest != im.digest.String() {
		t.Fatalf("after a restart: %+v", l.Manifests)
	}
	c2.do("POST", "/acr/v1/_deleted/app/_manifests/"+im.digest.String(), nil).want(t, http.StatusOK)
	c2.do("GET", "/v2/app/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
}

// TestRestoreNeedsADeletion: a manifest that was never deleted cannot be
// "restored", and no tag that was never deleted can be added that way
// (deleted_restore is no push right).
func TestRestoreNeedsADeletion(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{SoftDeleteRetention: time.Hour})
	im := c.pushImage("app", "v1", "one")
	for _, body := range []string{`{"tag":null}`, `{"tag":"brandnew"}`, `{"tag":"v1"}`} {
		c.do("POST", "/acr/v1/_deleted/app/_manifests/"+im.digest.String(), []byte(body)).want(t, http.StatusNotFound)
	}
	c.do("GET", "/v2/app/manifests/brandnew", nil, acceptAll...).want(t, http.StatusNotFound)
}

// TestRestoreOnlyItsTags: restoring a deleted manifest brings back only tags
// it had, with the locks they had; naming another tag, even with force, is
// refused and moves nothing (restore needs deleted_restore, not push).
func TestRestoreOnlyItsTags(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{SoftDeleteRetention: time.Hour})
	old := c.pushImage("app", "v1", "one")
	prod := c.pushImage("app", "prod", "two")
	c.do("PATCH", "/acr/v1/app/_tags/v1", []byte(`{"listEnabled":false}`)).want(t, http.StatusOK)
	c.do("DELETE", "/acr/v1/app/_manifests/"+old.digest.String(), nil).want(t, http.StatusAccepted)

	for _, body := range []string{`{"tag":"prod"}`, `{"tag":"brandnew"}`} {
		r := c.do("POST", "/acr/v1/_deleted/app/_manifests/"+old.digest.String()+"?force=true", []byte(body)).want(t, http.StatusNotFound)
		if !strings.Contains(string(r.body), "no deleted tag") {
			t.Errorf("restore %s: %s", body, r.body)
		}
	}
	if got := c.do("GET", "/acr/v1/app/_tags/prod", nil).want(t, http.StatusOK); !strings.Contains(string(got.body), prod.digest.String()) {
		t.Errorf("a refused restore moved prod: %s", got.body)
	}
	c.do("GET", "/acr/v1/app/_tags/brandnew", nil).want(t, http.StatusNotFound)

	c.do("POST", "/acr/v1/_deleted/app/_manifests/"+old.digest.String(), []byte(`{"tag":"v1"}`)).want(t, http.StatusOK)
	r := c.do("GET", "/acr/v1/app/_tags/v1", nil).want(t, http.StatusOK)
	if !strings.Contains(string(r.body), old.digest.String()) || !strings.Contains(string(r.body), `"listEnabled":false`) {
		t.Errorf("restored tag v1: %s; want it on %s with listEnabled false, as it was deleted", r.body, old.digest)
	}
}
