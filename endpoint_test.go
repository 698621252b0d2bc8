package acr_test

import (
	"strings"
	"testing"

	"github.com/acrgo/acr"
)

// TestEndpointWithUserinfoIsRefusedWithoutEchoingThePassword checks that
// NewClient refuses a user name or password in the endpoint, with an
// error that names the fix and never quotes the password, however the
// rest of the endpoint is written.
func TestEndpointWithUserinfoIsRefusedWithoutEchoingThePassword(t *testing.T) {
	const password = "S3cretPassw0rd"
	for _, endpoint := range []string{
		"https://admin:" + password + "@myregistry.azurecr.io",
		"admin:" + password + "@myregistry.azurecr.io",
		"http://admin:" + password + "@127.0.0.1:1",
		"https://admin:" + password + "@myregistry.azurecr.io/v2/",
		"https://admin:" + password + "%zz@myregistry.azurecr.io", // not a URL url.Parse accepts
		"https://admin:p@" + password + "@myregistry.azurecr.io",  // '@' inside the password
		"https://" + password + "@myregistry.azurecr.io",          // a token as the user name
		"ftp://admin:" + password + "@myregistry.azurecr.io",
	} {
		_, err := acr.NewClient(endpoint, nil, nil)
		if err == nil {
			t.Errorf("NewClient(%q): got no error, want a refusal", endpoint)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("NewClient(%q): the error quotes the password: %v", endpoint, err)
		}
		if !strings.Contains(err.Error(), "--password-stdin") {
			t.Errorf("NewClient(%q): got %v, want an error that names the fix (--password-stdin)", endpoint, err)
		}
	}
}

// TestEndpointForms checks the endpoints NewClient accepts and the base
// URL each becomes, and that other refusals still quote the endpoint.
func TestEndpointForms(t *testing.T) {
	for endpoint, want := range map[string]string{
		"myregistry.azurecr.io":          "https://myregistry.azurecr.io",
		"https://myregistry.azurecr.io/": "https://myregistry.azurecr.io",
		"localhost:5000":                 "http://localhost:5000",
		"http://127.0.0.1:5000":          "http://127.0.0.1:5000",
	} {
		c, err := acr.NewClient(endpoint, nil, nil)
		if err != nil {
			t.Errorf("NewClient(%q): %v", endpoint, err)
			continue
		}
		if got := c.Endpoint(); got != want {
			t.Errorf("NewClient(%q).Endpoint(): got %s, want %s", endpoint, got, want)
		}
	}
	for _, endpoint := range []string{"https://myregistry.azurecr.io/v2/x", "ftp://myregistry.azurecr.io", "https://myregistry.azurecr.io?a=b"} {
		_, err := acr.NewClient(endpoint, nil, nil)
		if err == nil || !strings.Contains(err.Error(), endpoint) {
			t.Errorf("NewClient(%q): got %v, want an error quoting the endpoint", endpoint, err)
		}
	}
}
