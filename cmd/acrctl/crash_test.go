package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/opencontainers/go-digest"
)

// getManifest GETs a manifest URL past the client under test, accepting
// every manifest type: a GET without Accept gets no OCI manifest, from
// this registry as from ACR.
func getManifest(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "+
		"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	return http.DefaultClient.Do(req)
}

// buildAcrctl builds the binary once per test run.
func buildAcrctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "acrctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServe runs `acrctl serve` and returns its base URL once it listens.
func startServe(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return cmd, u
		}
	}
	t.Fatalf("acrctl serve exited before listening: %v", sc.Err())
	return nil, ""
}

// softDeleted reports whether the registry lists a's tag, on its manifest,
// among the soft-deleted tags.
func softDeleted(t *testing.T, base string, a ack) bool {
	t.Helper()
	resp, err := http.Get(base + "/acr/v1/_deleted/" + a.repo + "/_tags?n=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct {
		Tags []struct{ Tag, Digest string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	for _, tg := range l.Tags {
		if tg.Tag == a.tag && tg.Digest == a.manifest.String() {
			return true
		}
	}
	return false
}

// ack is a push the server acknowledged.
type ack struct {
	repo, tag string
	blob      digest.Digest
	data      []byte
	manifest  digest.Digest
}

// pushOne pushes a random blob (monolithic or chunked) and a manifest that
// tags it, and reports the push only when every step was acknowledged.
func pushOne(ctx context.Context, base string, i int) (ack, bool) {
	n, _ := rand.Int(rand.Reader, big.NewInt(2<<20))
	data := make([]byte, n.Int64()+1)
	rand.Read(data)
	a := ack{repo: fmt.Sprintf("crash/r%d", i%4), tag: fmt.Sprintf("t%d", i), blob: digest.FromBytes(data), data: data}
	do := func(method, url string, body []byte, hdr ...string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		for j := 0; j+1 < len(hdr); j += 2 {
			req.Header.Set(hdr[j], hdr[j+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	if i%2 == 0 {
		resp, err := do("POST", base+"/v2/"+a.repo+"/blobs/uploads/?digest="+a.blob.String(), data)
		if err != nil || resp.StatusCode != http.StatusCreated {
			return a, false
		}
	} else {
		resp, err := do("POST", base+"/v2/"+a.repo+"/blobs/uploads/", nil)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			return a, false
		}
		loc := resp.Header.Get("Location")
		half := len(data) / 2
		resp, err = do("PATCH", base+loc, data[:half], "Content-Range", fmt.Sprintf("0-%d", half-1))
		if half == 0 || err != nil || resp.StatusCode != http.StatusAccepted {
			return a, false
		}
		resp, err = do("PUT", base+resp.Header.Get("Location")+"&digest="+a.blob.String(), data[half:])
		if err != nil || resp.StatusCode != http.StatusCreated {
			return a, false
		}
	}
	cfg := []byte("{}")
	if resp, err := do("POST", base+"/v2/"+a.repo+"/blobs/uploads/?digest="+digest.FromBytes(cfg).String(), cfg); err != nil || resp.StatusCode != http.StatusCreated {
		return a, false
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":%d}]}`,
		digest.FromBytes(cfg), a.blob, len(data))
	a.manifest = digest.FromString(m)
	resp, err := do("PUT", base+"/v2/"+a.repo+"/manifests/"+a.tag, []byte(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if err != nil || resp.StatusCode != http.StatusCreated {
		return a, false
	}
	return a, true
}

// TestCrashConsistency SIGKILLs `acrctl serve --data` during concurrent
// pushes and deletes, restarts it, and checks that every acknowledged push
// is readable, every acknowledged delete holds, and every stored blob
// re-hashes to its digest.
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process; skipped with -short")
	}
	bin := buildAcrctl(t)
	dir := t.TempDir()
	var acked, deleted []ack
	for round := 0; round < 3; round++ {
		cmd, base := startServe(t, bin, "--data", dir, "--soft-delete", "1")
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < 7; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; ctx.Err() == nil; i += 7 {
					if a, ok := pushOne(ctx, base, round*100000+i); ok {
						mu.Lock()
						acked = append(acked, a)
						mu.Unlock()
					}
				}
			}()
		}
		// One worker deletes acknowledged tags while the others push.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				if len(acked) < 4 {
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				a := acked[0]
				mu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, base+"/acr/v1/"+a.repo+"/_tags/"+a.tag, nil)
				resp, err := http.DefaultClient.Do(req)
				mu.Lock()
				// The push leaves the checked set either way: a delete
				// without an answer may or may not have happened.
				acked = acked[1:]
				if err == nil && resp.StatusCode == http.StatusAccepted {
					deleted = append(deleted, a)
				}
				mu.Unlock()
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
		time.Sleep(time.Duration(700+round*300) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
		wg.Wait()

		// Restart and check every acknowledged push through the API.
		cmd, base = startServe(t, bin, "--data", dir, "--soft-delete", "1")
		for _, a := range acked {
			resp, err := http.Get(base + "/v2/" + a.repo + "/blobs/" + a.blob.String())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, a.data) {
				t.Fatalf("round %d: acknowledged blob %s in %s: got status %d and %d bytes, want %d bytes", round, a.blob, a.repo, resp.StatusCode, len(body), len(a.data))
			}
			resp, err = getManifest(base + "/v2/" + a.repo + "/manifests/" + a.tag)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != a.manifest.String() {
				t.Fatalf("round %d: acknowledged tag %s:%s: got %d %s, want %s", round, a.repo, a.tag, resp.StatusCode, resp.Header.Get("Docker-Content-Digest"), a.manifest)
			}
		}
		// Every acknowledged delete stays done.
		for _, a := range deleted {
			resp, err := getManifest(base + "/v2/" + a.repo + "/manifests/" + a.tag)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("round %d: acknowledged delete of %s:%s came back (status %d)", round, a.repo, a.tag, resp.StatusCode)
			}
			// ... and is kept, soft-deleted, to be restored.
			if !softDeleted(t, base, a) {
				t.Fatalf("round %d: acknowledged delete of %s:%s is not among the soft-deleted tags", round, a.repo, a.tag)
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		t.Logf("round %d: %d acknowledged pushes survive, %d acknowledged deletes hold", round, len(acked), len(deleted))
	}
	if len(acked) == 0 {
		t.Fatal("no push was acknowledged before the kills; the test proved nothing")
	}

	// Every stored blob re-hashes to its digest; every tag names a manifest.
	s, err := store.OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	n := 0
	for d, err := range s.Blobs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.OpenBlob(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		v := d.Verifier()
		io.Copy(v, f)
		f.Close()
		if !v.Verified() {
			t.Errorf("blob %s does not hash to its digest", d)
		}
		n++
	}
	err = s.View(ctx, func(tx store.Tx) error {
		for r, err := range tx.Repos("") {
			if err != nil {
				return err
			}
			for tag, err := range tx.Tags(r.Name, "") {
				if err != nil {
					return err
				}
				if _, ok, err := tx.Manifest(r.Name, tag.Digest); err != nil || !ok {
					t.Errorf("tag %s:%s points at missing manifest %s", r.Name, tag.Name, tag.Digest)
				}
				if _, err := s.StatBlob(ctx, tag.Digest); err != nil {
					t.Errorf("manifest %s has metadata but no content: %v", tag.Digest, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d blobs re-hashed", n)
}
