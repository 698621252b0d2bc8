// Command gentags fills a repository with many tags for the listing and purge
// workloads of bench/run.sh (W4, W5). Each tag points at its own small image
// manifest (one shared empty config, no layers), so a purge has one manifest
// per tag to consider.
//
// Through the registry API, with our client and bounded concurrency:
//
//	gentags -url http://127.0.0.1:5000 -repo bench/tags -n 10000
//
// Or straight into the storage directory of a stopped reference registry
// (distribution's filesystem driver), because its API takes about 9 ms of CPU
// per manifest and 30,000 of them would dominate the run:
//
//	gentags -distribution DATADIR -repo bench/tags -n 10000
//
// Tags are named t00000, t00001, ... and manifests differ only by an
// annotation holding the tag's number.
//
// With -repos N (W7, a large registry) the n tags are spread over N
// repositories named REPO-00000, REPO-00001, ..., n/N tags each:
//
//	gentags -url http://127.0.0.1:5000 -repo w7/r -repos 10000 -n 100000
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	configMediaType   = "application/vnd.oci.empty.v1+json"
	manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
)

// emptyConfig is the OCI empty descriptor's content.
var emptyConfig = []byte("{}")

func main() {
	url := flag.String("url", "", "registry base URL (http://HOST:PORT) to fill through the API")
	dist := flag.String("distribution", "", "storage root of a stopped reference registry to fill directly")
	repo := flag.String("repo", "bench/tags", "repository")
	n := flag.Int("n", 10000, "number of tags")
	repos := flag.Int("repos", 1, "spread the tags over this many repositories, REPO-00000, REPO-00001, ...")
	conc := flag.Int("concurrency", 16, "requests in flight (with -url)")
	flag.Parse()
	if (*url == "") == (*dist == "") {
		log.Fatal("gentags: give exactly one of -url and -distribution")
	}
	if *repos < 1 || *n < *repos {
		log.Fatal("gentags: -repos must be at least 1 and at most -n")
	}
	start := time.Now()
	names := []string{*repo}
	if *repos > 1 {
		names = names[:0]
		for i := range *repos {
			names = append(names, fmt.Sprintf("%s-%05d", *repo, i))
		}
	}
	var err error
	if *url != "" {
		err = viaAPI(context.Background(), *url, names, *n, *conc)
	} else {
		for i, r := range names {
			if err = intoDistribution(*dist, r, share(*n, len(names), i)); err != nil {
				break
			}
		}
	}
	if err != nil {
		log.Fatalf("gentags: %v", err)
	}
	fmt.Fprintf(os.Stderr, "gentags: %d tags in %d repositories in %.1f s\n", *n, len(names), time.Since(start).Seconds())
}

// share returns how many of n tags repository i of m holds.
func share(n, m, i int) int {
	if i < n%m {
		return n/m + 1
	}
	return n / m
}

// manifest returns the bytes of tag i's manifest.
func manifest(i int) []byte {
	cfg := digest.FromBytes(emptyConfig)
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[],"annotations":{"bench.tag":"%d"}}`,
		manifestMediaType, configMediaType, cfg, len(emptyConfig), i)
}

func tagName(i int) string { return fmt.Sprintf("t%05d", i) }

// viaAPI pushes tag i to repository i mod len(repos), with its config
// blob pushed first to every repository.
func viaAPI(ctx context.Context, url string, repos []string, n, conc int) error {
	host, ok := strings.CutPrefix(url, "http://")
	if !ok {
		return errors.New("-url must be http://HOST:PORT (a loopback benchmark registry)")
	}
	client, err := acr.NewClient(host, acr.AnonymousCredential(), &acr.ClientOptions{AllowInsecure: true})
	if err != nil {
		return err
	}
	desc := ocispec.Descriptor{MediaType: configMediaType, Digest: digest.FromBytes(emptyConfig), Size: int64(len(emptyConfig))}
	// Every repository gets the config before any manifest names it.
	err = parallel(len(repos), conc, func(i int) error {
		if err := uploadKnown(ctx, client, repos[i], desc, emptyConfig); err != nil {
			return fmt.Errorf("pushing the config to %s: %w", repos[i], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return parallel(n, conc, func(i int) error {
		repo := repos[i%len(repos)]
		if _, err := client.SetManifest(ctx, repo, manifest(i), manifestMediaType, &acr.SetManifestOptions{Tag: tagName(i)}); err != nil {
			return fmt.Errorf("tag %s:%s: %w", repo, tagName(i), err)
		}
		return nil
	})
}

// parallel calls fn(0) ... fn(n-1), conc at a time, stopping at the first
// error.
func parallel(n, conc int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, conc)
	for w := range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs[w] = err
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// intoDistribution writes the files distribution's filesystem driver keeps
// for a blob, a manifest revision and a tag.
func intoDistribution(root, repo string, n int) error {
	v2 := filepath.Join(root, "docker", "registry", "v2")
	repoDir := filepath.Join(v2, "repositories", filepath.FromSlash(repo))
	putBlob := func(b []byte) (string, error) {
		sum := sha256.Sum256(b)
		hexd := hex.EncodeToString(sum[:])
		return "sha256:" + hexd, writeFile(filepath.Join(v2, "blobs", "sha256", hexd[:2], hexd, "data"), b)
	}
	link := func(path, d string) error { return writeFile(path, []byte(d)) }
	cfg, err := putBlob(emptyConfig)
	if err != nil {
		return err
	}
	if err := link(filepath.Join(repoDir, "_layers", "sha256", strings.TrimPrefix(cfg, "sha256:"), "link"), cfg); err != nil {
		return err
	}
	for i := range n {
		d, err := putBlob(manifest(i))
		if err != nil {
			return err
		}
		hexd := strings.TrimPrefix(d, "sha256:")
		tag := filepath.Join(repoDir, "_manifests", "tags", tagName(i))
		for _, p := range []string{
			filepath.Join(repoDir, "_manifests", "revisions", "sha256", hexd, "link"),
			filepath.Join(tag, "current", "link"),
			filepath.Join(tag, "index", "sha256", hexd, "link"),
		} {
			if err := link(p, d); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// uploadKnown uploads content under desc unless repo has it already.
func uploadKnown(ctx context.Context, client *acr.Client, repo string, desc ocispec.Descriptor, content []byte) error {
	if _, ok, err := client.BlobExists(ctx, repo, desc.Digest); err != nil || ok {
		return err
	}
	_, err := client.UploadBlob(ctx, repo, bytes.NewReader(content), &acr.UploadBlobOptions{Descriptor: &desc})
	return err
}
