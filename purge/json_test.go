package purge

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

// TestItemJSONNames pins the names an Item has in a report (ACR's, as
// every acrctl command prints them), and that a report written with the
// earlier names still decodes, so that Undo restores what it lists.
func TestItemJSONNames(t *testing.T) {
	it := Item{Repository: "app", Kind: KindTag, Tag: "v1", Digest: digest.FromString("m"),
		LastUpdated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Reason: "older than 30d"}
	b, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, len(keys))
	for k := range keys {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{"digest", "imageName", "kind", "lastUpdateTime", "reason", "tag"}
	if !slices.Equal(got, want) {
		t.Errorf("an item's JSON keys: got %v, want %v", got, want)
	}

	var round Item
	if err := json.Unmarshal(b, &round); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(it, round); diff != "" {
		t.Errorf("an item after a round trip through JSON (-want +got):\n%s", diff)
	}

	old := `{"repository":"app","kind":"tag","tag":"v1","digest":"` + it.Digest.String() +
		`","lastUpdated":"2026-01-02T03:04:05Z","reason":"older than 30d"}`
	var fromOld Item
	if err := json.Unmarshal([]byte(old), &fromOld); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(it, fromOld); diff != "" {
		t.Errorf("an item of a report with the earlier names (-want +got):\n%s", diff)
	}

	var res Result
	if err := json.Unmarshal([]byte(`{"dryRun":false,"deleted":[`+old+`],"failed":[{"item":`+old+`,"detail":"x"}],"repositories":["app"]}`), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 1 || res.Deleted[0].Repository != "app" || len(res.Failed) != 1 || res.Failed[0].Item.Repository != "app" {
		t.Errorf("a report with the earlier names decodes to %+v", res)
	}
}
