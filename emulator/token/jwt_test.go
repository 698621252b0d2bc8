package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const testHost = "myregistry.azurecr.io"

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func accessClaims() Claims {
	return Claims{
		Subject:   "user@example.com",
		NotBefore: testNow,
		IssuedAt:  testNow,
		ExpiresAt: testNow.Add(75 * time.Minute),
		Audience:  testHost,
		GrantType: GrantTypeAccessToken,
		Tenant:    "72f988bf-86f1-41af-91ab-2d7cd011db47",
		Access:    []Access{{Type: TypeRepository, Name: "library/hello", Actions: []string{"pull"}}},
	}
}

func refreshClaims() Claims {
	return Claims{
		Subject:     "user@example.com",
		NotBefore:   testNow,
		IssuedAt:    testNow,
		ExpiresAt:   testNow.Add(3 * time.Hour),
		Audience:    testHost,
		GrantType:   GrantTypeRefreshToken,
		Permissions: &Permissions{Actions: []string{"*"}},
	}
}

func mustMint(t testing.TB, s *Signer, c Claims) string {
	t.Helper()
	tok, err := s.Mint(c)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

// sign builds a token from a raw header and payload, signed with HS256 under
// key whatever the header says, to test what Verify does with odd tokens.
func sign(key []byte, header, payload string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func segments(t testing.TB, tok string) []string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	return parts
}

func TestMintVerifyRoundTrip(t *testing.T) {
	s := NewSigner(testKey)
	for _, c := range []Claims{accessClaims(), refreshClaims()} {
		t.Run(c.GrantType, func(t *testing.T) {
			tok := mustMint(t, s, c)
			got, err := s.Verify(tok, testNow.Add(time.Minute), testHost, c.GrantType)
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			if got.ID == "" {
				t.Error("ID: got empty, want a generated UUID")
			}
			want := c
			want.ID = got.ID
			want.Issuer = Issuer
			want.Version = Version
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Verify claims mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMintWireFormat(t *testing.T) {
	s := NewSigner(testKey)
	tok := mustMint(t, s, refreshClaims())
	parts := segments(t, tok)
	if parts[0] != "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" {
		t.Errorf("header segment: got %q, want the encoding of {\"alg\":\"HS256\",\"typ\":\"JWT\"}", parts[0])
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("payload JSON: %v", err)
	}
	want := map[string]any{
		"jti":         m["jti"],
		"sub":         "user@example.com",
		"nbf":         float64(testNow.Unix()),
		"iat":         float64(testNow.Unix()),
		"exp":         float64(testNow.Add(3 * time.Hour).Unix()),
		"iss":         "Azure Container Registry",
		"aud":         testHost,
		"version":     "1.0",
		"grant_type":  "refresh_token",
		"permissions": map[string]any{"Actions": []any{"*"}, "NotActions": nil},
		"roles":       []any{},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("payload mismatch (-want +got):\n%s", diff)
	}
	if _, ok := m["jti"].(string); !ok {
		t.Errorf("jti: got %v, want a string", m["jti"])
	}

	acc := mustMint(t, s, accessClaims())
	payload, _ = base64.RawURLEncoding.DecodeString(segments(t, acc)[1])
	m = nil
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("payload JSON: %v", err)
	}
	if _, ok := m["permissions"]; ok {
		t.Error("access token payload has permissions, want none")
	}
	wantAccess := []any{map[string]any{"type": "repository", "name": "library/hello", "actions": []any{"pull"}}}
	if diff := cmp.Diff(wantAccess, m["access"]); diff != "" {
		t.Errorf("access claim mismatch (-want +got):\n%s", diff)
	}
}

func TestMintRequiredClaims(t *testing.T) {
	s := NewSigner(testKey)
	tests := []struct {
		name   string
		mutate func(*Claims)
	}{
		{"no exp", func(c *Claims) { c.ExpiresAt = time.Time{} }},
		{"no aud", func(c *Claims) { c.Audience = "" }},
		{"no grant type", func(c *Claims) { c.GrantType = "" }},
		{"too large", func(c *Claims) { c.Subject = strings.Repeat("x", MaxTokenSize) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := accessClaims()
			tt.mutate(&c)
			if tok, err := s.Mint(c); err == nil {
				t.Errorf("Mint: got token of %d bytes, want error", len(tok))
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	s := NewSigner(testKey)
	good := mustMint(t, s, accessClaims())
	parts := segments(t, good)
	otherKey := NewSigner([]byte("another key, another registry..."))
	payloadJSON, _ := base64.RawURLEncoding.DecodeString(parts[1])
	withClaims := func(f func(*Claims)) string {
		c := accessClaims()
		f(&c)
		return mustMint(t, s, c)
	}
	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	flipped := []byte(parts[2])
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}

	tests := []struct {
		name  string
		token string
		now   time.Time
		aud   string
		grant string
		want  error
	}{
		{name: "empty", token: "", want: ErrMalformed},
		{name: "one segment", token: "abc", want: ErrMalformed},
		{name: "two segments", token: parts[0] + "." + parts[1], want: ErrMalformed},
		{name: "four segments", token: good + ".x", want: ErrMalformed},
		{name: "oversize", token: good + strings.Repeat("A", MaxTokenSize), want: ErrMalformed},
		{name: "header not base64", token: "!!." + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "header padded", token: parts[0] + "=." + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "header not JSON", token: sign(testKey, "not json", string(payloadJSON)), want: ErrMalformed},
		{name: "header null", token: sign(testKey, "null", string(payloadJSON)), want: ErrMalformed},
		{name: "alg none", token: sign(testKey, `{"alg":"none","typ":"JWT"}`, string(payloadJSON)), want: ErrAlgorithm},
		{name: "alg none unsigned", token: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", want: ErrAlgorithm},
		{name: "alg HS512", token: sign(testKey, `{"alg":"HS512","typ":"JWT"}`, string(payloadJSON)), want: ErrAlgorithm},
		{name: "alg RS256", token: sign(testKey, `{"alg":"RS256","typ":"JWT"}`, string(payloadJSON)), want: ErrAlgorithm},
		{name: "alg lower case", token: sign(testKey, `{"alg":"hs256","typ":"JWT"}`, string(payloadJSON)), want: ErrAlgorithm},
		{name: "alg missing", token: sign(testKey, `{"typ":"JWT"}`, string(payloadJSON)), want: ErrAlgorithm},
		{name: "alg key case", token: sign(testKey, `{"ALG":"HS256","typ":"JWT"}`, string(payloadJSON)), want: ErrAlgorithm},
		{name: "alg not a string", token: sign(testKey, `{"alg":["HS256"]}`, string(payloadJSON)), want: ErrAlgorithm},
		{name: "typ not JWT", token: sign(testKey, `{"alg":"HS256","typ":"JWE"}`, string(payloadJSON)), want: ErrMalformed},
		{name: "crit", token: sign(testKey, `{"alg":"HS256","crit":["exp"]}`, string(payloadJSON)), want: ErrMalformed},
		{name: "forged signature", token: mustMint(t, otherKey, accessClaims()), want: ErrSignature},
		{name: "flipped signature", token: parts[0] + "." + parts[1] + "." + string(flipped), want: ErrSignature},
		{name: "truncated signature", token: parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sigBytes[:16]), want: ErrSignature},
		{name: "empty signature", token: parts[0] + "." + parts[1] + ".", want: ErrSignature},
		{name: "signature not base64", token: parts[0] + "." + parts[1] + ".*", want: ErrMalformed},
		{name: "tampered payload", token: parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payloadJSON), "pull", "push", 1))) + "." + parts[2], want: ErrSignature},
		{name: "signed payload not JSON", token: sign(testKey, `{"alg":"HS256"}`, "not json"), want: ErrMalformed},
		{name: "signed payload wrong types", token: sign(testKey, `{"alg":"HS256"}`, `{"exp":"tomorrow"}`), want: ErrMalformed},
		{name: "signed payload without exp", token: sign(testKey, `{"alg":"HS256"}`, `{"iss":"Azure Container Registry","aud":"myregistry.azurecr.io","grant_type":"access_token"}`), want: ErrMalformed},
		{name: "expired", token: good, now: testNow.Add(2 * time.Hour), want: ErrExpired},
		{name: "expires exactly now", token: good, now: testNow.Add(75 * time.Minute), want: ErrExpired},
		{name: "not yet valid", token: withClaims(func(c *Claims) { c.NotBefore = testNow.Add(time.Hour) }), want: ErrNotYetValid},
		{name: "wrong audience", token: good, aud: "other.azurecr.io", want: ErrAudience},
		{name: "audience with port", token: good, aud: testHost + ":443", want: ErrAudience},
		{name: "wrong issuer", token: withClaims(func(c *Claims) { c.Issuer = "Azure Container Registry " }), want: ErrIssuer},
		{name: "refresh token used as access token", token: mustMint(t, s, refreshClaims()), want: ErrGrantType},
		{name: "access token used as refresh token", token: good, grant: GrantTypeRefreshToken, want: ErrGrantType},
		{name: "unknown grant type", token: withClaims(func(c *Claims) { c.GrantType = "password" }), want: ErrGrantType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.now.IsZero() {
				tt.now = testNow.Add(time.Minute)
			}
			if tt.aud == "" {
				tt.aud = testHost
			}
			if tt.grant == "" {
				tt.grant = GrantTypeAccessToken
			}
			c, err := s.Verify(tt.token, tt.now, tt.aud, tt.grant)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: got %+v, %v; want error %v", c, err, tt.want)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify: error %v does not wrap ErrInvalidToken", err)
			}
			if !cmp.Equal(c, Claims{}) {
				t.Errorf("Verify: got claims %+v with an error, want zero", c)
			}
			if tt.token != "" && len(tt.token) > 8 {
				for _, seg := range strings.Split(tt.token, ".") {
					if len(seg) >= 8 && strings.Contains(err.Error(), seg) {
						t.Errorf("Verify error %q contains a token segment", err)
					}
				}
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	s := NewSigner(testKey)
	tests := []struct {
		name  string
		token string
		now   time.Time
		aud   string
	}{
		{name: "just before expiry", token: mustMint(t, s, accessClaims()), now: testNow.Add(75*time.Minute - time.Nanosecond), aud: testHost},
		{name: "nbf within clock skew", token: mustMint(t, s, accessClaims()), now: testNow.Add(-30 * time.Second), aud: testHost},
		{name: "audience case", token: mustMint(t, s, accessClaims()), now: testNow, aud: "MyRegistry.AzureCR.io"},
		{name: "no nbf", token: func() string { c := accessClaims(); c.NotBefore = time.Time{}; return mustMint(t, s, c) }(), now: testNow.Add(-time.Hour), aud: testHost},
		{name: "header with other member order", token: sign(testKey, `{"typ":"JWT","alg":"HS256"}`, `{"exp":1900000000,"iss":"Azure Container Registry","aud":"myregistry.azurecr.io","grant_type":"access_token"}`), now: testNow, aud: testHost},
		{name: "header without typ", token: sign(testKey, `{"alg":"HS256"}`, `{"exp":1900000000,"iss":"Azure Container Registry","aud":"myregistry.azurecr.io","grant_type":"access_token","aad_identity":"x"}`), now: testNow, aud: testHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Verify(tt.token, tt.now, tt.aud, GrantTypeAccessToken); err != nil {
				t.Errorf("Verify: got error %v, want nil", err)
			}
		})
	}
}

// TestPayloadDecodesInBothAlphabets pins checklist item 5 of
// docs/acr-rest-api.md: the Go SDK pads the payload segment and decodes it
// with base64.StdEncoding; Python uses b64decode; .NET uses Base64Url.
func TestPayloadDecodesInBothAlphabets(t *testing.T) {
	s := NewSigner(testKey)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		c := randomClaims(r)
		tok, err := s.Mint(c)
		if err != nil {
			t.Fatalf("claims %d: Mint: %v", i, err)
		}
		seg := segments(t, tok)[1]
		checkPayloadSegment(t, seg)
		got, err := s.Verify(tok, c.NotBefore, c.Audience, c.GrantType)
		if err != nil {
			t.Fatalf("claims %d: Verify: %v", i, err)
		}
		want := c
		want.ID, want.Issuer, want.Version = got.ID, Issuer, Version
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("claims %d mismatch (-want +got):\n%s", i, diff)
		}
	}
}

// checkPayloadSegment decodes seg the way each SDK does and checks that each
// yields the same JSON object with an exp claim.
func checkPayloadSegment(t testing.TB, seg string) {
	t.Helper()
	if strings.ContainsAny(seg, "-_=") {
		t.Fatalf("payload segment %q contains '-', '_' or '='", seg)
	}
	if len(seg)%4 != 0 {
		t.Errorf("payload segment length %d is not a multiple of 4", len(seg))
	}
	urlJSON, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("RawURLEncoding: %v", err)
	}
	padded := seg + strings.Repeat("=", (4-len(seg)%4)%4) // as the Go SDK does
	stdJSON, err := base64.StdEncoding.DecodeString(padded)
	if err != nil {
		t.Fatalf("StdEncoding of padded segment: %v", err)
	}
	if _, err := base64.StdEncoding.DecodeString(seg); err != nil {
		t.Errorf("StdEncoding of unpadded segment: %v", err)
	}
	if string(urlJSON) != string(stdJSON) {
		t.Fatalf("alphabets disagree: %q vs %q", urlJSON, stdJSON)
	}
	if !utf8.Valid(stdJSON) || !json.Valid(stdJSON) {
		t.Fatalf("payload is not valid JSON: %q", stdJSON)
	}
	var exp struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(stdJSON, &exp); err != nil || exp.Exp == 0 {
		t.Fatalf("payload exp: got %d, %v; want a number", exp.Exp, err)
	}
}

