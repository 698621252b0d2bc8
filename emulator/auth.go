package emulator

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/acrgo/acr/emulator/token"
	"github.com/acrgo/acr/internal/spec"
)

// Token lifetimes, as ACR issues them.
const (
	refreshTokenTTL = 3 * time.Hour
	accessTokenTTL  = 75 * time.Minute
)

// refreshTokenUser is the user name docker and the SDKs send with an ACR
// refresh token as the password.
const refreshTokenUser = "00000000-0000-0000-0000-000000000000"

// identity is who a request acts as, and what it may do.
type identity struct {
	all    bool          // open registry, Basic user or refresh token: everything
	claims *token.Claims // bearer access token: its access claim
}

// allows reports whether the identity may perform action on typ:name.
func (id identity) allows(typ, name, action string) bool {
	if id.all {
		return true
	}
	return id.claims != nil && id.claims.Allows(typ, name, action)
}

// requiredScope is the scope an endpoint needs, as ACR challenges for it.
// An empty type means any authenticated identity will do (/v2/).
func requiredScope(rt route, method string) token.Scope {
	repo := func(action string) token.Scope {
		return token.Scope{Type: "repository", Name: rt.repo, Actions: []string{action}}
	}
	read := method == http.MethodGet || method == http.MethodHead
	switch rt.kind {
	case routeCatalog, routeACRCatalog:
		return token.Scope{Type: "registry", Name: "catalog", Actions: []string{"*"}}
	case routeTagsList, routeReferrers:
		return repo("pull")
	case routeManifest, routeBlob:
		switch {
		case read:
			return repo("pull")
		case method == http.MethodDelete:
			return repo("delete")
		}
		return repo("push")
	case routeUploadStart, routeUpload:
		return repo("push")
	case routeACRRepo, routeACRTags, routeACRTag, routeACRManifests, routeACRManifest:
		switch {
		case read:
			return repo("metadata_read")
		case method == http.MethodDelete:
			return repo("delete")
		}
		return repo("metadata_write")
	}
	return token.Scope{}
}

// authorize authenticates a request and checks the scope its endpoint
// needs. It runs before any body is read, as ACR does, so a client that
// sends its first attempt without credentials learns the challenge first.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rt route) (identity, error) {
	if !s.auth {
		return identity{all: true}, nil
	}
	need := requiredScope(rt, r.Method)
	challengeScope := need
	if need.Type == "" {
		challengeScope = token.Scope{Type: "registry", Name: "catalog", Actions: []string{"*"}}
	}
	authz := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(authz, " ")
	switch strings.ToLower(scheme) {
	case "basic":
		user, pass, ok := r.BasicAuth()
		if ok && s.checkBasic(r, user, pass) {
			return identity{all: true}, nil
		}
		return identity{}, s.challenge(r, challengeScope, "invalid_token",
			"authentication required: the user name or password is wrong; check the credentials given to --user, or log in again")
	case "bearer":
		c, err := s.signer.Verify(strings.TrimSpace(cred), s.now(), r.Host, token.GrantTypeAccessToken)
		if err != nil {
			msg := "authentication required: the access token is not valid for this registry; get a new one from the realm"
			if errors.Is(err, token.ErrExpired) {
				msg = "authentication required: the access token has expired; get a new one from the realm"
			}
			return identity{}, s.challenge(r, challengeScope, "invalid_token", msg)
		}
		id := identity{claims: &c}
		if need.Type == "" || id.allows(need.Type, need.Name, need.Actions[0]) {
			return id, nil
		}
		return identity{}, s.challenge(r, need, "insufficient_scope",
			"authentication required: the access token lacks "+need.String()+"; request a token for that scope")
	}
	return identity{}, s.challenge(r, challengeScope, "",
		"authentication required, visit https://aka.ms/acr/authorization for more information.")
}

// checkBasic validates Basic credentials: a configured user, or the refresh
// token user with a valid ACR refresh token as password.
func (s *Server) checkBasic(r *http.Request, user, pass string) bool {
	if user == refreshTokenUser {
		_, err := s.signer.Verify(pass, s.now(), r.Host, token.GrantTypeRefreshToken)
		return err == nil
	}
	want, ok := s.opts.Users[user]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
}

// challenge builds a 401 with ACR's challenge, formatted exactly as the Go
// SDK's naive parser needs: no spaces after commas and scope always present.
func (s *Server) challenge(r *http.Request, sc token.Scope, errCode, msg string) error {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	v := `Bearer realm="` + scheme + "://" + r.Host + `/oauth2/token",service="` + r.Host + `",scope="` + sc.String() + `"`
	if errCode != "" {
		v += `,error="` + errCode + `"`
	}
	detail := []map[string]string{{"Type": sc.Type, "Name": sc.Name, "Action": strings.Join(sc.Actions, ",")}}
	return &apiError{status: http.StatusUnauthorized, code: spec.ErrorCodeUnauthorized, message: msg, detail: detail,
		header: http.Header{"Www-Authenticate": {v}}}
}

