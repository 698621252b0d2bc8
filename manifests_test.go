package acr_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

func TestManifests(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Now: steppingClock()})
	s := newSeeder(t, srv, "", "")
	first := s.image("m", "amd64", "1", "v1", "stable")
	second := s.image("m", "arm64", "2", "v2")
	client, _ := acr.NewClient(srv.URL, nil, &acr.ClientOptions{PageSize: 1})
	ctx := t.Context()
	var got []acr.ManifestProperties
	for m, err := range client.Manifests(ctx, "m", &acr.ManifestsOptions{Order: acr.OrderLastUpdatedDesc}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0].Digest != second || got[1].Digest != first {
		t.Fatalf("newest first: got %+v", got)
	}
	m := got[1]
	if !slices.Equal(m.Tags, []string{"stable", "v1"}) || m.Architecture != "amd64" || m.OS != "linux" || m.Size <= 0 ||
		m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Repository != "m" {
		t.Fatalf("properties: got %+v", m)
	}
	byTag, err := client.GetManifestProperties(ctx, "m", "v1")
	if err != nil || byTag.Digest != first {
		t.Fatalf("by tag: %v %+v", err, byTag)
	}
	f := false
	up, err := client.UpdateManifestProperties(ctx, "m", second.String(), acr.PermissionsUpdate{CanDelete: &f})
	if err != nil || up.Permissions.CanDelete {
		t.Fatalf("update: %v %+v", err, up)
	}
	if _, err := client.DeleteManifest(ctx, "m", "v2"); !errors.Is(err, acr.ErrLocked) {
		t.Fatalf("deleting a locked manifest: got %v", err)
	}
	if _, err := client.DeleteManifest(ctx, "m", "stable"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetTagProperties(ctx, "m", "v1"); !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("tags of a deleted manifest survive: %v", err)
	}
}
