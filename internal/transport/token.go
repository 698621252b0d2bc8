package transport

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Token lifetimes and renewal margins.
const (
	// defaultTokenLifetime applies when a token response gives no
	// expires_in and the token is not a JWT (Docker token spec).
	defaultTokenLifetime = 60 * time.Second
	// tokenRenewMargin: access tokens are renewed this long before expiry,
	// or at half their lifetime if that is shorter.
	tokenRenewMargin = 30 * time.Second
	// refreshRenewMargin: ACR refresh tokens are exchanged again when less
	// than this remains, so a request never starts with one about to expire.
	refreshRenewMargin = 5 * time.Minute
	// unknownRefreshLifetime is assumed for a refresh token without "exp".
	unknownRefreshLifetime = time.Hour
	// issuedAtSkew bounds how far issued_at may lie before the local start
	// of the fetch to be believed; beyond it the clocks disagree.
	issuedAtSkew = time.Minute
	// maxTokenBody caps a token endpoint's success body; maxErrorBody an
	// error body.
	maxTokenBody = 1 << 20
	maxErrorBody = 8 << 10
	// clientID identifies the client in OAuth2 form requests, which the
	// Docker token spec requires.
	clientID = "acrgo"
)

// tokenKey is a token cache key: the registry origin and its sorted,
// space-joined scopes.
type tokenKey struct {
	origin string
	scopes string
}

// challengeInfo is how an origin last challenged.
type challengeInfo struct {
	scheme  string // "bearer" or "basic"
	realm   string
	service string
	scopes  []string
}

// TokenError reports a failed token request: to a realm, to
// /oauth2/exchange, or to Entra ID. It names the credential kind tried and
// what the endpoint answered, never a secret.
type TokenError struct {
	// Credential is the kind of credential that was tried, such as
	// "Entra ID" or "basic (user name and password)".
	Credential string
	// Endpoint is the redacted URL of the token endpoint, and Method the
	// request's method ("" for Entra ID, which is not a request here).
	Endpoint, Method string
	// StatusCode is the endpoint's HTTP status; 0 when no response came.
	StatusCode int
	// Code and Message are the endpoint's first error, from an OCI
	// {"errors":[...]} or OAuth2 {"error":...} body, or Message is an
	// excerpt of a body of another shape. Secrets are masked.
	Code, Message string
	// RetryAfter is the endpoint's Retry-After header, and RequestID its
	// request id (see RequestID).
	RetryAfter, RequestID string
	// Err is the underlying error when no usable response came.
	Err error
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "transport: %s credential: token request to %s", e.Credential, e.Endpoint)
	if e.StatusCode == 0 {
		if e.Err != nil {
			b.WriteString(" failed: " + e.Err.Error())
		}
		return b.String()
	}
	fmt.Fprintf(&b, " answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.StatusCode == http.StatusUnauthorized && e.Code == "" && e.Message == "" {
		// ACR's /oauth2 endpoints refuse with an empty body.
		b.WriteString(" with no reason given (ACR refuses an unknown tenant, or a token that is not valid or has expired, this way)")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *TokenError) Unwrap() error { return e.Err }

// tokenRequestKey marks the context of token requests, whose redirects the
// client refuses to follow to another origin.
type tokenRequestKey struct{}

func isTokenRequest(ctx context.Context) bool { return ctx.Value(tokenRequestKey{}) != nil }

// remember records how org challenged.
func (c *Client) remember(org string, info challengeInfo) {
	c.mu.Lock()
	c.origins[org] = info
	c.mu.Unlock()
}

func (c *Client) challengeFor(org string) (challengeInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info, ok := c.origins[org]
	return info, ok
}

// preauthorize returns the Authorization for a request's first send: Basic
// for an origin that asked for it, a cached token for the scopes, or a token
// fetched now for an origin whose realm is known. "" means none.
func (c *Client) preauthorize(ctx context.Context, u *url.URL, org string, hints []string, attempt int) (string, error) {
	info, ok := c.challengeFor(org)
	if !ok {
		return "", nil
	}
	switch info.scheme {
	case "basic":
		return c.basicAuthorization(ctx, u)
	case "bearer":
		if tok, ok := c.tokens.get(tokenKey{org, strings.Join(hints, " ")}, c.now()); ok {
			return "Bearer " + tok, nil
		}
		if len(hints) == 0 {
			return "", nil // the challenge will say which scopes
		}
		info.scopes = nil // those of another request's challenge
		tok, err := c.bearerToken(ctx, u, org, info, hints, attempt)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	}
	return "", nil
}

