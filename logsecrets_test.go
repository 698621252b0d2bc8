package acr_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
)

// logCapture collects every log record, at debug level, as text and as
// JSON, and the text of every error a flow returns.
type logCapture struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	errs []string
}

func (lc *logCapture) Write(p []byte) (int, error) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.buf.Write(p)
}

func (lc *logCapture) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	return slog.New(multiHandler{slog.NewTextHandler(lc, opts), slog.NewJSONHandler(lc, opts)})
}

func (lc *logCapture) err(err error) {
	if err != nil {
		lc.mu.Lock()
		lc.errs = append(lc.errs, fmt.Sprintf("%v | %+v | %#v", err, err, err.Error()))
		lc.mu.Unlock()
	}
}

// multiHandler sends each record to several handlers.
type multiHandler []slog.Handler

func (m multiHandler) Enabled(ctx context.Context, l slog.Level) bool { return m[0].Enabled(ctx, l) }
func (m multiHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range m {
		h.Handle(ctx, r.Clone())
	}
	return nil
}
func (m multiHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(multiHandler, len(m))
	for i, h := range m {
		out[i] = h.WithAttrs(as)
	}
	return out
}
func (m multiHandler) WithGroup(g string) slog.Handler {
	out := make(multiHandler, len(m))
	for i, h := range m {
		out[i] = h.WithGroup(g)
	}
	return out
}

// assertNoSecrets fails the test when a secret, or its base64 form,
// appears in the captured logs or errors.
func (lc *logCapture) assertNoSecrets(t *testing.T, secrets []string) {
	t.Helper()
	lc.mu.Lock()
	defer lc.mu.Unlock()
	logs := lc.buf.String()
	errs := strings.Join(lc.errs, "\n")
	if !strings.Contains(logs, `"level":"DEBUG"`) || !strings.Contains(logs, "level=DEBUG") {
		t.Fatalf("no debug records were captured:\n%s", logs)
	}
	checked := 0
	for _, s := range secrets {
		if len(s) < 8 {
			continue
		}
		checked++
		forms := []string{s, base64.StdEncoding.EncodeToString([]byte(s)), url.QueryEscape(s)}
		if parts := strings.Split(s, "."); len(parts) == 3 && len(parts[2]) >= 16 {
			forms = append(forms, parts[2]) // a JWT's signature alone is a leak too
		}
		for _, f := range forms {
			if i := strings.Index(logs, f); i >= 0 {
				t.Errorf("secret %.12s… appears in the logs: …%s…", s, excerpt(logs, i))
			}
			if i := strings.Index(errs, f); i >= 0 {
				t.Errorf("secret %.12s… appears in an error: …%s…", s, excerpt(errs, i))
			}
		}
	}
	t.Logf("checked %d secrets against %d bytes of logs and %d errors", checked, len(logs), len(lc.errs))
}

func excerpt(s string, i int) string {
	return s[max(0, i-80):min(len(s), i+80)]
}

// TestLogsHoldNoSecrets runs flows with every kind of credential, with
// token expiry and failed logins, logging at debug level, and searches
// the logs and the errors for every password and token that crossed the
// wire.
func TestLogsHoldNoSecrets(t *testing.T) {
	as := newAuthServer(t, emulator.Options{AnonymousPull: true})
	as.seeder(t).image("secret/base", "amd64", "base", "v0")
	lc := &logCapture{}
	ctx := t.Context()
	opts := &acr.ClientOptions{Logger: lc.logger()}
	flow := func(cred acr.Credential, repo string) {
		client, err := acr.NewClient(as.URL, cred, opts)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := client.UploadBlob(ctx, repo, bytes.NewReader(randomBytes(2*mib+1)), &acr.UploadBlobOptions{ChunkSize: mib})
		lc.err(err)
		if err == nil {
			rc, err := client.DownloadBlob(ctx, repo, desc.Digest, nil)
			lc.err(err)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				lc.err(err)
				rc.Close()
			}
		}
		for _, err := range client.Tags(ctx, "secret/base", nil) {
			lc.err(err)
		}
		for _, err := range client.Repositories(ctx, nil) {
			lc.err(err)
		}
		_, err = client.GetManifest(ctx, "secret/base", "v0", nil)
		lc.err(err)
		_, err = client.GetManifest(ctx, "secret/base", "missing", nil)
		lc.err(err)
		as.Clock.Advance(80 * time.Minute) // the next call meets an expired token
		_, err = client.GetTagProperties(ctx, "secret/base", "v0")
		lc.err(err)
	}
	for _, cc := range credentialCases() {
		flow(cc.make(t, as), "secret/"+strings.ReplaceAll(strings.ToLower(cc.name), " ", "-"))
	}
	flow(nil, "secret/anonymous")
	entra := &fakeEntra{token: entraToken}
	flow(acr.TokenCredential(entra), "secret/entra-long")
	as.Clock.Advance(3 * time.Hour) // the refresh token expires: exchanged again
	flow(acr.TokenCredential(entra), "secret/entra-long")

	// Failed logins, with their secrets.
	wrongPassword := "wrong-pw-8d1c5e2a9f7b"
	unknownEntra := "entra-unknown-4b8e2f1d6c9a"
	badRefresh := "refresh-bogus-2e7a9c4f1b8d"
	flow(acr.BasicCredential(authUser, wrongPassword), "secret/fail")
	flow(acr.TokenCredential(&fakeEntra{token: unknownEntra}), "secret/fail")
	flow(acr.RefreshTokenCredential(badRefresh), "secret/fail")
	docker, err := acr.DockerConfigCredential(writeDockerConfig(t, as.Host,
		map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(authUser + ":" + wrongPassword))}))
	if err != nil {
		t.Fatal(err)
	}
	flow(docker, "secret/fail")

	if len(lc.errs) == 0 {
		t.Fatal("no flow failed; the failed logins should have")
	}
	secrets := append(as.Secrets(), authPassword, entraToken, wrongPassword, unknownEntra, badRefresh)
	lc.assertNoSecrets(t, secrets)
}

// TestTokenEndpointEchoIsMasked talks to a token realm that echoes the
// credentials it was sent in its error message: the client's error must
// not repeat them.
func TestTokenEndpointEchoIsMasked(t *testing.T) {
	const password = "echoed-pw-5a1f9e3c7d2b"
	const refresh = "echoed-rt-9c3e7a1f5b2d"
	var base string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			w.Header().Set("Www-Authenticate", `Bearer realm="`+base+`/token",service="echo",scope="repository:app:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.ParseForm()
		_, pass, _ := r.BasicAuth()
		echo := pass + r.PostForm.Get("password") + r.PostForm.Get("refresh_token")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"credential %s is not valid"}]}`, echo)
	}))
	defer hs.Close()
	base = hs.URL
	lc := &logCapture{}
	for _, cred := range []acr.Credential{acr.BasicCredential("user", password), acr.RefreshTokenCredential(refresh)} {
		client, _ := acr.NewClient(hs.URL, cred, &acr.ClientOptions{Logger: lc.logger()})
		_, err := client.GetManifest(t.Context(), "app", "v1", nil)
		if err == nil {
			t.Fatal("got no error from a realm that refuses everything")
		}
		lc.err(err)
	}
	lc.assertNoSecrets(t, []string{password, refresh})
}
