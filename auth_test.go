package acr_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Secrets of the auth tests. They are long and distinctive, so that a test
// can search logs and errors for them.
const (
	authUser     = "admin"
	authPassword = "pw-3f9c1a7e5b2d4c8a9e0f"
	entraToken   = "entra-at-7c2e9b4d1f8a3e6c5b0d"
)

// fakeEntra is an azcore.TokenCredential that returns a fixed Entra ID
// access token, as azidentity would, and counts the calls.
type fakeEntra struct {
	token string
	calls atomic.Int32
}

func (f *fakeEntra) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.calls.Add(1)
	if !slices.Equal(opts.Scopes, []string{acr.AudienceAzurePublic + "/.default"}) {
		return azcore.AccessToken{}, fmt.Errorf("fakeEntra: unexpected scopes %v", opts.Scopes)
	}
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// testClock is a registry clock that tests move forward.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// authServer is the emulator with authentication on, behind a middleware
// that counts token traffic and records every secret that crosses the
// wire: Authorization headers and the tokens the registry issues.
type authServer struct {
	URL, Host string
	Clock     *testClock
	reg       *emulator.Server

	mu        sync.Mutex
	exchanges map[string]int // POST /oauth2/exchange by service
	tokens    map[string]int // /oauth2/token by "host scope scope..."
	secrets   map[string]bool
	requests  atomic.Int64
}

// newAuthServer starts the emulator with users, Entra ID tokens and a
// clock (unless opts sets them) and stops it when t ends.
func newAuthServer(t testing.TB, opts emulator.Options) *authServer {
	t.Helper()
	as := &authServer{Clock: &testClock{t: time.Now()}, exchanges: map[string]int{}, tokens: map[string]int{}, secrets: map[string]bool{}}
	if opts.Users == nil {
		opts.Users = map[string]string{authUser: authPassword}
	}
	if opts.AADTokens == nil {
		opts.AADTokens = []string{entraToken}
	}
	if opts.Now == nil {
		opts.Now = as.Clock.Now
	}
	reg, err := emulator.New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	as.reg = reg
	hs := httptest.NewServer(http.HandlerFunc(as.serve))
	t.Cleanup(func() { hs.Close(); reg.Close() })
	as.URL, as.Host = hs.URL, hs.Listener.Addr().String()
	return as
}

