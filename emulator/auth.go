package emulator

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
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
	scoped scopeMap      // Basic user limited by a scope map
	name   string        // the user or token subject; "" on an open registry
}

// allows reports whether the identity may perform action on typ:name. A
// bearer token of a user with a scope map needs both: the token's claim,
// and the map as it is now, so that narrowing a map takes effect at once.
func (id identity) allows(typ, name, action string) bool {
	if id.all {
		return true
	}
	if id.scoped != nil && (typ != token.TypeRepository || !slices.Contains(id.scoped.actions(name), action)) {
		return false
	}
	if id.claims != nil {
		return id.claims.Allows(typ, name, action)
	}
	return id.scoped != nil
}

// requiredScopes returns the scopes an endpoint challenges for, as ACR
// names them (../shared/docs/acr-recordings). The first scope is the one the
// request needs; a cross-repository mount adds pull on its source, which
// the registry checks when it mounts (without it the mount falls back to
// a plain upload session, as the OCI spec says). GET /v2/ needs none: any
// authenticated identity will do.
func requiredScopes(rt route, r *http.Request) []token.Scope {
	repo := func(actions ...string) []token.Scope {
		return []token.Scope{{Type: token.TypeRepository, Name: rt.repo, Actions: actions}}
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch rt.kind {
	case routeCatalog, routeACRCatalog:
		return []token.Scope{{Type: token.TypeRegistry, Name: "catalog", Actions: []string{token.ActionAll}}}
	case routeTagsList, routeReferrers:
		return repo(token.ActionPull)
	case routeManifest, routeBlob:
		switch {
		case read:
			return repo(token.ActionPull)
		case r.Method == http.MethodDelete:
			return repo(token.ActionDelete)
		}
		return repo(token.ActionPull, token.ActionPush)
	case routeUploadStart:
		// ACR challenges uploads for pull and push (N CanGetBlobLocation,
		// G TestBlobClient_StartUpload), and a mount for pull on its
		// source too (G TestBlobClient_MountBlob).
		sc := repo(token.ActionPull, token.ActionPush)
		q := r.URL.Query()
		if from := q.Get("from"); from != "" && q.Get("mount") != "" && from != rt.repo && spec.ValidateName(from) == nil {
			sc = append(sc, token.Scope{Type: token.TypeRepository, Name: from, Actions: []string{token.ActionPull}})
		}
		return sc
	case routeUpload:
		// Cancelling a session needs delete (G TestBlobClient_StartUpload).
		if r.Method == http.MethodDelete {
			return repo(token.ActionDelete)
		}
		return repo(token.ActionPull, token.ActionPush)
	case routeDeletedCatalog:
		return []token.Scope{{Type: token.TypeRegistry, Name: "deleted_catalog", Actions: []string{token.ActionAll}}}
	case routeDeletedManifests, routeDeletedTags:
		return repo("deleted_read")
	case routeDeletedManifest:
		return repo("deleted_read", "deleted_restore")
	case routeACRRepo, routeACRTags, routeACRTag, routeACRManifests, routeACRManifest:
		switch {
		case read:
			return repo(token.ActionMetadataRead)
		case r.Method == http.MethodDelete:
			return repo(token.ActionDelete)
		}
		return repo(token.ActionMetadataWrite)
	}
	return nil
}

// authorize authenticates a request and checks the scope its endpoint
// needs. It runs before any body is read, as ACR does, so a client that
// sends its first attempt without credentials learns the challenge first.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rt route) (identity, error) {
	if !s.auth {
		return identity{all: true}, nil
	}
	need := requiredScopes(rt, r)
	authz := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(authz, " ")
	var id identity
	switch strings.ToLower(scheme) {
	case "basic":
		user, pass, ok := r.BasicAuth()
		if good, err := s.signIn(r, user, func() bool { return ok && s.checkBasic(r, user, pass) }); err != nil {
			return identity{}, err
		} else if !good {
			return identity{}, s.challenge(r, need, "invalid_token",
				"authentication required: the user name or password is wrong")
		}
		id = s.basicIdentity(user)
	case "bearer":
		c, err := s.signer.Verify(strings.TrimSpace(cred), s.now(), r.Host, token.GrantTypeAccessToken)
		if err != nil {
			msg := "authentication required: the access token is not valid for this registry; get a new one from the realm"
			if errors.Is(err, token.ErrExpired) {
				msg = "authentication required: the access token has expired; get a new one from the realm"
			}
			return identity{}, s.challenge(r, need, "invalid_token", msg)
		}
		scoped, ok := s.subjectExists(c.Subject)
		if !ok {
			return identity{}, s.challenge(r, need, "invalid_token",
				"authentication required: the access token's identity "+strconv.Quote(c.Subject)+" no longer exists on this registry; sign in again")
		}
		id = identity{claims: &c, scoped: scoped, name: c.Subject}
	default:
		return identity{}, s.challenge(r, need, "", acrUnauthorized)
	}
	if len(need) > 0 {
		for _, a := range need[0].Actions {
			if !id.allows(need[0].Type, need[0].Name, a) {
				// ACR's message is the same with or without a token;
				// the error parameter tells the two apart.
				return identity{}, s.challenge(r, need, "insufficient_scope", acrUnauthorized)
			}
		}
	}
	return id, nil
}

