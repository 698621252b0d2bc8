// Live-test harness for Microsoft's azcontainerregistry test suite (Azure SDK
// for Go, module github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry
// v0.2.3), run against `acrctl serve` by .ci/clients/gosdk-suite.sh.
//
// This file REPLACES the module's utils_test.go, and nothing else: the script
// deletes utils_test.go from its copy of the module and drops this file in.
// Every other *_test.go file runs unchanged. utils_test.go is the suite's
// harness, and three of its parts need an Azure subscription:
//
//   - the credential: azidentity (DefaultAzureCredential or a pipeline
//     credential) asks Entra ID for a token. Here a static credential hands
//     out the token that the server was started with (--aad-token), and the
//     SDK still exchanges it at /oauth2/exchange as it would in Azure;
//   - the registry: LOGIN_SERVER and REGISTRY_NAME come from the test
//     resources in Azure; here they name the local server;
//   - buildImage: it runs `az acr build` on testdata/Dockerfile (FROM scratch,
//     COPY Dockerfile $ID) so that each test gets its own repository holding a
//     one-layer image tagged latest. Here the same image is built in Go, as
//     docker would build that Dockerfile, written as an OCI image layout and
//     pushed through the server with `acrctl copy`.
//
// It also differs in what it leaves out: only live mode is supported (the
// recording test proxy is never started), and clients use azcore's default
// transport, which verifies the server's certificate (trusted through
// SSL_CERT_FILE), where the recording transport would skip verification.
//
// The identifiers the other test files use keep their names and meaning:
// ctx, testConfig, fakeDigest, getEndpointCredAndClientOptions,
// startRecording and buildImage.

package azcontainerregistry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/internal/recording"
	"github.com/stretchr/testify/require"
)

// fakeDigest is what playback mode uses instead of real digests; the tests
// still name it, but this harness only runs live.
const fakeDigest = "sha256:00"

var (
	ctx = context.Background()

	testConfig = struct {
		cloud                     azcloud.Configuration
		credential                azcore.TokenCredential
		loginServer, registryName string
	}{cloud: azcloud.AzurePublic}

	// The image builder's settings (see buildImage).
	acrctlPath, pushUser, pushPassword, caFile string
)

// staticCredential is an azcore.TokenCredential that always returns one
// token: the "Entra ID access token" the server accepts at /oauth2/exchange.
type staticCredential string

func (c staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Environment the script provides.
const (
	envLoginServer  = "LOGIN_SERVER"        // HOST:PORT of the server, as in Azure's test resources
	envRegistryName = "REGISTRY_NAME"       // the registry's name, as in Azure's test resources
	envAADToken     = "GOSDK_AAD_TOKEN"     // the token given to `acrctl serve --aad-token`
	envACRCTL       = "GOSDK_ACRCTL"        // path of the acrctl binary that pushes the test images
	envPushUser     = "GOSDK_PUSH_USER"     // Basic credentials acrctl pushes with (`acrctl serve --user`)
	envPushPassword = "GOSDK_PUSH_PASSWORD" //
)

func TestMain(m *testing.M) {
	if mode := recording.GetRecordMode(); mode != recording.LiveMode {
		fmt.Fprintf(os.Stderr, "this harness runs the suite live only: set AZURE_RECORD_MODE=%s (got %q)\n", recording.LiveMode, mode)
		os.Exit(2)
	}
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			fmt.Fprintf(os.Stderr, "harness: %s is not set\n", name)
			os.Exit(2)
		}
		return v
	}
	testConfig.loginServer = get(envLoginServer)
	testConfig.registryName = get(envRegistryName)
	testConfig.credential = staticCredential(get(envAADToken))
	acrctlPath = get(envACRCTL)
	pushUser = get(envPushUser)
	pushPassword = get(envPushPassword)
	caFile = get("SSL_CERT_FILE") // the server's certificate, trusted by the SDK's clients too
	os.Exit(m.Run())
}

