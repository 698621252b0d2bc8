package purge_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/purge"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// exampleRegistry starts a local registry holding app:v1..v5, pushed on
// the first five days of 2026, and returns a client and a function that
// stops it. In real code, connect to myregistry.azurecr.io with a
// credential instead.
func exampleRegistry() (func(), *acr.Client) { return exampleRegistryKeeping(0) }

// exampleRegistryKeeping is exampleRegistry with soft delete: it keeps
// deleted tags and manifests for retention.
func exampleRegistryKeeping(retention time.Duration) (func(), *acr.Client) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reg, err := emulator.New(&emulator.Options{Now: func() time.Time { return now }, SoftDeleteRetention: retention})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(reg)
	client, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		now = now.Add(purge.Day)
		cfg, err := client.UploadBlob(ctx, "app", strings.NewReader(fmt.Sprintf(`{"architecture":"amd64","os":"linux","v":%d}`, i)),
			&acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
		if err != nil {
			log.Fatal(err)
		}
		m := ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{}}
		m.SchemaVersion = 2
		if _, err := client.SetImage(ctx, "app", m, &acr.SetManifestOptions{Tag: fmt.Sprintf("v%d", i)}); err != nil {
			log.Fatal(err)
		}
	}
	return func() { hs.Close(); reg.Close() }, client
}

// Plan first, look, then apply exactly that plan.
func ExampleNewPlan() {
	stop, client := exampleRegistry()
	defer stop()
	ctx := context.Background()

	opts := &purge.Options{
		Filters:  []purge.Filter{purge.MustParseFilter(`app:v.*`)},
		Ago:      7 * purge.Day,
		Keep:     1,    // of the tags old enough to go, as acr purge's --keep
		Untagged: true, // the images the deleted tags leave untagged go too
		Now:      func() time.Time { return time.Date(2026, 1, 11, 0, 0, 0, 0, time.UTC) },
	}
	plan, err := purge.NewPlan(ctx, client, opts)
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range plan.Items {
		if it.Kind == purge.KindTag {
			fmt.Printf("%s: %s\n", it.Ref(), it.Reason)
		}
	}
	res, err := plan.Apply(ctx, client)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("deleted %d items of %d planned; complete: %v\n", len(res.Deleted), len(plan.Items), res.Complete())
	// Output:
	// app:v1: matches app:v.*, last updated 2026-01-02T00:00:00Z, older than 7d, 2nd newest matching tag old enough to go (keep 1)
	// deleted 2 items of 2 planned; complete: true
}

// Scheduled retention: at most 100 deletes and ten minutes per run; the
// next run continues where this one stopped.
func ExampleRun() {
	stop, client := exampleRegistry()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	ago, err := purge.ParseDuration("1d12h")
	if err != nil {
		log.Fatal(err)
	}
	res, err := purge.Run(ctx, client, &purge.Options{
		Filters:    []purge.Filter{purge.MustParseFilter(`.*:.*`)},
		Excludes:   []purge.Filter{purge.MustParseFilter(`app:v1`)},
		Ago:        ago,
		MaxDeletes: 100,
		Now:        func() time.Time { return time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range res.Deleted {
		fmt.Println("deleted", it.Ref())
	}
	if !res.Complete() {
		fmt.Printf("stopped (%v): %d remain, %d repositories not examined\n", res.Stop, len(res.Remaining), len(res.NotExamined))
	}
	// Output:
	// deleted app:v2
	// deleted app:v3
}

// Undo a purge on a registry with soft delete: the result says until when
// its deletions can be restored, and Undo restores exactly those.
func ExampleUndo() {
	stop, client := exampleRegistryKeeping(7 * purge.Day) // the registry's clock stays at 2026-01-06
	defer stop()
	ctx := context.Background()

	res, err := purge.Run(ctx, client, &purge.Options{
		Filters:  []purge.Filter{purge.MustParseFilter(`app:v[12]`)},
		Untagged: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Recovery.Detail)
	undo, err := purge.Undo(ctx, client, res, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range undo.Restored {
		fmt.Println("restored", it.Kind, it.Ref())
	}
	fmt.Println("complete:", undo.Complete())
	// Output:
	// all 4 deletions can be restored until 2026-01-13T00:00:00Z
	// restored manifest app@sha256:23add9f276d071cef9cf68eaa6e8d4a44b1e59978a651e07a647660cd7af4abe
	// restored manifest app@sha256:a64de3b8f7ed95cfe7e326e4820d9dfec770955d9f79d15845f999a05e63b767
	// restored tag app:v1
	// restored tag app:v2
	// complete: true
}