// forget drops a cached Authorization that the registry just refused, so
// that it is fetched again. Other callers may already have replaced it;
// only entries holding the refused token go.
func (c *Client) forget(org, authz string) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return
	}
	c.tokens.drop(func(k tokenKey, v string) bool { return k.origin == org && v == tok })
}

// learn records how org challenged and returns it.
func (c *Client) learn(org string, ch Challenge) challengeInfo {
	info := challengeInfo{scheme: ch.Scheme}
	if ch.Scheme == "bearer" {
		info.realm, info.service, info.scopes = ch.Params["realm"], ch.Params["service"], NormalizeScopes(ch.Params["scope"])
	}
	c.remember(org, info)
	return info
}

// authorize answers a challenge for the request to u.
func (c *Client) authorize(ctx context.Context, u *url.URL, org string, info challengeInfo, hints []string, attempt int) (string, error) {
	switch info.scheme {
	case "basic":
		return c.basicAuthorization(ctx, u)
	case "bearer":
		tok, err := c.bearerToken(ctx, u, org, info, hints, attempt)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	}
	return "", nil
}

// basicAuthorization returns Basic credentials for u, if the credential has
// a user name and password (a refresh token goes with docker's
// RefreshTokenUser). Entra ID and anonymous credentials have none.
func (c *Client) basicAuthorization(ctx context.Context, u *url.URL) (string, error) {
	rc, err := c.resolve(ctx, u.Host)
	if err != nil {
		return "", err
	}
	var user, pass string
	switch rc.kind {
	case kindBasic:
		user, pass = rc.user, rc.password
	case kindRefreshToken:
		user, pass = RefreshTokenUser, rc.refreshToken
	default:
		return "", nil
	}
	if err := c.requireSecure(u, rc, "the registry"); err != nil {
		return "", err
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
}

// bearerToken returns a token for the union of the challenge's scopes and
// hints, from the cache or the realm, and caches it under the hint scopes
// too so that the next request with the same hints finds it.
func (c *Client) bearerToken(ctx context.Context, u *url.URL, org string, info challengeInfo, hints []string, attempt int) (string, error) {
	scopes := NormalizeScopes(append(append([]string(nil), info.scopes...), hints...)...)
	key := tokenKey{org, strings.Join(scopes, " ")}
	tok, renewAt, err := c.tokens.do(ctx, key, c.now, func(ctx context.Context) (string, time.Time, error) {
		return c.fetchToken(ctx, u, info, scopes, attempt)
	})
	if err != nil {
		return "", err
	}
	if hk := (tokenKey{org, strings.Join(hints, " ")}); len(hints) > 0 && hk != key {
		c.tokens.put(hk, tok, renewAt, c.now())
	}
	return tok, nil
}

// fetchToken gets an access token from the realm of info for scopes, with
// the credential for u's host.
func (c *Client) fetchToken(ctx context.Context, u *url.URL, info challengeInfo, scopes []string, attempt int) (string, time.Time, error) {
	ctx = context.WithValue(ctx, tokenRequestKey{}, true)
	rc, err := c.resolve(ctx, u.Host)
	if err != nil {
		return "", time.Time{}, err
	}
	realm, err := checkRealm(u, info.realm)
	if err != nil {
		return "", time.Time{}, &TokenError{Credential: rc.label(), Endpoint: redactString(info.realm), Err: err}
	}
	if rc.kind != kindAnonymous {
		// The token will travel to the registry, and the secrets to the realm.
		if err := c.requireSecure(u, rc, "the registry"); err != nil {
			return "", time.Time{}, err
		}
		if err := c.requireSecure(realm, rc, "the token realm"); err != nil {
			return "", time.Time{}, err
		}
	}
	service := info.service
	switch rc.kind {
	case kindBasic:
		tok, renewAt, err := c.getToken(ctx, realm, service, scopes, rc, attempt)
		var te *TokenError
		if errors.As(err, &te) && (te.StatusCode == http.StatusNotFound || te.StatusCode == http.StatusMethodNotAllowed) {
			// An OAuth2-only realm (Docker token spec, oauth.md).
			form := url.Values{"grant_type": {"password"}, "username": {rc.user}, "password": {rc.password}}
			return c.postToken(ctx, realm, service, scopes, form, rc, attempt)
		}
		return tok, renewAt, err
	case kindRefreshToken:
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rc.refreshToken}}
		return c.postToken(ctx, realm, service, scopes, form, rc, attempt)
	case kindEntraID:
		if service == "" {
			service = u.Host
		}
		rt, err := c.refreshToken(ctx, u, service, attempt)
		if err != nil {
			return "", time.Time{}, err
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		rc.refreshToken = rt // masked in errors
		tok, renewAt, err := c.postToken(ctx, realm, service, scopes, form, rc, attempt)
		var te *TokenError
		if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
			return tok, renewAt, err
		}
		// The registry no longer takes the refresh token (revoked, or its
		// clock ran ahead): exchange a new one, once.
		key := exchangeKey(u, service)
		c.refresh.drop(func(k string, v string) bool { return k == key && v == rt })
		rt2, err2 := c.refreshToken(ctx, u, service, attempt)
		if err2 != nil || rt2 == rt {
			return "", time.Time{}, err
		}
		form.Set("refresh_token", rt2)
		rc.refreshToken = rt2
		return c.postToken(ctx, realm, service, scopes, form, rc, attempt)
	}
	return c.getToken(ctx, realm, service, scopes, rc, attempt)
}

