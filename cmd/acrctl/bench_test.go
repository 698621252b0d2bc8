package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
)

// BenchmarkTagList runs `acrctl tag list` (in process, output discarded)
// on a repository of 10,000 tags in the in-process registry: the W4
// workload of bench/run.sh without the process start. Run it with
//
//	go test -run '^$' -bench TagList -benchtime 20x ./cmd/acrctl
func BenchmarkTagList(b *testing.B) {
	const ntags = 10_000
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	srv := acrtest.NewServer(b, nil)
	client, err := acr.NewClient(srv.Host, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	blob, err := client.UploadBlob(ctx, "bench/tags", strings.NewReader("{}"), nil)
	if err != nil {
		b.Fatal(err)
	}
	manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`,
		blob.Digest, blob.Size)
	for i := range ntags {
		if _, err := client.SetManifest(ctx, "bench/tags", manifest, "", &acr.SetManifestOptions{Tag: fmt.Sprintf("t%05d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for _, args := range [][]string{nil, {"-o", "name"}, {"-o", "json"}} {
		b.Run("args="+strings.Join(args, ""), func(b *testing.B) {
			for b.Loop() {
				if code := run(ctx, append([]string{"tag", "list", srv.Host + "/bench/tags"}, args...), strings.NewReader(""), io.Discard, io.Discard); code != 0 {
					b.Fatalf("acrctl tag list exited %d", code)
				}
			}
		})
	}
}
