// Command genlayout writes an OCI image layout holding one image of
// incompressible random layers, tagged v1, for the transfer benchmark.
//
//	genlayout -dir DIR -layers 8 -size 67108864
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func main() {
	dir := flag.String("dir", "", "output directory (must not exist)")
	layers := flag.Int("layers", 8, "number of layers")
	size := flag.Int64("size", 64<<20, "bytes per layer")
	flag.Parse()
	if *dir == "" {
		log.Fatal("genlayout: -dir is required")
	}
	blobs := filepath.Join(*dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		log.Fatal(err)
	}
	write := func(r io.Reader) descriptor {
		f, err := os.CreateTemp(blobs, ".tmp-*")
		if err != nil {
			log.Fatal(err)
		}
		h := sha256.New()
		n, err := io.CopyBuffer(io.MultiWriter(f, h), r, make([]byte, 1<<20))
		if err != nil {
			log.Fatal(err)
		}
		f.Close()
		hexd := hex.EncodeToString(h.Sum(nil))
		if err := os.Rename(f.Name(), filepath.Join(blobs, hexd)); err != nil {
			log.Fatal(err)
		}
		return descriptor{Digest: "sha256:" + hexd, Size: n}
	}
	jsonBlob := func(mt string, v any) descriptor {
		b, _ := json.Marshal(v)
		d := write(bytes.NewReader(b))
		d.MediaType = mt
		return d
	}
	var ls []descriptor
	for i := 0; i < *layers; i++ {
		d := write(io.LimitReader(rand.Reader, *size))
		d.MediaType = "application/vnd.oci.image.layer.v1.tar"
		d.Annotations = map[string]string{"org.opencontainers.image.title": fmt.Sprintf("layer-%04d.bin", i)}
		ls = append(ls, d)
	}
	diffIDs := make([]string, len(ls))
	for i, l := range ls {
		diffIDs[i] = l.Digest
	}
	cfg := jsonBlob("application/vnd.oci.image.config.v1+json", map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	man := jsonBlob("application/vnd.oci.image.manifest.v1+json", map[string]any{"schemaVersion": 2,
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cfg, "layers": ls})
	man.Annotations = map[string]string{"org.opencontainers.image.ref.name": "v1"}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []descriptor{man}})
	must(os.WriteFile(filepath.Join(*dir, "index.json"), idx, 0o644))
	must(os.WriteFile(filepath.Join(*dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