// randomClaims returns claims with strings that stress the payload
// encoding: the bytes '>', '?', '~' and DEL, control characters, and
// characters of one to four UTF-8 bytes.
func randomClaims(r *rand.Rand) Claims {
	const tricky = "?>~<&\"\\/\x7f\x00\x1f é€😀\u2028ÿ-_+=:abcXYZ019"
	runes := []rune(tricky)
	str := func(max int) string {
		var b strings.Builder
		for range r.IntN(max + 1) {
			if r.IntN(3) == 0 {
				b.WriteRune(runes[r.IntN(len(runes))])
			} else {
				b.WriteRune(rune(0x20 + r.IntN(0x5f)))
			}
		}
		return b.String()
	}
	list := func() []string {
		var l []string
		for range r.IntN(4) {
			l = append(l, str(12))
		}
		return l
	}
	now := time.Unix(1_700_000_000+r.Int64N(100_000_000), 0).UTC()
	c := Claims{
		ID:        str(40),
		Subject:   str(60),
		NotBefore: now,
		IssuedAt:  now,
		ExpiresAt: now.Add(time.Duration(1+r.IntN(10_000)) * time.Second),
		Audience:  "a" + str(30),
		GrantType: []string{GrantTypeAccessToken, GrantTypeRefreshToken, "x" + str(10)}[r.IntN(3)],
		Tenant:    str(36),
		Roles:     list(),
	}
	if r.IntN(2) == 0 {
		c.Permissions = &Permissions{Actions: list(), NotActions: list()}
	}
	for range r.IntN(4) {
		c.Access = append(c.Access, Access{Type: str(10), Name: str(40), Actions: list()})
	}
	return c
}

