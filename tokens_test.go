package acr_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// TestRefreshTokenHandout gets an ACR refresh token from an Entra ID
// credential, as `az acr login --expose-token` does, and checks that others
// can use it: by hand as docker does (Basic auth with RefreshTokenUser at
// the token endpoint), and as a refresh-token credential, which hands the
// same token back.
func TestRefreshTokenHandout(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{AADTokens: []string{entraToken}})
	entra := &fakeEntra{token: entraToken}
	client, err := acr.NewClient(srv.Host, acr.TokenCredential(entra), nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := client.RefreshToken(t.Context())
	if err != nil {
		t.Fatalf("RefreshToken: %v", err)
	}
	if rt.Token == "" || rt.Token == entraToken || !rt.ExpiresOn.After(time.Now()) {
		t.Fatalf("RefreshToken = %d-byte token expiring %v; want a new token that has not expired", len(rt.Token), rt.ExpiresOn)
	}
	// The client's own requests use the same exchange: no second one.
	if _, err := client.UploadBlob(t.Context(), "app", strings.NewReader("layer"), nil); err != nil {
		t.Fatal(err)
	}
	if n := entra.calls.Load(); n != 1 {
		t.Errorf("Entra ID was asked %d times, want once", n)
	}

	// As docker does with it: Basic auth at the token endpoint, with
	// RefreshTokenUser as the user name, for an access token.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
		srv.URL+"/oauth2/token?service="+srv.Host+"&scope=repository:app:pull,push", nil)
	req.SetBasicAuth(acr.RefreshTokenUser, rt.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		Token       string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	access := cmp.Or(body.AccessToken, body.Token)
	if err != nil || resp.StatusCode != http.StatusOK || access == "" {
		t.Fatalf("token endpoint with the refresh token as a password: %d, %v", resp.StatusCode, err)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v2/app/blobs/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("upload with that access token: %v, %v", resp, err)
	}
	resp.Body.Close()

	desc, err := client.UploadBlob(t.Context(), "app", bytes.NewReader([]byte("pushed by the Entra client")), nil)
	if err != nil {
		t.Fatal(err)
	}
	asRefresh, _ := acr.NewClient(srv.Host, acr.RefreshTokenCredential(rt.Token), nil)
	if _, ok, err := asRefresh.BlobExists(t.Context(), "app", desc.Digest); err != nil || !ok {
		t.Fatalf("BlobExists with the refresh token as a credential: %v, %v", ok, err)
	}
	again, err := asRefresh.RefreshToken(t.Context())
	if err != nil || again.Token != rt.Token {
		t.Fatalf("RefreshToken of a refresh-token client: %v; want its own token back", err)
	}
}

// TestAccessTokenHandout gets access tokens for given scopes and uses them
// by hand: a pull token reads the repository and cannot push to it.
func TestAccessTokenHandout(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{authUser: authPassword}})
	client, err := acr.NewClient(srv.Host, acr.BasicCredential(authUser, authPassword), nil)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := client.UploadBlob(t.Context(), "app", strings.NewReader("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pull, err := client.AccessToken(t.Context(), "repository:app:pull")
	if err != nil {
		t.Fatalf("AccessToken: %v", err)
	}
	if pull.ExpiresOn.IsZero() || !pull.ExpiresOn.After(time.Now()) {
		t.Errorf("the access token expires %v", pull.ExpiresOn)
	}
	status := func(method, path string) int {
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+pull.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(http.MethodGet, "/v2/app/blobs/"+desc.Digest.String()); got != http.StatusOK {
		t.Errorf("GET a blob with the pull token: %d, want 200", got)
	}
	if got := status(http.MethodPost, "/v2/app/blobs/uploads/"); got != http.StatusUnauthorized {
		t.Errorf("POST upload with the pull token: %d, want 401", got)
	}
	if _, err := client.RefreshToken(t.Context()); !errors.Is(err, acr.ErrNotSupported) {
		t.Errorf("RefreshToken with Basic credentials: got %v, want ErrNotSupported", err)
	} else if strings.Contains(err.Error(), authPassword) {
		t.Errorf("the error names the password: %v", err)
	}

	// A registry without authentication has no tokens to hand out.
	open, _ := acr.NewClient(acrtest.NewServer(t, nil).Host, nil, nil)
	if _, err := open.AccessToken(t.Context(), "repository:app:pull"); !errors.Is(err, acr.ErrNotSupported) {
		t.Errorf("AccessToken from an open registry: got %v, want ErrNotSupported", err)
	}
}