// getToken asks realm for a token with GET (Docker token spec), with Basic
// credentials when rc has them.
func (c *Client) getToken(ctx context.Context, realm *url.URL, service string, scopes []string, rc resolvedCredential, attempt int) (string, time.Time, error) {
	tu := *realm
	q := tu.Query()
	if service != "" {
		q.Set("service", service)
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	tu.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tu.String(), nil)
	if err != nil {
		return "", time.Time{}, &TokenError{Credential: rc.label(), Endpoint: Redact(realm), Err: err}
	}
	if rc.kind == kindBasic {
		req.SetBasicAuth(rc.user, rc.password)
	}
	return c.tokenRequest(ctx, "token", req, rc, nil, attempt)
}

// postToken asks realm for a token with an OAuth2 form POST.
func (c *Client) postToken(ctx context.Context, realm *url.URL, service string, scopes []string, form url.Values, rc resolvedCredential, attempt int) (string, time.Time, error) {
	if service != "" {
		form.Set("service", service)
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	form.Set("client_id", clientID)
	req, err := newFormRequest(ctx, realm, form)
	if err != nil {
		return "", time.Time{}, &TokenError{Credential: rc.label(), Endpoint: Redact(realm), Err: err}
	}
	return c.tokenRequest(ctx, "token", req, rc, nil, attempt)
}

func newFormRequest(ctx context.Context, u *url.URL, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// tokenResponse is the body of a token endpoint's success: the Docker token
// spec's token/expires_in/issued_at, OAuth2's access_token, and ACR's
// refresh_token from /oauth2/exchange.
type tokenResponse struct {
	Token        string          `json:"token"`
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	IssuedAt     string          `json:"issued_at"`
}

// tokenRequest sends a token request and reads the token and when to renew
// it. extra lists more secrets to mask in errors.
func (c *Client) tokenRequest(ctx context.Context, kind string, req *http.Request, rc resolvedCredential, extra []string, attempt int) (string, time.Time, error) {
	start := c.now()
	secrets := append(rc.secrets(), extra...)
	fail := func(te *TokenError) (string, time.Time, error) {
		te.Credential, te.Endpoint, te.Method = rc.label(), Redact(req.URL), req.Method
		te.Message = mask(te.Message, secrets...)
		return "", time.Time{}, te
	}
	resp, err := c.send(ctx, kind, req, attempt)
	if err != nil {
		return fail(&TokenError{Err: err})
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		code, msg := readErrorBody(resp.Body)
		return fail(&TokenError{StatusCode: resp.StatusCode, Code: code, Message: msg, RetryAfter: resp.Header.Get("Retry-After"),
			RequestID: RequestID(resp.Header)})
	}
	var tr tokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenBody)).Decode(&tr); err != nil {
		return fail(&TokenError{StatusCode: resp.StatusCode, Err: fmt.Errorf("the response is not a token: %w", err)})
	}
	if kind == "exchange" {
		if tr.RefreshToken == "" {
			return fail(&TokenError{StatusCode: resp.StatusCode, Err: errors.New("the response has no refresh_token")})
		}
		return tr.RefreshToken, refreshRenewAt(tr.RefreshToken, c.now()), nil
	}
	tok := tr.Token
	if tok == "" {
		tok = tr.AccessToken
	}
	if tok == "" {
		return fail(&TokenError{StatusCode: resp.StatusCode, Err: errors.New("the response has neither token nor access_token")})
	}
	return tok, accessRenewAt(tok, tr, start, c.now()), nil
}

