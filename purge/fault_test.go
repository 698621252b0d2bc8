package purge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/acrgo/acr/purge"
	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// purgeDeadline bounds each purge under faults.
const purgeDeadline = 10 * time.Minute

// seedPurge pushes six images tagged app:v1 ... app:v6, an hour apart
// (sleeping, so only inside a synctest bubble), and one tagged other:v1.
func seedPurge(t testing.TB, client *acr.Client) {
	t.Helper()
	ctx := context.Background()
	image := func(repo, tag string) {
		cfg, err := client.UploadBlob(ctx, repo, strings.NewReader(`{"os":"linux","seed":"`+repo+tag+`"}`), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
		if err != nil {
			t.Fatal(err)
		}
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
		m.SchemaVersion = 2
		if _, err := client.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: tag}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 6; i++ {
		image("app", fmt.Sprint("v", i))
		time.Sleep(time.Hour)
	}
	image("other", "v1")
}

// purgeState lists the registry's tags as repo:tag and counts its
// manifests, read past the storm.
func purgeState(t testing.TB, client *acr.Client) (tags []string, manifests int) {
	t.Helper()
	ctx := context.Background()
	for _, repo := range []string{"app", "other"} {
		for tp, err := range client.Tags(ctx, repo, nil) {
			if err != nil {
				t.Fatal(err)
			}
			tags = append(tags, repo+":"+tp.Name)
		}
		for _, err := range client.Manifests(ctx, repo, nil) {
			if err != nil {
				t.Fatal(err)
			}
			manifests++
		}
	}
	slices.Sort(tags)
	return tags, manifests
}

// purgeOptions keep the two newest app tags and delete the rest, with the
// manifests they leave untagged.
func purgeOptions() *purge.Options {
	return &purge.Options{Filters: []purge.Filter{purge.MustParseFilter("app:v.*")}, Keep: 2, Untagged: true}
}

// TestPurgeRidesOutThrottling runs a purge while the registry answers
// bursts of 429 and 503 with Retry-After: it waits as told and deletes
// exactly what it would without them. Under storms that do not end, on
// deletes or on listings, it reports each failure or the listing's status,
// deletes nothing it should keep, and ends within its deadline. It runs in
// a synctest bubble: no real sleeps, and no goroutine may outlive it.
func TestPurgeRidesOutThrottling(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails int
		match func(*http.Request) bool
	}{
		{"bursts", 3, nil},
		{"endless on deletes", 100, func(r *http.Request) bool { return r.Method == http.MethodDelete }},
		{"endless on listings", 100, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/_tags") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg, err := emulator.New(nil)
				if err != nil {
					t.Fatal(err)
				}
				defer reg.Close()
				direct, _ := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{HTTPClient: faulttest.HandlerClient(reg)})
				seedPurge(t, direct)
				s := &faulttest.Storm{Handler: reg, Fails: tc.fails, Match: tc.match}
				client, _ := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{HTTPClient: faulttest.HandlerClient(s)})
				ctx, cancel := context.WithTimeout(t.Context(), purgeDeadline)
				defer cancel()
				start := time.Now()
				res, err := purge.Run(ctx, client, purgeOptions())
				took := time.Since(start)
				t.Logf("%d failed requests, %v of bubble time", s.Failed(), took)
				if took >= purgeDeadline {
					t.Fatalf("the purge ran into its deadline (%v)", err)
				}
				tags, manifests := purgeState(t, direct)
				kept := []string{"app:v5", "app:v6", "other:v1"}
				switch tc.name {
				case "bursts":
					if err != nil || !res.Complete() {
						t.Fatalf("Run: %v; failed %v, stopped %v", err, res.Failed, res.Stop)
					}
					if d := cmp.Diff(kept, tags); d != "" || manifests != 3 {
						t.Fatalf("%d manifests and tags (-want +got):\n%s", manifests, d)
					}
					if len(res.Deleted) != 8 {
						t.Errorf("deleted %d items, want 4 tags and their 4 manifests", len(res.Deleted))
					}
					if n := s.Failed(); n < 10 {
						t.Errorf("%d requests failed; the test meant to fail at least 10", n)
					}
					if took < 4*time.Second {
						t.Errorf("the purge took %v; a request throttled with Retry-After 3 and then 1 waits at least 4 s", took)
					}
					s.CheckWaited(t)
				case "endless on deletes":
					if err != nil || len(res.Failed) == 0 {
						t.Fatalf("Run: %v with %d failures; want the failed deletes in Result.Failed", err, len(res.Failed))
					}
					for _, f := range res.Failed {
						var re *acr.ResponseError
						if !errors.As(f.Err, &re) || (re.StatusCode != http.StatusTooManyRequests && re.StatusCode != http.StatusServiceUnavailable) {
							t.Errorf("%s failed with %v, want the registry's 429 or 503", f.Item.Ref(), f.Err)
						}
					}
					t.Logf("%d deleted, %d failed, e.g. %s: %s", len(res.Deleted), len(res.Failed), res.Failed[0].Item.Ref(), res.Failed[0].Detail)
					for _, k := range kept {
						if !slices.Contains(tags, k) {
							t.Errorf("%s was deleted; the purge keeps it", k)
						}
					}
				case "endless on listings":
					var re *acr.ResponseError
					if !errors.As(err, &re) || (re.StatusCode != http.StatusTooManyRequests && re.StatusCode != http.StatusServiceUnavailable) {
						t.Fatalf("Run: got %v, want the registry's 429 or 503", err)
					}
					t.Logf("Run: %v", err)
					if len(tags) != 7 {
						t.Errorf("tags %v remain, want all 7: a purge that cannot list must not delete", tags)
					}
				}
			})
		})
	}
}

// TestNoLeaksAfterPurgeFaults runs purges over real connections through
// storms that end and storms that do not (with Retry-After: 0, to run
// quickly), and checks that no goroutine or file descriptor outlives them.
func TestNoLeaksAfterPurgeFaults(t *testing.T) {
	faulttest.NoLeaks(t, func() {
		for _, fails := range []int{3, 100} {
			reg, err := emulator.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			s := &faulttest.Storm{Fails: fails, RetryAfter: "0"}
			s.Handler = reg
			hs := httptest.NewServer(s)
			tr := http.DefaultTransport.(*http.Transport).Clone()
			client, _ := acr.NewClient(hs.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}})
			direct, _ := acr.NewClient(hs.URL, nil, &acr.ClientOptions{HTTPClient: faulttest.HandlerClient(reg)})
			for i := 1; i <= 4; i++ {
				cfg, err := direct.UploadBlob(t.Context(), "app", strings.NewReader(fmt.Sprint(i)), nil)
				if err != nil {
					t.Fatal(err)
				}
				m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
				m.SchemaVersion = 2
				if _, err := direct.SetImage(t.Context(), "app", m, &acr.SetManifestOptions{Tag: fmt.Sprint("v", i)}); err != nil {
					t.Fatal(err)
				}
			}
			// The test's context outlives the check: a response body left
			// open would keep its connection, and a goroutine, alive.
			res, err := purge.Run(t.Context(), client, &purge.Options{Filters: []purge.Filter{purge.MustParseFilter("app:v.*")}, Keep: 1, Untagged: true})
			if err != nil {
				t.Logf("storm of %d: Run: %v", fails, err)
			} else if fails == 3 && !res.Complete() {
				t.Errorf("storm of 3: the purge did not complete: %+v", res)
			}
			tr.CloseIdleConnections()
			hs.Close()
			reg.Close()
		}
	})
}
