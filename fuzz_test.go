package acr_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/spec"
)

// FuzzParseReference feeds arbitrary strings to ParseReference, which reads
// command-line arguments and configuration. It must not panic; what it
// accepts must be usable as it is: a registry that is a URL host, a valid
// name, tag and digest, and a String that parses back to the same
// Reference. What it refuses matches ErrInvalidReference.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"myregistry.azurecr.io/hello-world:latest",
		"localhost:5000/a/b/c@sha256:" + strings.Repeat("a", 64),
		"localhost/x:v1@sha256:" + strings.Repeat("0", 64),
		"[::1]:5000/repo:tag",
		"127.0.0.1:5000/repo",
		"host.io/Repo", "host/repo", "host.io/", "/repo", "host.io/a/../b", "host.io/a:b:c",
		"host.io/a@sha256:short", "host.io/a@md5:" + strings.Repeat("a", 32), "user@host.io/repo",
		"host.io:5000:6000/repo", "ho st.io/repo", "host.io\n/repo", "hőst.io/repo", "host.io:/repo",
		"host.io/" + strings.Repeat("a", 300), "host.io/a:" + strings.Repeat("t", 129),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := acr.ParseReference(s)
		if err != nil {
			if !errors.Is(err, acr.ErrInvalidReference) {
				t.Fatalf("ParseReference(%q): error %v does not match ErrInvalidReference", s, err)
			}
			return
		}
		if u, err := url.Parse("https://" + r.Registry + "/v2/"); err != nil || u.Host != r.Registry {
			t.Fatalf("ParseReference(%q) accepted registry %q, which is not a URL host (%v)", s, r.Registry, err)
		}
		if err := spec.ValidateName(r.Repository); err != nil {
			t.Fatalf("ParseReference(%q) accepted repository %q: %v", s, r.Repository, err)
		}
		if r.Tag != "" {
			if err := spec.ValidateTag(r.Tag); err != nil {
				t.Fatalf("ParseReference(%q) accepted tag %q: %v", s, r.Tag, err)
			}
		}
		if r.Digest != "" {
			if err := r.Digest.Validate(); err != nil {
				t.Fatalf("ParseReference(%q) accepted digest %q: %v", s, r.Digest, err)
			}
		}
		back, err := acr.ParseReference(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseReference(%q) = %+v, whose String %q parses to %+v, %v", s, r, r.String(), back, err)
		}
	})
}

// cannedTransport answers every request with one status, header and body,
// without a network: a registry's error response, as fuzzed.
type cannedTransport struct {
	status int
	header http.Header
	body   []byte
}

func (c cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{StatusCode: c.status, Header: c.header.Clone(), Body: io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: req, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// FuzzResponseError has a registry answer arbitrary error statuses and
// bodies (OCI {"errors":[...]} documents, other JSON, text, binary) and
// checks the *ResponseError the client makes of them: its Error is one
// printable line of bounded length, whatever the registry sent, so that a
// hostile registry cannot forge log lines or drive a terminal; and the
// sentinels match by status.
func FuzzResponseError(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{404, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}}]}`},
		{401, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"a","Action":"pull"}]}]}`},
		{403, `{"errors":[{"code":"DENIED","message":"a\nforged log line"},{"code":"X"},{"code":"Y"}]}`},
		{405, `{"errors":[{"code":"REGISTRY_DISALLOWED_OPERATION","message":"locked"}]}`},
		{400, `{"errors":[{"code":"DIGEST_INVALID\n\u001b[31m","message":"\u001b]0;title\u0007"}]}`},
		{429, `{"errors":[]}`},
		{500, "<html><body>Internal Server Error</body></html>"},
		{502, "\x00\x01\xff\xfe binary \r\n"},
		{503, ""},
		{404, `{"errors":[{"code":"` + strings.Repeat("C", 9000) + `"}]}`},
		{400, `{"errors":null,"message":"not OCI"}`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 400 || status > 599 {
			return
		}
		ct := cannedTransport{status: status, header: http.Header{"Content-Type": {"application/json"}, "X-Ms-Request-Id": {"req-1"}}, body: body}
		client, err := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: ct}, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.GetManifest(t.Context(), "repo", "v1", nil)
		var re *acr.ResponseError
		if !errors.As(err, &re) {
			// 401 may be taken as a challenge without one: an error of its own.
			if status == http.StatusUnauthorized && errors.Is(err, acr.ErrUnauthorized) {
				return
			}
			t.Fatalf("status %d: got %v (%T), want a *ResponseError", status, err, err)
		}
		if re.StatusCode != status {
			t.Fatalf("StatusCode %d, want %d", re.StatusCode, status)
		}
		msg := re.Error()
		if len(msg) > 2048 {
			t.Fatalf("Error is %d bytes long; want one bounded line", len(msg))
		}
		if !utf8.ValidString(msg) {
			t.Fatalf("Error %q is not valid UTF-8", msg)
		}
		for _, r := range msg {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("Error %q contains control character %U from the registry's body", msg, r)
			}
		}
		if errors.Is(re, acr.ErrNotFound) != (status == http.StatusNotFound) ||
			errors.Is(re, acr.ErrForbidden) != (status == http.StatusForbidden) {
			t.Fatalf("status %d: the sentinels do not match by status", status)
		}
		if errors.Is(re, acr.ErrDigestMismatch) && status != http.StatusBadRequest {
			t.Fatalf("status %d matches ErrDigestMismatch", status)
		}
	})
}