func (as *authServer) serve(w http.ResponseWriter, r *http.Request) {
	as.requests.Add(1)
	if a := r.Header.Get("Authorization"); a != "" {
		_, cred, _ := strings.Cut(a, " ")
		as.addSecret(cred)
	}
	if !strings.HasPrefix(r.URL.Path, "/oauth2/") {
		as.reg.ServeHTTP(w, r)
		return
	}
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ = url.ParseQuery(string(body))
	}
	as.mu.Lock()
	switch r.URL.Path {
	case "/oauth2/exchange":
		as.exchanges[form.Get("service")]++
	case "/oauth2/token":
		as.tokens[tokenKey(r.Host, form["scope"])]++
	}
	for _, k := range []string{"password", "refresh_token", "access_token"} {
		if v := form.Get(k); v != "" {
			as.secrets[v] = true
		}
	}
	as.mu.Unlock()
	rec := httptest.NewRecorder()
	as.reg.ServeHTTP(rec, r)
	var issued map[string]any
	if json.Unmarshal(rec.Body.Bytes(), &issued) == nil {
		for _, k := range []string{"token", "access_token", "refresh_token"} {
			if s, ok := issued[k].(string); ok {
				as.addSecret(s)
			}
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// tokenKey names a token request by host and its set of scopes, however
// they were split into parameters.
func tokenKey(host string, scopes []string) string {
	var all []string
	for _, s := range scopes {
		all = append(all, strings.Fields(s)...)
	}
	sort.Strings(all)
	return strings.Join(append([]string{host}, slices.Compact(all)...), " ")
}

func (as *authServer) addSecret(s string) {
	if s == "" {
		return
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	as.secrets[s] = true
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
		if _, pass, ok := strings.Cut(string(raw), ":"); ok && pass != "" {
			as.secrets[pass] = true
		}
	}
}

// Secrets returns every secret seen so far: passwords, Entra ID, refresh
// and access tokens, Basic credentials.
func (as *authServer) Secrets() []string {
	as.mu.Lock()
	defer as.mu.Unlock()
	var out []string
	for s := range as.secrets {
		out = append(out, s)
	}
	return out
}

// counts returns copies of the exchange and token counters.
func (as *authServer) counts() (exchanges, tokens map[string]int) {
	as.mu.Lock()
	defer as.mu.Unlock()
	exchanges, tokens = map[string]int{}, map[string]int{}
	for k, v := range as.exchanges {
		exchanges[k] = v
	}
	for k, v := range as.tokens {
		tokens[k] = v
	}
	return exchanges, tokens
}

func (as *authServer) resetCounts() {
	as.mu.Lock()
	defer as.mu.Unlock()
	clear(as.exchanges)
	clear(as.tokens)
}

// seeder pushes with the admin user, past the client under test.
func (as *authServer) seeder(t testing.TB) *seeder {
	return &seeder{t: t, base: as.URL, user: authUser, pass: authPassword}
}

// refreshToken obtains an ACR refresh token the way `az acr login
// --expose-token` does: POST /oauth2/exchange with an Entra ID token.
func (as *authServer) refreshToken(t testing.TB) string {
	t.Helper()
	resp, err := http.PostForm(as.URL+"/oauth2/exchange",
		url.Values{"grant_type": {"access_token"}, "service": {as.Host}, "access_token": {entraToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.RefreshToken == "" {
		t.Fatalf("exchange: status %d, %v", resp.StatusCode, err)
	}
	return body.RefreshToken
}

// writeDockerConfig writes a docker config.json with one auths entry for
// host and returns its path.
func writeDockerConfig(t testing.TB, host string, entry map[string]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"auths": map[string]any{host: entry}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// credentialCase is a way to authenticate against an authServer.
type credentialCase struct {
	name string
	make func(t testing.TB, as *authServer) acr.Credential
}

func credentialCases() []credentialCase {
	docker := func(t testing.TB, path string) acr.Credential {
		t.Helper()
		c, err := acr.DockerConfigCredential(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return []credentialCase{
		{"basic", func(t testing.TB, as *authServer) acr.Credential { return acr.BasicCredential(authUser, authPassword) }},
		{"Entra ID", func(t testing.TB, as *authServer) acr.Credential {
			return acr.TokenCredential(&fakeEntra{token: entraToken})
		}},
		{"refresh token", func(t testing.TB, as *authServer) acr.Credential {
			return acr.RefreshTokenCredential(as.refreshToken(t))
		}},
		{"docker config auth", func(t testing.TB, as *authServer) acr.Credential {
			auth := base64.StdEncoding.EncodeToString([]byte(authUser + ":" + authPassword))
			return docker(t, writeDockerConfig(t, as.Host, map[string]string{"auth": auth}))
		}},
		{"docker config identitytoken", func(t testing.TB, as *authServer) acr.Credential {
			return docker(t, writeDockerConfig(t, as.Host, map[string]string{"identitytoken": as.refreshToken(t)}))
		}},
		{"docker credential helper identitytoken (<token> user)", func(t testing.TB, as *authServer) acr.Credential {
			// A helper that answers as docker-credential-acr-env and az acr
			// login's helpers do for an identity token: user "<token>".
			dir := t.TempDir()
			script := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread host\n" +
				`printf '{"ServerURL":"%s","Username":"<token>","Secret":"%s"}' "$host" '` + as.refreshToken(t) + "'\n"
			if err := os.WriteFile(filepath.Join(dir, "docker-credential-acrgotest"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			path := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(path, []byte(`{"credHelpers":{"`+as.Host+`":"acrgotest"}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			return docker(t, path)
		}},
	}
}

// TestAuthEveryOperation runs every kind of operation with every kind of
// credential against the emulator with authentication on.
func TestAuthEveryOperation(t *testing.T) {
	for _, cc := range credentialCases() {
		t.Run(cc.name, func(t *testing.T) {
			as := newAuthServer(t, emulator.Options{})
			as.seeder(t).image("auth/base", "amd64", "base", "v0")
			client, err := acr.NewClient(as.URL, cc.make(t, as), nil)
			if err != nil {
				t.Fatal(err)
			}
			exerciseAll(t, client, "auth/app")
		})
	}
}

// exerciseAll pushes an image to repo and then reads, lists, updates and
// deletes it with client: every kind of operation the client offers.
func exerciseAll(t *testing.T, client *acr.Client, repo string) {
	t.Helper()
	ctx := t.Context()
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// Push: a monolithic and a chunked upload, a manifest, a mount.
	cfg, err := client.UploadBlob(ctx, repo, strings.NewReader(`{"architecture":"amd64","os":"linux"}`),
		&acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	step("UploadBlob (monolithic)", err)
	layerData := randomBytes(2*mib + 5)
	layer, err := client.UploadBlob(ctx, repo, bytes.NewReader(layerData), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayer, ChunkSize: mib})
	step("UploadBlob (chunked)", err)
	extra := []byte("pushed with a known descriptor")
	extraDesc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(extra), Size: int64(len(extra))}
	_, err = client.UploadBlob(ctx, repo, bytes.NewReader(extra), &acr.UploadBlobOptions{Descriptor: &extraDesc})
	step("UploadBlob (known descriptor)", err)
	m := ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	desc, err := client.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: "v1"})
	step("SetImage", err)
	mounted, err := client.MountBlob(ctx, repo+"-copy", repo, layer.Digest)
	step("MountBlob", err)
	if !mounted {
		t.Fatal("MountBlob: not mounted")
	}

	// Read.
	got, err := client.GetManifest(ctx, repo, "v1", nil)
	step("GetManifest", err)
	if got.Digest != desc.Digest {
		t.Fatalf("GetManifest: got %s, want %s", got.Digest, desc.Digest)
	}
	size, ok, err := client.BlobExists(ctx, repo, layer.Digest)
	step("BlobExists", err)
	if !ok || size != layer.Size {
		t.Fatalf("BlobExists: got %v %d, want true %d", ok, size, layer.Size)
	}
	rc, err := client.DownloadBlob(ctx, repo, layer.Digest, nil)
	step("DownloadBlob", err)
	data, err := io.ReadAll(rc)
	rc.Close()
	step("DownloadBlob: read", err)
	if !bytes.Equal(data, layerData) {
		t.Fatal("DownloadBlob: the bytes differ")
	}
	path := filepath.Join(t.TempDir(), "layer")
	_, err = downloadFile(ctx, client, repo, layer.Digest, path, nil)
	step("DownloadBlobTo", err)
	_, err = client.ResolveDigest(ctx, repo, "v1")
	step("ResolveDigest", err)
	for _, err := range client.Referrers(ctx, repo, desc.Digest, "") {
		step("Referrers", err)
	}

	// List.
	repos := collect(t, client.Repositories(ctx, nil))
	if !slices.Contains(repos, repo) || !slices.Contains(repos, "auth/base") {
		t.Fatalf("Repositories: got %v, want %s and auth/base among them", repos, repo)
	}
	tags := collect(t, client.Tags(ctx, repo, &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}))
	if len(tags) != 1 || tags[0].Name != "v1" {
		t.Fatalf("Tags: got %+v", tags)
	}
	manifests := collect(t, client.Manifests(ctx, repo, nil))
	if len(manifests) != 1 || manifests[0].Digest != desc.Digest {
		t.Fatalf("Manifests: got %+v", manifests)
	}

	// Properties.
	_, err = client.GetRepositoryProperties(ctx, repo)
	step("GetRepositoryProperties", err)
	tr, f := true, false
	_, err = client.UpdateRepositoryProperties(ctx, repo, acr.PermissionsUpdate{CanList: &tr})
	step("UpdateRepositoryProperties", err)
	_, err = client.GetTagProperties(ctx, repo, "v1")
	step("GetTagProperties", err)
	tp, err := client.UpdateTagProperties(ctx, repo, "v1", acr.PermissionsUpdate{CanDelete: &f})
	step("UpdateTagProperties", err)
	if tp.Permissions.CanDelete {
		t.Fatal("UpdateTagProperties: CanDelete still set")
	}
	_, err = client.UpdateTagProperties(ctx, repo, "v1", acr.PermissionsUpdate{CanDelete: &tr})
	step("UpdateTagProperties (undo)", err)
	_, err = client.GetManifestProperties(ctx, repo, desc.Digest.String())
	step("GetManifestProperties", err)
	_, err = client.UpdateManifestProperties(ctx, repo, "v1", acr.PermissionsUpdate{CanRead: &tr})
	step("UpdateManifestProperties", err)

	// Delete.
	step("DeleteTag", client.DeleteTag(ctx, repo, "v1"))
	_, err = client.DeleteManifest(ctx, repo, desc.Digest.String())
	step("DeleteManifest", err)
	step("DeleteBlob", client.DeleteBlob(ctx, repo, extraDesc.Digest))
	_, err = client.DeleteRepository(ctx, repo)
	step("DeleteRepository", err)
	if _, err := client.GetRepositoryProperties(ctx, repo); !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("after DeleteRepository: got %v, want ErrNotFound", err)
	}
}

// TestAuthAnonymousPull reads anonymously from a registry with anonymous
// pull, and is refused writes with an error that names the credential.
func TestAuthAnonymousPull(t *testing.T) {
	as := newAuthServer(t, emulator.Options{AnonymousPull: true})
	seed := as.seeder(t)
	layer := []byte("public layer")
	ld := seed.blob("public/app", layer)
	md := seed.image("public/app", "amd64", "one", "v1")
	ctx := t.Context()
	for _, cred := range []acr.Credential{nil, acr.AnonymousCredential()} {
		client, err := acr.NewClient(as.URL, cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		reads := []struct {
			name string
			err  error
		}{
			{"GetManifest", func() error { _, err := client.GetManifest(ctx, "public/app", "v1", nil); return err }()},
			{"DownloadBlob", func() error {
				rc, err := client.DownloadBlob(ctx, "public/app", ld, nil)
				if err != nil {
					return err
				}
				defer rc.Close()
				got, err := io.ReadAll(rc)
				if err == nil && !bytes.Equal(got, layer) {
					err = errors.New("wrong bytes")
				}
				return err
			}()},
			{"BlobExists", func() error { _, _, err := client.BlobExists(ctx, "public/app", ld); return err }()},
			{"Tags", func() error {
				for _, err := range client.Tags(ctx, "public/app", nil) {
					return err
				}
				return nil
			}()},
			{"GetTagProperties", func() error { _, err := client.GetTagProperties(ctx, "public/app", "v1"); return err }()},
			{"Manifests", func() error {
				for _, err := range client.Manifests(ctx, "public/app", nil) {
					return err
				}
				return nil
			}()},
			{"GetManifestProperties", func() error { _, err := client.GetManifestProperties(ctx, "public/app", md.String()); return err }()},
			{"GetRepositoryProperties", func() error { _, err := client.GetRepositoryProperties(ctx, "public/app"); return err }()},
			// ACR lists the catalog anonymously (G Test_authenticationPolicy_anonymousAccess).
			{"Repositories", func() error {
				for name, err := range client.Repositories(ctx, nil) {
					if err == nil && name != "public/app" {
						err = fmt.Errorf("listed %q", name)
					}
					return err
				}
				return errors.New("listed nothing, without an error")
			}()},
		}
		for _, r := range reads {
			if r.err != nil {
				t.Errorf("anonymous %s: %v", r.name, r.err)
			}
		}
		writes := []struct {
			name string
			err  error
		}{
			{"UploadBlob", func() error {
				_, err := client.UploadBlob(ctx, "public/app", strings.NewReader("not allowed"), nil)
				return err
			}()},
			{"SetManifest", func() error {
				_, err := client.SetManifest(ctx, "public/app", []byte(`{"schemaVersion":2}`), ocispec.MediaTypeImageManifest, nil)
				return err
			}()},
			{"UpdateTagProperties", func() error { _, err := client.UpdateTagProperties(ctx, "public/app", "v1", acr.Locked()); return err }()},
			{"DeleteTag", client.DeleteTag(ctx, "public/app", "v1")},
			{"DeleteBlob", client.DeleteBlob(ctx, "public/app", ld)},
		}
		for _, w := range writes {
			if !errors.Is(w.err, acr.ErrUnauthorized) || !strings.Contains(w.err.Error(), "anonymous") {
				t.Errorf("anonymous %s: got %v, want ErrUnauthorized naming the anonymous credential", w.name, w.err)
			}
			// The registry answers with insufficient_scope, as ACR does.
			if !errors.Is(w.err, acr.ErrInsufficientScope) {
				t.Errorf("anonymous %s: got %v, want ErrInsufficientScope", w.name, w.err)
			}
		}
	}
}

// TestAuthAnonymousWithoutAnonymousPull is refused reads with
// ErrUnauthorized when the registry does not allow anonymous pull.
func TestAuthAnonymousWithoutAnonymousPull(t *testing.T) {
	as := newAuthServer(t, emulator.Options{})
	as.seeder(t).image("private/app", "amd64", "one", "v1")
	client, _ := acr.NewClient(as.URL, nil, nil)
	if _, err := client.GetManifest(t.Context(), "private/app", "v1", nil); !errors.Is(err, acr.ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	bad, _ := acr.NewClient(as.URL, acr.BasicCredential(authUser, "wrong-"+authPassword), nil)
	_, err := bad.GetManifest(t.Context(), "private/app", "v1", nil)
	if err == nil || !strings.Contains(err.Error(), "basic") {
		t.Fatalf("wrong password: got %v, want an error naming the basic credential", err)
	}
	// The token endpoint's refusal is a *ResponseError like any other: its
	// status, code and URL, matching ErrUnauthorized and not ErrNotFound.
	re, ok := errors.AsType[*acr.ResponseError](err)
	if !ok || re.StatusCode != 401 || !re.HasCode("UNAUTHORIZED") || !strings.Contains(re.URL, "/oauth2/token") || re.Method == "" {
		t.Fatalf("wrong password: %v, want a *ResponseError of the token endpoint (401 UNAUTHORIZED); got %+v", err, re)
	}
	if !errors.Is(err, acr.ErrUnauthorized) || errors.Is(err, acr.ErrNotFound) || strings.Contains(err.Error(), "transport:") {
		t.Errorf("wrong password: %v; want ErrUnauthorized only, and no internal prefix", err)
	}
}

// TestAuthConcurrentTokenFetches runs 32 goroutines on one client across
// many repositories. The registry must see exactly one exchange per
// service and one token request per (host, scope set).
func TestAuthConcurrentTokenFetches(t *testing.T) {
	for _, cc := range credentialCases() {
		t.Run(cc.name, func(t *testing.T) {
			as := newAuthServer(t, emulator.Options{})
			seed := as.seeder(t)
			const nrepo = 8
			var repos []string
			for i := range nrepo {
				repo := fmt.Sprintf("team%d/app", i)
				seed.image(repo, "amd64", repo, "v1")
				repos = append(repos, repo)
			}
			cred := cc.make(t, as)
			client, err := acr.NewClient(as.URL, cred, nil)
			if err != nil {
				t.Fatal(err)
			}
			as.resetCounts()
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 32*4)
			for g := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ctx := t.Context()
					repo := repos[g%nrepo]
					if _, err := client.GetManifest(ctx, repo, "v1", nil); err != nil {
						errs <- fmt.Errorf("GetManifest %s: %w", repo, err)
					}
					if _, err := client.GetTagProperties(ctx, repo, "v1"); err != nil {
						errs <- fmt.Errorf("GetTagProperties %s: %w", repo, err)
					}
					for _, err := range client.Tags(ctx, repo, nil) {
						if err != nil {
							errs <- fmt.Errorf("Tags %s: %w", repo, err)
						}
					}
					if g%4 == 0 {
						for _, err := range client.Repositories(ctx, nil) {
							if err != nil {
								errs <- fmt.Errorf("Repositories: %w", err)
							}
						}
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			exchanges, tokens := as.counts()
			wantExchanges := 0
			if cc.name == "Entra ID" {
				wantExchanges = 1
			}
			total := 0
			for _, n := range exchanges {
				total += n
			}
			if total != wantExchanges || (wantExchanges == 1 && exchanges[as.Host] != 1) {
				t.Errorf("exchanges by service: got %v, want %d for %s", exchanges, wantExchanges, as.Host)
			}
			if len(tokens) < nrepo {
				t.Errorf("got token requests for %d scope sets, want at least %d: %v", len(tokens), nrepo, tokens)
			}
			t.Logf("exchanges %v; token requests for %d scope sets", exchanges, len(tokens))
			for k, n := range tokens {
				if n != 1 {
					t.Errorf("%d token requests for %q, want 1", n, k)
				}
			}
		})
	}
}

// TestAuthTokenExpiresMidIteration lists tags one per page while the
// registry's clock jumps past the 75-minute life of access tokens between
// pages: the client fetches a new token and the iteration completes.
func TestAuthTokenExpiresMidIteration(t *testing.T) {
	for _, cc := range credentialCases() {
		t.Run(cc.name, func(t *testing.T) {
			as := newAuthServer(t, emulator.Options{})
			seed := as.seeder(t)
			var want []string
			for i := range 5 {
				tag := fmt.Sprintf("v%d", i)
				seed.image("slow/app", "amd64", tag, tag)
				want = append(want, tag)
			}
			client, err := acr.NewClient(as.URL, cc.make(t, as), &acr.ClientOptions{PageSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			// A refresh token given by the caller cannot be renewed: keep
			// within its 3 hours.
			jumps := len(want)
			if strings.Contains(cc.name, "refresh") || strings.Contains(cc.name, "identitytoken") {
				jumps = 2
			}
			as.resetCounts()
			var got []string
			for tp, err := range client.Tags(t.Context(), "slow/app", nil) {
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				got = append(got, tp.Name)
				if len(got) <= jumps {
					as.Clock.Advance(76 * time.Minute)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			_, tokens := as.counts()
			n := 0
			for _, c := range tokens {
				n += c
			}
			t.Logf("%d token requests for %d pages after %d jumps of 76 minutes", n, len(got), jumps)
			// A token for the first page, and a new one for each page
			// after a jump (the last jump follows the last page).
			if wantTokens := min(jumps, len(want)-1) + 1; n < wantTokens {
				t.Errorf("%d token requests for pages after %d jumps of 76 minutes, want at least %d", n, jumps, wantTokens)
			}
		})
	}
}

// TestAuthRefreshTokenRenewed moves the registry's clock past the 3-hour
// life of the ACR refresh token that the client exchanged for its Entra ID
// token: the next call exchanges a new one and succeeds, as a long job's
// must.
func TestAuthRefreshTokenRenewed(t *testing.T) {
	as := newAuthServer(t, emulator.Options{})
	as.seeder(t).image("long/job", "amd64", "one", "v1")
	entra := &fakeEntra{token: entraToken}
	client, err := acr.NewClient(as.URL, acr.TokenCredential(entra), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for hour := range 7 {
		if _, err := client.GetTagProperties(ctx, "long/job", "v1"); err != nil {
			t.Fatalf("after %d h: %v", hour, err)
		}
		if _, err := client.GetManifest(ctx, "long/job", "v1", nil); err != nil {
			t.Fatalf("after %d h: %v", hour, err)
		}
		as.Clock.Advance(time.Hour + time.Minute)
	}
	exchanges, _ := as.counts()
	t.Logf("%d exchanges in 7 hours", exchanges[as.Host])
	if n := exchanges[as.Host]; n < 2 || n > 4 {
		t.Errorf("%d exchanges in 7 hours of 3-hour refresh tokens, want 2 to 4", n)
	}
	if n := entra.calls.Load(); int(n) != exchanges[as.Host] {
		t.Errorf("%d Entra ID token requests for %d exchanges", n, exchanges[as.Host])
	}
}
