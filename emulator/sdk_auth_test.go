package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/emulator"
	"github.com/google/go-cmp/cmp"
)

// sdkUnauthorized is the message of every 401 ACR was recorded sending.
const sdkUnauthorized = "authentication required, visit https://aka.ms/acr/authorization for more information."

// sdkClaims is what the tests read of an ACR token's payload.
type sdkClaims struct {
	Exp       int64  `json:"exp"`
	Iss       string `json:"iss"`
	Aud       string `json:"aud"`
	GrantType string `json:"grant_type"`
	Access    []struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	} `json:"access"`
	Permissions *struct {
		Actions []string `json:"Actions"`
	} `json:"permissions"`
}

// sdkJWTClaims decodes a token's payload the way the Go SDK does (it reads
// a refresh token's expiry with the standard base64 alphabet, padded).
func sdkJWTClaims(t *testing.T, what, tok string) sdkClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%s: got %d token segments, want 3", what, len(parts))
	}
	seg := parts[1]
	if n := len(seg) % 4; n > 0 {
		seg += strings.Repeat("=", 4-n)
	}
	payload, err := base64.StdEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("%s: the payload is not standard base64, which the Go SDK needs: %v", what, err)
	}
	var c sdkClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("%s: payload %s: %v", what, payload, err)
	}
	return c
}