// getEndpointCredAndClientOptions returns the registry's endpoint, the
// credential and client options for a test's clients. The transport is
// azcore's default one, so TLS is verified as for any SDK user.
func getEndpointCredAndClientOptions(t *testing.T) (string, azcore.TokenCredential, azcore.ClientOptions) {
	return "https://" + testConfig.loginServer, testConfig.credential, azcore.ClientOptions{Cloud: testConfig.cloud}
}

// startRecording does nothing: in live mode there is no recording (the
// original calls recording.Start and Stop, which return at once when live).
func startRecording(t *testing.T) {}

// buildImage stands in for `az acr build -r REGISTRY --image REPO
// --build-arg ID=REPO testdata`: it pushes to the repository named after the
// test a one-layer image tagged latest, built from testdata/Dockerfile, and
// returns the repository and the image manifest's digest. Like the original,
// it makes the calling test parallel.
func buildImage(t *testing.T) (string, string) {
	repository := strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_")
	t.Parallel()

	layout := t.TempDir()
	digest, err := writeImageLayout(layout, repository)
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, acrctlPath, "copy", "--no-progress",
		"-u", pushUser, "--password-stdin", "--ca-file", caFile,
		"oci:"+layout+":latest", testConfig.loginServer+"/"+repository+":latest")
	cmd.Stdin = strings.NewReader(pushPassword)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "acrctl copy: %s", out)
	return repository, digest
}

// Media types of the image that docker pushes for a classic build.
const (
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Size        int               `json:"size"`
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// writeImageLayout writes into dir an OCI image layout holding, tagged
// latest, the image that testdata/Dockerfile builds with the build argument
// ID=id: FROM scratch, then a single layer with the Dockerfile copied to /id.
// It returns the digest of the image's (Docker v2) manifest.
func writeImageLayout(dir, id string) (string, error) {
	dockerfile, err := os.ReadFile(filepath.Join("testdata", "Dockerfile"))
	if err != nil {
		return "", err
	}
	// The builder knows only this Dockerfile's shape; a new version of the
	// suite with another one must fail here, not test a different image.
	if got := strings.Fields(string(dockerfile)); strings.Join(got, " ") != "FROM scratch ARG ID COPY Dockerfile $ID" {
		return "", fmt.Errorf("testdata/Dockerfile is not the one this builder reproduces: %q", dockerfile)
	}

	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: id, Mode: 0o644, Size: int64(len(dockerfile)),
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
	}); err != nil {
		return "", err
	}
	if _, err := tw.Write(dockerfile); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	var layer bytes.Buffer
	zw := gzip.NewWriter(&layer)
	if _, err := zw.Write(layerTar.Bytes()); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}

	created := "2024-01-01T00:00:00Z"
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      created,
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"WorkingDir": "/",
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{sha256Digest(layerTar.Bytes())}},
		"history": []map[string]any{
			{"created": created, "created_by": "ARG ID", "empty_layer": true},
			{"created": created, "created_by": "COPY Dockerfile " + id + " # buildkit"},
		},
	})
	if err != nil {
		return "", err
	}
	manifest, err := json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}{
		SchemaVersion: 2,
		MediaType:     mediaTypeDockerManifest,
		Config:        descriptor{MediaType: mediaTypeDockerConfig, Size: len(config), Digest: sha256Digest(config)},
		Layers:        []descriptor{{MediaType: mediaTypeDockerLayer, Size: layer.Len(), Digest: sha256Digest(layer.Bytes())}},
	})
	if err != nil {
		return "", err
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []descriptor{{
			MediaType: mediaTypeDockerManifest, Size: len(manifest), Digest: sha256Digest(manifest),
			Annotations: map[string]string{"org.opencontainers.image.ref.name": "latest"},
		}},
	})
	if err != nil {
		return "", err
	}

	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return "", err
	}
	for _, b := range [][]byte{layer.Bytes(), config, manifest} {
		if err := os.WriteFile(filepath.Join(blobs, strings.TrimPrefix(sha256Digest(b), "sha256:")), b, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		return "", err
	}
	return sha256Digest(manifest), nil
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