// acrUnauthorized is the message of ACR's 401 answers, with or without a
// token (every recorded 401).
const acrUnauthorized = "authentication required, visit https://aka.ms/acr/authorization for more information."

// basicIdentity is what a user who authenticated with a password may do.
func (s *Server) basicIdentity(user string) identity {
	if m, ok := s.scopeMaps[user]; ok {
		return identity{scoped: m, name: user}
	}
	return identity{all: true, name: user}
}

// Token subjects that are not users of Options.Users.
const (
	aadSubject       = "aad-identity"
	anonymousSubject = "anonymous"
)

// subjectExists reports whether the identity a token was minted for still
// exists, with the scope map that limits it now: tokens outlive a restart
// (the signing key persists in Options.Dir), and a user removed, or whose
// scope map was narrowed, must lose at once what the token still claims.
// It reads only the options in memory, so every request can afford it.
func (s *Server) subjectExists(subject string) (scopeMap, bool) {
	switch {
	case subject == aadSubject && len(s.opts.AADTokens) > 0:
		return nil, true
	case subject == anonymousSubject && s.opts.AnonymousPull:
		return nil, true
	}
	if _, ok := s.opts.Users[subject]; !ok {
		return nil, false
	}
	return s.scopeMaps[subject], true
}

// tokenSubject is the subject of a token for a Basic sign-in as user: the
// user, or for the refresh token user, the identity refresh tokens are
// minted for, which must exist while the token is used.
func tokenSubject(user string) string {
	if user == refreshTokenUser {
		return aadSubject
	}
	return user
}

// verifyRefreshToken checks an ACR refresh token: its signature, expiry
// and audience, and that the identity it was minted for still exists.
func (s *Server) verifyRefreshToken(r *http.Request, tok string) bool {
	c, err := s.signer.Verify(tok, s.now(), r.Host, token.GrantTypeRefreshToken)
	if err != nil {
		return false
	}
	_, ok := s.subjectExists(c.Subject)
	return ok
}

// checkCredentials refuses Options credentials that no client can send
// (a name with a colon, which Basic authentication cannot carry) or that
// any client can (an empty password, as an unset environment variable
// gives), so that turning authentication on never leaves it open.
func checkCredentials(o Options) error {
	for _, user := range slices.Sorted(maps.Keys(o.Users)) {
		switch {
		case user == "":
			return errors.New("emulator: Users has a user with an empty name: name every user")
		case strings.Contains(user, ":"):
			return fmt.Errorf("emulator: user %q has a colon in its name, which Basic authentication cannot carry: rename it", user)
		case user == refreshTokenUser:
			return fmt.Errorf("emulator: user %q is the name ACR reserves for refresh tokens sent as passwords: choose another name", user)
		case o.Users[user] == "":
			return fmt.Errorf("emulator: user %q has an empty password, which would let anyone sign in as it: give it a password", user)
		}
	}
	for i, t := range o.AADTokens {
		if t == "" {
			return fmt.Errorf("emulator: AADTokens[%d] is empty, and no client can present an empty Entra ID token: remove it or give a token", i)
		}
	}
	return nil
}

// checkBasic validates Basic credentials: a configured user, or the refresh
// token user with a valid ACR refresh token as password.
func (s *Server) checkBasic(r *http.Request, user, pass string) bool {
	if user == refreshTokenUser {
		return s.verifyRefreshToken(r, pass)
	}
	want, ok := s.opts.Users[user]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
}

// challengeDetail is one entry of a 401 body's detail, with ACR's
// capitalised keys.
type challengeDetail struct {
	Type   string `json:"Type"`
	Name   string `json:"Name"`
	Action string `json:"Action"`
}

// challenge builds a 401 with ACR's challenge: the scopes space-separated,
// formatted exactly as the Go SDK's naive parser needs (no spaces after
// commas), and a body with one detail entry per action. Without scopes
// (GET /v2/) the challenge has no scope parameter and the detail is null,
// as on ACR (G TestClient_CheckDockerV2Support).
func (s *Server) challenge(r *http.Request, scopes []token.Scope, errCode, msg string) error {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	v := `Bearer realm="` + scheme + "://" + r.Host + `/oauth2/token",service="` + r.Host + `"`
	var detail []challengeDetail
	if len(scopes) > 0 {
		names := make([]string, len(scopes))
		for i, sc := range scopes {
			names[i] = sc.String()
			for _, a := range sc.Actions {
				detail = append(detail, challengeDetail{Type: sc.Type, Name: sc.Name, Action: a})
			}
		}
		v += `,scope="` + strings.Join(names, " ") + `"`
	}
	if errCode != "" {
		v += `,error="` + errCode + `"`
	}
	return &apiError{status: http.StatusUnauthorized, code: spec.ErrorCodeUnauthorized, message: msg, detail: detail,
		header: http.Header{"Www-Authenticate": {v}}}
}