// accessRenewAt computes when to renew an access token: expires_in counted
// from the fetch's start (or from issued_at when it is a little earlier),
// else the JWT's exp, else 60 seconds; minus a margin.
func accessRenewAt(tok string, tr tokenResponse, start, now time.Time) time.Time {
	base := start
	if t, err := time.Parse(time.RFC3339, tr.IssuedAt); err == nil && t.Before(start) && start.Sub(t) <= issuedAtSkew {
		base = t
	}
	var expires time.Time
	if secs, ok := parseExpiresIn(tr.ExpiresIn); ok {
		expires = base.Add(time.Duration(secs * float64(time.Second)))
	} else if claims, ok := jwtClaims(tok); ok && claims.exp > 0 {
		expires = time.Unix(int64(claims.exp), 0)
	} else {
		expires = base.Add(defaultTokenLifetime)
	}
	return renewBefore(base, expires, tokenRenewMargin)
}

// refreshRenewAt computes when to exchange again for an ACR refresh token.
func refreshRenewAt(rt string, now time.Time) time.Time {
	if claims, ok := jwtClaims(rt); ok && claims.exp > 0 {
		return renewBefore(now, time.Unix(int64(claims.exp), 0), refreshRenewMargin)
	}
	return renewBefore(now, now.Add(unknownRefreshLifetime), refreshRenewMargin)
}

// renewBefore returns expires minus margin, or the middle of the lifetime
// if that is shorter than twice the margin.
func renewBefore(from, expires time.Time, margin time.Duration) time.Time {
	life := expires.Sub(from)
	if life <= 0 {
		return expires
	}
	if life < 2*margin {
		return from.Add(life / 2)
	}
	return expires.Add(-margin)
}

// parseExpiresIn reads expires_in as a positive number of seconds, given
// as a JSON number or string.
func parseExpiresIn(raw json.RawMessage) (float64, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0 && f <= 1e9) { // also refuses "NaN"
		return 0, false
	}
	return f, true
}

// refreshToken returns the ACR refresh token for (u's origin, service),
// exchanging an Entra ID token for it when none is cached or the cached one
// has less than five minutes left.
func (c *Client) refreshToken(ctx context.Context, u *url.URL, service string, attempt int) (string, error) {
	rt, _, err := c.refresh.do(ctx, exchangeKey(u, service), c.now, func(ctx context.Context) (string, time.Time, error) {
		return c.exchange(ctx, u, service, attempt)
	})
	return rt, err
}

func exchangeKey(u *url.URL, service string) string { return origin(u) + " " + service }

// exchange trades an Entra ID token for an ACR refresh token at
// POST /oauth2/exchange on the registry (ACR AAD-OAuth, grant_type=access_token).
func (c *Client) exchange(ctx context.Context, u *url.URL, service string, attempt int) (string, time.Time, error) {
	rc := resolvedCredential{kind: kindEntraID}
	ex := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/oauth2/exchange"}
	if err := c.requireSecure(ex, rc, "the registry's /oauth2/exchange"); err != nil {
		return "", time.Time{}, err
	}
	scope := c.audience + "/.default"
	at, err := c.cred.TokenCredential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		return "", time.Time{}, &TokenError{Credential: rc.label(), Endpoint: "Entra ID (scope " + scope + ")",
			Err: err}
	}
	if at.Token == "" {
		return "", time.Time{}, &TokenError{Credential: rc.label(), Endpoint: "Entra ID (scope " + scope + ")",
			Err: errors.New("the credential returned an empty token")}
	}
	form := url.Values{"grant_type": {"access_token"}, "service": {service}, "access_token": {at.Token}}
	if claims, ok := jwtClaims(at.Token); ok && claims.tid != "" {
		form.Set("tenant", claims.tid)
	}
	req, err := newFormRequest(ctx, ex, form)
	if err != nil {
		return "", time.Time{}, &TokenError{Credential: rc.label(), Endpoint: Redact(ex), Err: err}
	}
	return c.tokenRequest(ctx, "exchange", req, rc, []string{at.Token}, attempt)
}

// claims are the JWT claims the client reads.
type claims struct {
	exp float64
	tid string
}