func TestNewSignerCopiesKey(t *testing.T) {
	key := append([]byte(nil), testKey...)
	s := NewSigner(key)
	tok := mustMint(t, s, accessClaims())
	key[0] ^= 0xff
	if _, err := s.Verify(tok, testNow, testHost, GrantTypeAccessToken); err != nil {
		t.Errorf("Verify after the caller changed its key slice: got %v, want nil", err)
	}
}

func TestNewSignerEmptyKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewSigner(nil): got no panic, want one")
		}
	}()
	NewSigner(nil)
}

func TestSignerRedactsKey(t *testing.T) {
	key := []byte("SECRET-KEY-SECRET-KEY-SECRET-KEY")
	s := NewSigner(key)
	for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
		out := fmt.Sprintf(verb, s)
		if strings.Contains(out, "SECRET") || strings.Contains(out, fmt.Sprint(key[:4])) || strings.Contains(out, "83 69 67") {
			t.Errorf("Sprintf(%q, signer): got %q, which shows the key", verb, out)
		}
	}
}

func TestLoadOrCreateSigner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "token.key")
	s1, err := LoadOrCreateSigner(path)
	if err != nil {
		t.Fatalf("first LoadOrCreateSigner: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size() != KeySize {
		t.Errorf("key file size: got %d, want %d", info.Size(), KeySize)
	}
	if runtime.GOOS != "windows" {
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("key file mode: got %v, want 0600", got)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key (no temporary files)", len(entries))
	}

	s2, err := LoadOrCreateSigner(path)
	if err != nil {
		t.Fatalf("second LoadOrCreateSigner: %v", err)
	}
	if !cmp.Equal(s1.key, s2.key) {
		t.Error("second LoadOrCreateSigner: got a different key, want the persisted one")
	}
	tok := mustMint(t, s1, accessClaims())
	if _, err := s2.Verify(tok, testNow, testHost, GrantTypeAccessToken); err != nil {
		t.Errorf("Verify with the reloaded signer: got %v, want nil", err)
	}

	other, err := LoadOrCreateSigner(filepath.Join(t.TempDir(), "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(s1.key, other.key) {
		t.Error("two new key files hold the same key, want random keys")
	}
}

func TestLoadOrCreateSignerConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.key")
	const n = 16
	signers := make([]*Signer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { signers[i], errs[i] = LoadOrCreateSigner(path) })
	}
	wg.Wait()
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreateSigner %d: %v", i, errs[i])
		}
		if !cmp.Equal(signers[i].key, onDisk) {
			t.Errorf("signer %d: key differs from the file's", i)
		}
	}
}