// refreshTokenActions are the permissions of an Entra ID identity with full
// rights, as ACR lists them in its refresh tokens
// (G Test_authenticationClient_ExchangeACRRefreshTokenForACRAccessToken).
var refreshTokenActions = []string{"read", "write", "delete", "deleted/read", "deleted/restore/action"}

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
	known, err := s.signIn(r, "entra-id", func() bool {
		known := false
		for _, t := range s.opts.AADTokens {
			if aad != "" && subtle.ConstantTimeCompare([]byte(t), []byte(aad)) == 1 {
				known = true
			}
		}
		return known
	})
	if err != nil {
		return err
	}
	if !known {
		return oauthRefused()
	}
	now := s.now()
	rt, err := s.signer.Mint(token.Claims{Subject: aadSubject, NotBefore: now, IssuedAt: now,
		ExpiresAt: now.Add(refreshTokenTTL), Audience: r.Host, GrantType: token.GrantTypeRefreshToken,
		Tenant: r.PostForm.Get("tenant"), Permissions: &token.Permissions{Actions: refreshTokenActions}, Roles: []string{}})
	if err != nil {
		return mintError(err)
	}
	return writeJSON(w, r, http.StatusOK, map[string]string{"refresh_token": rt})
}

// handleToken serves GET and POST /oauth2/token: access tokens for Basic
// credentials (GET, docker style), for ACR refresh tokens (POST
// grant_type=refresh_token) and, with anonymous pull, for nobody (pull
// and metadata_read only).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	var full, anonymous bool
	var scoped scopeMap
	subject := ""
	var scopes []string
	var service string
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		service, scopes = q.Get("service"), q["scope"]
		if user, pass, ok := r.BasicAuth(); ok {
			if good, err := s.signIn(r, user, func() bool { return s.checkBasic(r, user, pass) }); err != nil {
				return err
			} else if !good {
				return newError(http.StatusUnauthorized, spec.ErrorCodeUnauthorized,
					"the user name or password is wrong")
			}
			full, scoped, subject = s.basicIdentity(user).all, s.basicIdentity(user).scoped, tokenSubject(user)
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
			good, err := s.signIn(r, refreshTokenUser, func() bool { return s.verifyRefreshToken(r, f.Get("refresh_token")) })
			if err != nil {
				return err
			}
			if !good {
				return oauthRefused()
			}
			full, subject = true, aadSubject
		case "password":
			user, pass := f.Get("username"), f.Get("password")
			switch {
			case user == "" && f.Get("refresh_token") == "":
				anonymous = true
			case user == "":
				return newError(http.StatusUnauthorized, spec.ErrorCodeUnauthorized, "the user name or password is wrong")
			default:
				good, err := s.signIn(r, user, func() bool { return s.checkBasic(r, user, pass) })
				if err != nil {
					return err
				}
				if !good {
					return newError(http.StatusUnauthorized, spec.ErrorCodeUnauthorized, "the user name or password is wrong")
				}
				full, scoped, subject = s.basicIdentity(user).all, s.basicIdentity(user).scoped, tokenSubject(user)
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
		switch {
		case full:
			return []string{token.ActionAll}
		case scoped != nil:
			// A scope map grants nothing outside repositories: such a
			// user cannot list the catalog, as on ACR.
			if sc.Type == token.TypeRepository {
				return scoped.actions(sc.Name)
			}
			return nil
		}
		// Anonymous pull covers reading content, its metadata and the
		// catalog (G Test_authenticationPolicy_anonymousAccess, P
		// test_anon_access); other actions are left out of the token,
		// and the request that needs them gets insufficient_scope.
		switch {
		case sc.Type == token.TypeRepository:
			return []string{token.ActionPull, token.ActionMetadataRead}
		case sc.Type == token.TypeRegistry && sc.Name == "catalog":
			return []string{token.ActionAll}
		}
		return nil
	})
	if anonymous {
		subject = anonymousSubject
	}
	now := s.now()
	at, err := s.signer.Mint(token.Claims{Subject: subject, NotBefore: now, IssuedAt: now, ExpiresAt: now.Add(accessTokenTTL),
		Audience: r.Host, GrantType: token.GrantTypeAccessToken, Access: access, Roles: []string{}})
	if err != nil {
		return mintError(err)
	}
	return writeJSON(w, r, http.StatusOK, map[string]any{"access_token": at, "expires_in": int(accessTokenTTL.Seconds())})
}

// mintError turns a token that would be too large (a 20,000-character
// repository in a scope, hundreds of scopes, a huge tenant) into a 400.
func mintError(err error) error {
	if errors.Is(err, token.ErrTooLarge) {
		return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported,
			"the token asked for would be larger than %d bytes: request fewer or shorter scopes", token.MaxTokenSize)
	}
	return err
}

// oauthRefused is ACR's answer to an Entra ID token or refresh token it does
// not accept: 401 with an empty body and no challenge
// (G Test_authenticationClient_*_fail).
func oauthRefused() error {
	return &apiError{status: http.StatusUnauthorized, bare: true}
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