// jwtClaims reads the payload of a compact JWT without verifying it: the
// client only needs to know when the token expires.
func jwtClaims(tok string) (claims, bool) {
	payload, ok := jwtPayload(tok)
	if !ok {
		return claims{}, false
	}
	var p struct {
		Exp json.Number `json:"exp"`
		Tid string      `json:"tid"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return claims{}, false
	}
	exp, _ := p.Exp.Float64()
	if exp < 0 || exp > 1e11 {
		exp = 0
	}
	return claims{exp: exp, tid: p.Tid}, true
}

// jwtPayload returns the decoded payload of a compact JWT, unverified. The
// payload is base64url (RFC 7515); standard-alphabet and padded forms are
// tolerated.
func jwtPayload(tok string) ([]byte, bool) {
	if len(tok) > 64<<10 {
		return nil, false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	seg := strings.TrimRight(parts[1], "=")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		if payload, err := enc.DecodeString(seg); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// readErrorBody reads up to 8 KiB of an error body and returns its first
// error code and message: OCI {"errors":[...]}, OAuth2
// {"error","error_description"}, or an excerpt of the text.
func readErrorBody(r io.Reader) (code, message string) {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Details     string `json:"details"`
	}
	if json.Unmarshal(b, &body) == nil {
		switch {
		case len(body.Errors) > 0:
			return clean(body.Errors[0].Code, 64), clean(body.Errors[0].Message, 512)
		case body.Error != "":
			return clean(body.Error, 64), clean(body.Description, 512)
		case body.Details != "":
			return "", clean(body.Details, 512)
		}
	}
	return "", clean(string(b), 512)
}

// clean makes server text safe for a one-line error: printable, single
// spaced, at most n bytes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		// C0 and C1 controls and DEL could drive a terminal or forge log
		// lines; invalid UTF-8 arrives as U+FFFD.
		if unicode.IsControl(r) || r == '\uFFFD' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		cut := n
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// registryPhrases are wordings registries use in their own error messages.
// A secret that is one of their words (a password "user", "password" or
// "wrong") is not masked inside them: "the user name or password is wrong" is the
// registry speaking, not an echo of the credential. Matched case-insensitively.
var registryPhrases = []string{
	"user name or password is wrong",
	"username or password is wrong",
	"user name or password",
	"username or password",
	"user name and password",
	"username and password",
	"authentication required",
	"access token",
	"refresh token",
	"use refresh_token or password",
	"for more information",
	"check the credentials given to --user",
	"log in again",
}

// mask replaces each secret in s with "[REDACTED]" where it appears as a
// whole token: the characters on either side, if any, are not letters or
// digits, so that a password "user" masks "user" but not "username". Also
// masked: a secret's URL-escaped form and its whitespace-collapsed form (as
// clean leaves server text), and a secret cut short by clean's "…". A
// secret inside one of registryPhrases is left alone. Empty secrets are
// ignored.
func mask(s string, secrets ...string) string {
	type span struct{ from, to int }
	var spans []span
	lower := strings.ToLower(s)
	var phrases []span
	for _, p := range registryPhrases {
		for i := 0; ; {
			j := strings.Index(lower[i:], p)
			if j < 0 {
				break
			}
			phrases = append(phrases, span{i + j, i + j + len(p)})
			i += j + 1
		}
	}
	inPhrase := func(from, to int) bool {
		for _, p := range phrases {
			if from >= p.from && to <= p.to {
				return true
			}
		}
		return false
	}
	add := func(from, to int) {
		if wordBoundary(s, from, to) && !inPhrase(from, to) {
			spans = append(spans, span{from, to})
		}
	}
	for _, sec := range secrets {
		if strings.TrimSpace(sec) == "" {
			continue
		}
		forms := []string{sec, strings.Join(strings.Fields(sec), " "), url.QueryEscape(sec), url.PathEscape(sec)}
		for k, f := range forms {
			if f == "" || slices.Contains(forms[:k], f) {
				continue
			}
			for i := 0; ; {
				j := strings.Index(s[i:], f)
				if j < 0 {
					break
				}
				add(i+j, i+j+len(f))
				i += j + 1
			}
			// clean cut the message inside the secret: mask the part
			// before the ellipsis.
			if rest, ok := strings.CutSuffix(s, "…"); ok {
				for n := len(f) - 1; n >= 4; n-- {
					if strings.HasSuffix(rest, f[:n]) {
						add(len(rest)-n, len(rest))
						break
					}
				}
			}
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from < to; i++ {
			to = max(to, spans[i].to)
		}
		b.WriteString(s[last:from])
		b.WriteString("[REDACTED]")
		last = to
	}
	b.WriteString(s[last:])
	return b.String()
}

// wordBoundary reports whether s[from:to] is a whole token: neither the
// character before nor the one after is a letter or digit.
func wordBoundary(s string, from, to int) bool {
	if from > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s[:from]); unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	if to < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[to:]); unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	return true
}