func TestLoadOrCreateSignerBadFile(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	if err := os.WriteFile(short, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigner(short); err == nil {
		t.Error("LoadOrCreateSigner on a 10-byte file: got nil error, want one")
	}
	if got, _ := os.ReadFile(short); string(got) != "too short\n" {
		t.Errorf("bad key file was changed to %q", got)
	}
	if _, err := LoadOrCreateSigner(dir); err == nil {
		t.Error("LoadOrCreateSigner on a directory: got nil error, want one")
	}
}

func FuzzVerify(f *testing.F) {
	s := NewSigner(testKey)
	good := mustMint(f, s, accessClaims())
	parts := segments(f, good)
	payloadJSON, _ := base64.RawURLEncoding.DecodeString(parts[1])
	for _, tok := range []string{
		good,
		mustMint(f, s, refreshClaims()),
		"",
		".",
		"..",
		"a.b.c",
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		good + ".",
		sign(testKey, `{"alg":"none"}`, string(payloadJSON)),
		sign(testKey, `{"alg":"HS512"}`, string(payloadJSON)),
		sign(testKey, `{"alg":"HS256"}`, `null`),
		sign(testKey, `{"alg":"HS256"}`, `{"exp":1e400}`),
		sign(testKey, `{"alg":"HS256"}`, `{"exp":-9223372036854775808,"iss":"Azure Container Registry","aud":"myregistry.azurecr.io","grant_type":"access_token"}`),
		sign(testKey, `{"alg":"HS256"}`, `{"exp":9223372036854775807,"nbf":9223372036854775807,"iss":"Azure Container Registry","aud":"myregistry.azurecr.io","grant_type":"access_token"}`),
		sign(testKey, `{"alg":"HS256"}`, `{"exp":1900000000,"iss":"Azure Container Registry","aud":"myregistry.azurecr.io","grant_type":"access_token","access":[{"type":1}]}`),
	} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, testNow, testHost, GrantTypeAccessToken)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify: error %v does not wrap ErrInvalidToken", err)
			}
			if len(tok) >= 16 && strings.Contains(err.Error(), tok) {
				t.Fatalf("Verify: error %q contains the token", err)
			}
			return
		}
		if len(tok) > MaxTokenSize {
			t.Fatalf("Verify accepted a token of %d bytes", len(tok))
		}
		if c.Issuer != Issuer || !strings.EqualFold(c.Audience, testHost) || c.GrantType != GrantTypeAccessToken || !testNow.Before(c.ExpiresAt) {
			t.Fatalf("Verify accepted claims %+v", c)
		}
		// Only tokens signed with testKey can pass; re-minting must verify too.
		again, err := s.Mint(c)
		if err != nil {
			t.Fatalf("Mint of verified claims: %v", err)
		}
		if _, err := s.Verify(again, testNow, testHost, GrantTypeAccessToken); err != nil {
			t.Fatalf("Verify of re-minted claims: %v", err)
		}
	})
}