// handleExchange serves POST /oauth2/exchange: an Entra ID access token for
// an ACR refresh token.
func (s *Server) handleExchange(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(r)
	}
	if err := parseForm(r); err != nil {
		return err
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "access_token", "access_token_refresh_token":
	default:
		return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "grant_type %q is not supported: use access_token", gt)
	}
	if err := s.checkService(r, r.PostForm.Get("service")); err != nil {
		return err
	}
	aad := r.PostForm.Get("access_token")
	known := false
	for _, t := range s.opts.AADTokens {
		if aad != "" && subtle.ConstantTimeCompare([]byte(t), []byte(aad)) == 1 {
			known = true
		}
	}
	if !known {
		return newError(http.StatusUnauthorized, spec.ErrorCodeUnauthorized,
			"the Entra ID access token was not accepted: start the registry with --aad-token set to it")
	}
	now := s.now()
	rt, err := s.signer.Mint(token.Claims{Subject: "aad-identity", NotBefore: now, IssuedAt: now,
		ExpiresAt: now.Add(refreshTokenTTL), Audience: r.Host, GrantType: token.GrantTypeRefreshToken,
		Tenant: r.PostForm.Get("tenant"), Permissions: &token.Permissions{Actions: []string{"*"}, NotActions: []string{}}, Roles: []string{}})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, map[string]string{"refresh_token": rt})
}

// handleToken serves GET and POST /oauth2/token: access tokens for Basic
// credentials (GET, docker style), for ACR refresh tokens (POST
// grant_type=refresh_token) and, with anonymous pull, for nobody (pull
// and metadata_read only).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	var full, anonymous bool
	subject := ""
	var scopes []string
	var service string
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		service, scopes = q.Get("service"), q["scope"]
		if user, pass, ok := r.BasicAuth(); ok {
			if !s.checkBasic(r, user, pass) {
				return newError(http.StatusUnauthorized, spec.ErrorCodeUnauthorized,
					"the user name or password is wrong; check the credentials given to --user, or log in again")
			}
			full, subject = true, user
		} else {
			anonymous = true
		}
	case http.MethodPost:
		if err := parseForm(r); err != nil {
			return err
		}
		f := r.PostForm
		service, scopes = f.Get("service"), f["scope"]
		switch gt := f.Get("grant_type"); gt {
		case "refresh_token":
			if _, err := s.signer.Verify(f.Get("refresh_token"), s.now(), r.Host, token.GrantTypeRefreshToken); err != nil {
				return newError(http.StatusUnauthorized, spec.ErrorCodeUnauthorized,
					"the refresh token is not valid for this registry (%v): exchange a new one at /oauth2/exchange", errors.Unwrap(err))
			}
			full, subject = true, "aad-identity"
		case "password":
			user, pass := f.Get("username"), f.Get("password")
			switch {
			case user != "" && s.checkBasic(r, user, pass):
				full, subject = true, user
			case user == "" && f.Get("refresh_token") == "":
				anonymous = true
			default:
				return newError(http.StatusUnauthorized, spec.ErrorCodeUnauthorized, "the user name or password is wrong")
			}
		default:
			return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "grant_type %q is not supported: use refresh_token or password", gt)
		}
	default:
		return methodNotAllowed(r)
	}
	if err := s.checkService(r, service); err != nil {
		return err
	}
	if anonymous && !s.opts.AnonymousPull {
		return &apiError{status: http.StatusUnauthorized, code: spec.ErrorCodeUnauthorized,
			message: "authentication required, visit https://aka.ms/acr/authorization for more information: anonymous pull is not enabled on this registry",
			header:  http.Header{"Www-Authenticate": {`Basic realm="` + r.Host + `"`}}}
	}
	var requested []token.Scope
	for _, v := range scopes {
		sc, err := token.ParseScopes(v)
		if err != nil {
			return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "%v", err)
		}
		requested = append(requested, sc...)
	}
	access := token.Grant(requested, func(sc token.Scope) []string {
		if full {
			return []string{"*"}
		}
		// Anonymous pull covers reading content and its metadata: the
		// Azure SDKs list tags anonymously through /acr/v1.
		if sc.Type == "repository" {
			return []string{"pull", "metadata_read"}
		}
		return nil
	})
	if anonymous {
		subject = "anonymous"
	}
	now := s.now()
	at, err := s.signer.Mint(token.Claims{Subject: subject, NotBefore: now, IssuedAt: now, ExpiresAt: now.Add(accessTokenTTL),
		Audience: r.Host, GrantType: token.GrantTypeAccessToken, Access: access, Roles: []string{}})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, map[string]any{"access_token": at, "expires_in": int(accessTokenTTL.Seconds())})
}

// checkService refuses tokens for another registry.
func (s *Server) checkService(r *http.Request, service string) error {
	if service != "" && service != r.Host {
		return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported,
			"service %q is not this registry (%q): use the service from the challenge", service, r.Host)
	}
	return nil
}

// parseForm reads a bounded form body.
func parseForm(r *http.Request) error {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "the form body does not parse: %v", err)
	}
	return nil
}
