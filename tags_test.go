package acr_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// steppingClock advances one second per reading, so update times order.
func steppingClock() func() time.Time {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	n := 0
	return func() time.Time { n++; return t0.Add(time.Duration(n) * time.Second) }
}

func TestTags(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Now: steppingClock()})
	s := newSeeder(t, srv, "", "")
	old := s.image("app", "amd64", "old", "b")
	s.image("app", "amd64", "mid", "a")
	s.image("app", "amd64", "new", "c")
	client, _ := acr.NewClient(srv.URL, nil, &acr.ClientOptions{PageSize: 2})
	ctx := t.Context()
	names := func(opts *acr.TagsOptions) string {
		var out string
		for tp, err := range client.Tags(ctx, "app", opts) {
			if err != nil {
				t.Fatal(err)
			}
			out += tp.Name
		}
		return out
	}
	if got := names(nil); got != "abc" {
		t.Errorf("name order: got %s", got)
	}
	if got := names(&acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}); got != "cab" {
		t.Errorf("newest first: got %s", got)
	}
	if got := names(&acr.TagsOptions{Order: acr.OrderLastUpdatedAsc}); got != "bac" {
		t.Errorf("oldest first: got %s", got)
	}
	if got := names(&acr.TagsOptions{Digest: old}); got != "b" {
		t.Errorf("digest filter: got %s", got)
	}
	// An Order out of range is refused before any request, not taken as
	// name order.
	for _, err := range client.Tags(ctx, "app", &acr.TagsOptions{Order: acr.Order(9)}) {
		if err == nil || !strings.Contains(err.Error(), "Order 9 is not one of") {
			t.Errorf("Tags with Order 9: %v, want a refusal naming the orders", err)
		}
		break
	}
	for _, err := range client.Manifests(ctx, "app", &acr.ManifestsOptions{Order: acr.Order(-1)}) {
		if err == nil || !strings.Contains(err.Error(), "Order -1 is not one of") {
			t.Errorf("Manifests with Order -1: %v, want a refusal naming the orders", err)
		}
		break
	}
	tp, err := client.GetTagProperties(ctx, "app", "b")
	if err != nil || tp.Digest != old || tp.Repository != "app" || tp.Registry != srv.Host || !tp.Permissions.CanWrite {
		t.Fatalf("GetTagProperties: %v %+v", err, tp)
	}
	tp, err = client.UpdateTagProperties(ctx, "app", "b", acr.Locked())
	if err != nil || tp.Permissions.CanWrite || tp.Permissions.CanDelete || !tp.Permissions.CanRead {
		t.Fatalf("lock: %v %+v", err, tp)
	}
	if err := client.DeleteTag(ctx, "app", "b"); !errors.Is(err, acr.ErrLocked) {
		t.Fatalf("deleting a locked tag: got %v, want ErrLocked", err)
	}
	if tp, err = client.UpdateTagProperties(ctx, "app", "b", acr.Unlocked()); err != nil || !tp.Permissions.CanWrite || !tp.Permissions.CanDelete {
		t.Fatalf("unlock: %v %+v", err, tp)
	}
	if err := client.DeleteTag(ctx, "app", "b"); err != nil {
		t.Fatalf("deleting an unlocked tag: %v", err)
	}
	if err := client.DeleteTag(ctx, "app", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetTagProperties(ctx, "app", "a"); !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("deleted tag: got %v, want ErrNotFound", err)
	}
}

// countingTransport counts the requests whose path ends in suffix.
type countingTransport struct {
	suffix string
	n      atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, c.suffix) {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestTagsDefaultPageSize checks that a listing asks for ACR's largest page
// by default: 2,500 tags take 3 requests, not the 25 of 100-tag pages.
func TestTagsDefaultPageSize(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	s := newSeeder(t, srv, "", "")
	tags := make([]string, 2500)
	for i := range tags {
		tags[i] = fmt.Sprintf("v%04d", i)
	}
	s.image("app", "amd64", "one", tags...)
	ct := &countingTransport{suffix: "/_tags"}
	client, _ := acr.NewClient(srv.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: ct}})
	seen := map[string]bool{}
	for tp, err := range client.Tags(t.Context(), "app", &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[tp.Name] {
			t.Fatalf("tag %s listed twice", tp.Name)
		}
		seen[tp.Name] = true
	}
	if len(seen) != len(tags) {
		t.Fatalf("listed %d tags, want %d", len(seen), len(tags))
	}
	if n := ct.n.Load(); n != 3 {
		t.Errorf("listing %d tags took %d requests, want 3 (pages of %d)", len(tags), n, acr.DefaultPageSize)
	}
}

// TestTagsWithoutMetadataRead: a credential that may pull but not read
// metadata (an ACR token whose scope map has content/read only) lists tag
// names from the OCI tag list; ordered listings still need metadata_read.
func TestTagsWithoutMetadataRead(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"admin": "a", "ci": "c"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {{Repository: "app", Actions: []string{"content/read"}}}}})
	newSeeder(t, srv, "admin", "a").image("app", "amd64", "one", "v1", "v2")
	client, err := acr.NewClient(srv.URL, acr.BasicCredential("ci", "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tp, err := range client.Tags(t.Context(), "app", nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tp.Name)
	}
	if strings.Join(names, ",") != "v1,v2" {
		t.Errorf("tags %v", names)
	}
	for _, err := range client.Tags(t.Context(), "app", &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}) {
		if !errors.Is(err, acr.ErrInsufficientScope) {
			t.Errorf("ordered listing: %v, want ErrInsufficientScope", err)
		}
		break
	}
}