func FuzzMint(f *testing.F) {
	f.Add("user@example.com", "library/hello", "pull", int64(3600))
	f.Add("???~~~>>>", "a?b~c>d", "\x7f", int64(1))
	f.Add("😀é\u2028", "\xff\xfe", "", int64(1<<32))
	s := NewSigner(testKey)
	f.Fuzz(func(t *testing.T, sub, name, action string, ttl int64) {
		if ttl <= 0 || ttl > 1<<32 {
			ttl = 1
		}
		c := Claims{
			Subject:   sub,
			ExpiresAt: testNow.Add(time.Duration(ttl) * time.Second),
			Audience:  testHost,
			GrantType: GrantTypeAccessToken,
			Access:    []Access{{Type: TypeRepository, Name: name, Actions: []string{action}}},
		}
		tok, err := s.Mint(c)
		if err != nil {
			if len(sub)+len(name)+len(action) > (MaxTokenSize-1024)/8 {
				return // may legitimately exceed MaxTokenSize once escaped
			}
			t.Fatalf("Mint: %v", err)
		}
		checkPayloadSegment(t, segments(t, tok)[1])
		got, err := s.Verify(tok, testNow, testHost, GrantTypeAccessToken)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if utf8.ValidString(sub) && utf8.ValidString(name) && utf8.ValidString(action) {
			if got.Subject != sub || !got.Allows(TypeRepository, name, action) {
				t.Fatalf("round trip: got %+v", got)
			}
		}
	})
}