// sdkRaw sends a request outside the SDK, with an Authorization header.
func (e *sdkEnv) sdkRaw(t *testing.T, method, path, authz string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// sdkAuthArea covers the AuthenticationClient: Entra ID token for ACR
// refresh token, refresh token for access tokens, the tokens used for
// requests, and the credential's audience in national clouds.
func sdkAuthArea(t *testing.T) {
	e := newSDKEnv(t, false, emulator.Options{})
	ctx := t.Context()
	host := e.srv.Host
	const repo = "auth/repo"
	im := e.pushImage(t, repo, "v1", "amd64", "linux", sdkOCI, "auth layer")
	auth, err := azcontainerregistry.NewAuthenticationClient(e.srv.URL, &azcontainerregistry.AuthenticationClientOptions{ClientOptions: e.clientOptions()})
	if err != nil {
		t.Fatal(err)
	}

	var refresh string
	t.Run("ExchangeAADAccessTokenForACRRefreshToken", func(t *testing.T) {
		before := time.Now()
		resp, err := auth.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, host,
			&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: to.Ptr(sdkAADToken), Tenant: to.Ptr("00000000-0000-0000-0000-000000000001")})
		if err != nil {
			t.Fatalf("ExchangeAADAccessTokenForACRRefreshToken: %v", err)
		}
		refresh = sdkStr(resp.RefreshToken)
		c := sdkJWTClaims(t, "refresh token", refresh)
		// ACR's refresh tokens last 3 hours and list the identity's
		// permissions (G Test_authenticationClient_ExchangeACRRefreshTokenForACRAccessToken).
		exp := time.Unix(c.Exp, 0)
		if exp.Before(before.Add(3*time.Hour-time.Minute)) || exp.After(time.Now().Add(3*time.Hour+time.Minute)) {
			t.Errorf("refresh token: expires %v, want 3 hours from now", exp)
		}
		if c.Aud != host || c.Iss != "Azure Container Registry" || c.GrantType != "refresh_token" || c.Permissions == nil ||
			!slices.Equal(c.Permissions.Actions, []string{"read", "write", "delete", "deleted/read", "deleted/restore/action"}) {
			t.Errorf("refresh token claims: got %+v", c)
		}
		// An Entra ID token the registry does not accept: 401, no body,
		// no challenge (G Test_authenticationClient_ExchangeAADAccessTokenForACRRefreshToken_fail).
		_, err = auth.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, host,
			&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: to.Ptr("wrong-token")})
		sdkWantError(t, "ExchangeAADAccessTokenForACRRefreshToken wrong-token", err, http.StatusUnauthorized, "")
		if resp := sdkRawOf(err); resp != nil && (sdkBody(resp) != "" || resp.Header.Get("Www-Authenticate") != "") {
			t.Errorf("refused exchange: got body %q, challenge %q; want neither", sdkBody(resp), resp.Header.Get("Www-Authenticate"))
		}
	})
	if refresh == "" {
		t.Fatal("no refresh token to go on with")
	}

	t.Run("ExchangeACRRefreshTokenForACRAccessToken", func(t *testing.T) {
		access := func(scope, refreshToken string, grant azcontainerregistry.TokenGrantType) string {
			t.Helper()
			resp, err := auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, host, scope, refreshToken,
				&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(grant)})
			if err != nil {
				t.Fatalf("ExchangeACRRefreshTokenForACRAccessToken %s: %v", scope, err)
			}
			c := sdkJWTClaims(t, "access token for "+scope, sdkStr(resp.AccessToken))
			if c.Aud != host || c.GrantType != "access_token" || time.Unix(c.Exp, 0).Before(time.Now()) {
				t.Errorf("access token for %s: got claims %+v", scope, c)
			}
			return "Bearer " + sdkStr(resp.AccessToken)
		}
		for _, grant := range azcontainerregistry.PossibleTokenGrantTypeValues() {
			switch grant {
			case azcontainerregistry.TokenGrantTypeRefreshToken:
				pull := access("repository:"+repo+":pull", refresh, grant)
				resp, body := e.sdkRaw(t, "GET", "/v2/"+repo+"/manifests/v1", pull, "Accept", string(sdkOCI))
				if resp.StatusCode != http.StatusOK || body != string(im.manifest) {
					t.Errorf("GET manifest with a pull token: %d %s", resp.StatusCode, body)
				}
				// A token without the scope gets a new challenge, as the
				// Go SDK needs (it reuses its last token for everything).
				resp, _ = e.sdkRaw(t, "DELETE", "/v2/"+repo+"/manifests/"+im.digest, pull)
				want := `scope="repository:` + repo + `:delete",error="insufficient_scope"`
				if resp.StatusCode != http.StatusUnauthorized || !strings.HasSuffix(resp.Header.Get("Www-Authenticate"), want) {
					t.Errorf("DELETE with a pull token: got %d, challenge %q; want 401 ending %s", resp.StatusCode, resp.Header.Get("Www-Authenticate"), want)
				}
				catalog := access("registry:catalog:*", refresh, grant)
				resp, body = e.sdkRaw(t, "GET", "/acr/v1/_catalog", catalog)
				if resp.StatusCode != http.StatusOK || body != `{"repositories":["`+repo+`"]}` {
					t.Errorf("GET /acr/v1/_catalog with a catalog token: %d %s", resp.StatusCode, body)
				}
				both := access("repository:"+repo+":metadata_read repository:other:pull", refresh, grant)
				resp, body = e.sdkRaw(t, "GET", "/acr/v1/"+url.PathEscape(repo), both)
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"imageName":"`+repo+`"`) {
					t.Errorf("GET /acr/v1/%s with a two-scope token: %d %s", repo, resp.StatusCode, body)
				}
				// A refresh token the registry did not mint: 401, no body
				// (G Test_authenticationClient_ExchangeACRRefreshTokenForACRAccessToken_fail).
				_, err := auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, host, "repository:"+repo+":pull", "wrong-token",
					&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(grant)})
				sdkWantError(t, "ExchangeACRRefreshTokenForACRAccessToken wrong-token", err, http.StatusUnauthorized, "")
				if resp := sdkRawOf(err); resp != nil && sdkBody(resp) != "" {
					t.Errorf("refused refresh token: got body %q, want none", sdkBody(resp))
				}
			case azcontainerregistry.TokenGrantTypePassword:
				// The anonymous grant; this registry has no anonymous pull.
				_, err := auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, host, "registry:catalog:*", "",
					&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(grant)})
				sdkWantError(t, "anonymous token without anonymous pull", err, http.StatusUnauthorized, "")
			default:
				t.Errorf("the SDK has a grant type %q this test does not know", grant)
			}
		}
	})

	t.Run("refresh token as docker password", func(t *testing.T) {
		// docker login with an ACR refresh token: user 0000…, GET
		// /oauth2/token with Basic (docs/acr-rest-api.md).
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("00000000-0000-0000-0000-000000000000:"+refresh))
		q := url.Values{"service": {host}, "scope": {"repository:" + repo + ":pull"}}
		resp, body := e.sdkRaw(t, "GET", "/oauth2/token?"+q.Encode(), basic)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" {
			t.Fatalf("GET /oauth2/token with the refresh token: %d %s", resp.StatusCode, body)
		}
		resp, _ = e.sdkRaw(t, "HEAD", "/v2/"+repo+"/blobs/"+im.layerDigests[0], "Bearer "+tok.AccessToken)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD blob with the docker-style token: %d", resp.StatusCode)
		}
	})

	t.Run("credential", func(t *testing.T) {
		// The SDK asks Entra ID for the registry audience, once per
		// client: it keeps the refresh token until its JWT expiry, which
		// it could read.
		calls, scopes := e.cred.seen()
		if calls != 2 {
			t.Errorf("the credential was asked %d times by the Client and the BlobClient, want once each", calls)
		}
		for _, s := range scopes {
			if s != sdkAudience {
				t.Errorf("the SDK asked for scope %q, want %s", s, sdkAudience)
			}
		}
	})

	t.Run("NationalCloud", func(t *testing.T) {
		// The seed README's national cloud sample: the audience comes
		// from the cloud configuration (ServiceName).
		custom := cloud.Configuration{ActiveDirectoryAuthorityHost: "https://login.chinacloudapi.cn/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{azcontainerregistry.ServiceName: {Audience: "https://acr.example.cn"}}}
		for _, tc := range []struct {
			name  string
			cloud cloud.Configuration
			scope string
		}{
			{"AzureChina", cloud.AzureChina, sdkAudience},
			{"AzureGovernment", cloud.AzureGovernment, sdkAudience},
			{"custom", custom, "https://acr.example.cn/.default"},
		} {
			cred := &sdkCredential{token: sdkAADToken}
			opts := e.clientOptions()
			opts.Cloud = tc.cloud
			client, err := azcontainerregistry.NewClient(e.srv.URL, cred, &azcontainerregistry.ClientOptions{ClientOptions: opts})
			if err != nil {
				t.Fatalf("%s: NewClient: %v", tc.name, err)
			}
			props, err := client.GetRepositoryProperties(ctx, repo, nil)
			if err != nil || sdkStr(props.Name) != repo {
				t.Errorf("%s: GetRepositoryProperties: %v", tc.name, err)
			}
			if _, scopes := cred.seen(); !slices.Equal(scopes, []string{tc.scope}) {
				t.Errorf("%s: the SDK asked for scopes %v, want %s", tc.name, scopes, tc.scope)
			}
		}
	})
}

// sdkAnonymousArea covers a registry with anonymous pull, over TLS as the
// .NET and Python SDKs need: reads work, the catalog too
// (G Test_authenticationPolicy_anonymousAccess, P test_anon_access), and
// writes fail with 401 insufficient_scope after the token endpoint gave a
// token (J …throw_error_setting_properties_with_anonymous_access).
func sdkAnonymousArea(t *testing.T) {
	e := newSDKEnv(t, true, emulator.Options{AnonymousPull: true})
	ctx := t.Context()
	const repo = "library/hello-world"
	im := e.pushImage(t, repo, "latest", "amd64", "linux", sdkOCI, "anonymous layer")
	e.uploadManifest(t, repo, "v1", sdkOCI, im.manifest)
	alpine := e.pushImage(t, "alpine", "3.17.1", "amd64", "linux", sdkOCI, "alpine layer")
	anon, anonBlobs := e.clients(t, nil)

	t.Run("reads", func(t *testing.T) {
		var names []string
		for _, p := range sdkPages(t, "anonymous catalog", anon.NewListRepositoriesPager(nil), ctx) {
			names = append(names, sdkStrs(p.Names)...)
		}
		if want := []string{"alpine", repo}; !slices.Equal(names, want) {
			t.Errorf("anonymous catalog: got %v, want %v", names, want)
		}
		props, err := anon.GetRepositoryProperties(ctx, repo, nil)
		if err != nil || sdkStr(props.Name) != repo || *props.TagCount != 2 || *props.ManifestCount != 1 {
			t.Errorf("anonymous GetRepositoryProperties: %v %+v", err, props)
		}
		tag, err := anon.GetTagProperties(ctx, repo, "latest", nil)
		if err != nil || sdkStr(tag.Tag.Digest) != im.digest {
			t.Errorf("anonymous GetTagProperties: %v", err)
		}
		tags := sdkTagPages(t, "anonymous tags", anon.NewListTagsPager(repo, nil), repo, e.srv.Host, nil)
		if diff := cmp.Diff([][]string{{"latest", "v1"}}, tags); diff != "" {
			t.Errorf("anonymous tags (-want +got):\n%s", diff)
		}
		ms := sdkManifestPages(t, "anonymous manifests", anon.NewListManifestsPager(repo, nil), repo, e.srv.Host,
			[]sdkImage{im}, map[string][]string{im.digest: {"latest", "v1"}})
		if diff := cmp.Diff([][]string{{im.digest}}, ms); diff != "" {
			t.Errorf("anonymous manifests (-want +got):\n%s", diff)
		}
		mp, err := anon.GetManifestProperties(ctx, repo, im.digest, nil)
		if err != nil {
			t.Errorf("anonymous GetManifestProperties: %v", err)
		} else {
			sdkCheckManifest(t, "anonymous GetManifestProperties", mp.Manifest, im, []string{"latest", "v1"})
		}
		m, err := anon.GetManifest(ctx, repo, "latest", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(sdkOCI))})
		if err != nil {
			t.Fatalf("anonymous GetManifest: %v", err)
		}
		if got := sdkValidated(t, "anonymous GetManifest", im.digest, m.ManifestData); string(got) != string(im.manifest) {
			t.Error("anonymous GetManifest read other bytes")
		}
		b, err := anonBlobs.GetBlob(ctx, repo, im.layerDigests[0], nil)
		if err != nil {
			t.Fatalf("anonymous GetBlob: %v", err)
		}
		if got := sdkValidated(t, "anonymous GetBlob", im.layerDigests[0], b.BlobData); string(got) != string(im.layers[0]) {
			t.Error("anonymous GetBlob read other bytes")
		}
		if ex, err := anonBlobs.CheckBlobExists(ctx, repo, im.configDigest, nil); err != nil || *ex.ContentLength != int64(len(im.config)) {
			t.Errorf("anonymous CheckBlobExists: %v", err)
		}
	})

	t.Run("writes", func(t *testing.T) {
		no := to.Ptr(false)
		for _, tc := range []struct {
			name, scope string
			call        func() error
		}{
			{"UpdateRepositoryProperties", "repository:" + repo + ":metadata_write", func() error {
				_, err := anon.UpdateRepositoryProperties(ctx, repo, &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{Value: &azcontainerregistry.RepositoryWriteableProperties{CanWrite: no}})
				return err
			}},
			{"UpdateTagProperties", "repository:" + repo + ":metadata_write", func() error {
				_, err := anon.UpdateTagProperties(ctx, repo, "latest", &azcontainerregistry.ClientUpdateTagPropertiesOptions{Value: &azcontainerregistry.TagWriteableProperties{CanDelete: no}})
				return err
			}},
			{"UpdateManifestProperties", "repository:" + repo + ":metadata_write", func() error {
				_, err := anon.UpdateManifestProperties(ctx, repo, im.digest, &azcontainerregistry.ClientUpdateManifestPropertiesOptions{Value: &azcontainerregistry.ManifestWriteableProperties{CanList: no}})
				return err
			}},
			{"DeleteTag", "repository:" + repo + ":delete", func() error { _, err := anon.DeleteTag(ctx, repo, "v1", nil); return err }},
			{"DeleteManifest", "repository:" + repo + ":delete", func() error { _, err := anon.DeleteManifest(ctx, repo, im.digest, nil); return err }},
			{"DeleteRepository", "repository:" + repo + ":delete", func() error { _, err := anon.DeleteRepository(ctx, repo, nil); return err }},
			{"UploadManifest", "repository:" + repo + ":pull,push", func() error {
				_, err := anon.UploadManifest(ctx, repo, "v2", sdkOCI, streaming.NopCloser(strings.NewReader(string(im.manifest))), nil)
				return err
			}},
			{"StartUpload", "repository:" + repo + ":pull,push", func() error { _, err := anonBlobs.StartUpload(ctx, repo, nil); return err }},
			{"MountBlob", "repository:" + repo + ":pull,push repository:alpine:pull", func() error {
				_, err := anonBlobs.MountBlob(ctx, repo, "alpine", alpine.layerDigests[0], nil)
				return err
			}},
			{"DeleteBlob", "repository:" + repo + ":delete", func() error { _, err := anonBlobs.DeleteBlob(ctx, repo, im.layerDigests[0], nil); return err }},
		} {
			err := tc.call()
			msg, _ := sdkWantError(t, "anonymous "+tc.name, err, http.StatusUnauthorized, "UNAUTHORIZED")
			if msg != sdkUnauthorized {
				t.Errorf("anonymous %s: got message %q, want ACR's", tc.name, msg)
			}
			want := `scope="` + tc.scope + `",error="insufficient_scope"`
			if resp := sdkRawOf(err); resp != nil && !strings.HasSuffix(resp.Header.Get("Www-Authenticate"), want) {
				t.Errorf("anonymous %s: got challenge %q, want one ending %s", tc.name, resp.Header.Get("Www-Authenticate"), want)
			}
		}
		// Nothing changed.
		props, err := e.client.GetRepositoryProperties(ctx, repo, nil)
		if err != nil || *props.TagCount != 2 || *props.ManifestCount != 1 {
			t.Fatalf("after the refused writes: %v %+v", err, props)
		}
		a := props.ChangeableAttributes
		sdkAttrs(t, "repository after the refused writes", a.CanDelete, a.CanWrite, a.CanRead, a.CanList, [4]bool{true, true, true, true})
		if _, err := e.blobs.CheckBlobExists(ctx, repo, im.layerDigests[0], nil); err != nil {
			t.Errorf("the layer after the refused delete: %v", err)
		}
		if _, err := e.blobs.CheckBlobExists(ctx, repo, alpine.layerDigests[0], nil); err == nil {
			t.Error("the refused mount mounted the blob")
		}
	})

	t.Run("AuthenticationClient anonymous token", func(t *testing.T) {
		auth, err := azcontainerregistry.NewAuthenticationClient(e.srv.URL, &azcontainerregistry.AuthenticationClientOptions{ClientOptions: e.clientOptions()})
		if err != nil {
			t.Fatal(err)
		}
		// The Go SDK's anonymous request: grant_type=password with an
		// empty refresh_token (G Test_authenticationPolicy_anonymousAccess).
		resp, err := auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, e.srv.Host, "registry:catalog:*", "",
			&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(azcontainerregistry.TokenGrantTypePassword)})
		if err != nil {
			t.Fatalf("anonymous ExchangeACRRefreshTokenForACRAccessToken: %v", err)
		}
		raw, body := e.sdkRaw(t, "GET", "/acr/v1/_catalog", "Bearer "+sdkStr(resp.AccessToken))
		if raw.StatusCode != http.StatusOK || body != `{"repositories":["alpine","library/hello-world"]}` {
			t.Errorf("GET /acr/v1/_catalog with the anonymous token: %d %s", raw.StatusCode, body)
		}
	})
}
