package acr_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

func TestPing(t *testing.T) {
	open := acrtest.NewServer(t, nil)
	auth := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"admin": "pw"}})
	for _, tc := range []struct {
		name    string
		srv     *acrtest.Server
		cred    acr.Credential
		wantErr error
	}{
		{"open registry, anonymous", open, nil, nil},
		{"right password", auth, acr.BasicCredential("admin", "pw"), nil},
		{"wrong password", auth, acr.BasicCredential("admin", "wrong"), acr.ErrUnauthorized},
		{"unknown user", auth, acr.BasicCredential("nobody", "pw"), acr.ErrUnauthorized},
		{"anonymous without anonymous pull", auth, nil, acr.ErrUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := acr.NewClient(tc.srv.Host, tc.cred, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Ping(t.Context())
			if tc.wantErr == nil && err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want an error matching %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "wrong") && strings.Contains(err.Error(), "admin:wrong") {
				t.Errorf("the error shows the credential: %v", err)
			}
		})
	}
}

func TestPingNotARegistry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := acr.NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(t.Context()); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound from a server without /v2/", err)
	}
}
