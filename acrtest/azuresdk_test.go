package acrtest_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// testToken is an azcore.TokenCredential that returns one of
// emulator.Options.AADTokens, as the package documentation says.
type testToken string

func (c testToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// sdkClient is the package documentation's snippet, with retries of
// failed requests (azcore.RetryOptions.MaxRetries) when retries > 0.
func sdkClient(t *testing.T, srv *acrtest.Server, cred azcore.TokenCredential, retries int32) *azcontainerregistry.Client {
	t.Helper()
	opts := azcore.ClientOptions{Transport: srv.HTTP.Client()}
	if retries <= 0 {
		opts.Retry.MaxRetries = -1
	}
	client, err := azcontainerregistry.NewClient(srv.URL, cred, &azcontainerregistry.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestNewTLSServerAzureSDK runs the package documentation's snippet in
// parallel tests, each with its own registry: Microsoft's Go SDK over TLS
// with an Entra ID token reads what PushImage seeded, and a wrong token is
// refused.
func TestNewTLSServerAzureSDK(t *testing.T) {
	for _, name := range []string{"a", "b", "c"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := acrtest.NewTLSServer(t, &emulator.Options{AADTokens: []string{"test-token"}})
			want := srv.PushImage(t, "app", name)
			client := sdkClient(t, srv, testToken("test-token"), 3)
			pager := client.NewListTagsPager("app", nil)
			var tags []string
			for pager.More() {
				page, err := pager.NextPage(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				for _, tag := range page.Tags {
					tags = append(tags, *tag.Name+"@"+*tag.Digest)
				}
			}
			if len(tags) != 1 || tags[0] != name+"@"+want.Digest.String() {
				t.Errorf("got tags %v, want only %s@%s: each test has its own registry", tags, name, want.Digest)
			}
			props, err := client.GetManifestProperties(t.Context(), "app", want.Digest.String(), nil)
			if err != nil || *props.Manifest.Architecture != azcontainerregistry.ArtifactArchitectureAmd64 {
				t.Errorf("GetManifestProperties: %v, want architecture amd64", err)
			}
			// The SDK retries a refused token exchange as it retries a
			// failed request: three times with backoff, about 9 s, as
			// against ACR (401, no body). Tests of refusals turn that off.
			_, err = sdkClient(t, srv, testToken("another"), 0).GetTagProperties(t.Context(), "app", name, nil)
			var respErr *azcore.ResponseError
			if !errors.As(err, &respErr) || respErr.StatusCode != http.StatusUnauthorized {
				t.Errorf("with a token not in AADTokens: got %v, want 401", err)
			}
		})
	}
}

// TestServerLeavesNothing: when a test ends, its registry's goroutines
// and open files (a disk store's database and blobs) are gone, after
// clients kept connections open to it.
func TestServerLeavesNothing(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd to count open files")
		}
		return len(ents)
	}
	goroutines, files := runtime.NumGoroutine(), fds()
	t.Run("use", func(t *testing.T) {
		srv := acrtest.NewTLSServer(t, &emulator.Options{Dir: t.TempDir(), AADTokens: []string{"test-token"}})
		d := srv.PushImage(t, "app", "v1")
		client := sdkClient(t, srv, testToken("test-token"), 3)
		if _, err := client.GetManifest(t.Context(), "app", d.Digest.String(),
			&azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(d.MediaType)}); err != nil {
			t.Fatal(err)
		}
	})
	var g, f int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if g, f = runtime.NumGoroutine(), fds(); g <= goroutines && f <= files || time.Now().After(deadline) {
			break
		}
	}
	if g > goroutines {
		buf := make([]byte, 1<<16)
		t.Errorf("got %d goroutines after the test, want at most %d as before:\n%s", g, goroutines, buf[:runtime.Stack(buf, true)])
	}
	if f > files {
		t.Errorf("got %d open files after the test, want at most %d as before", f, files)
	}
}
