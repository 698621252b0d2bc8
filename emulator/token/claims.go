package token

import (
	"slices"
	"time"
)

// Claim values that ACR puts in every token; see "JWT claims" in
// docs/acr-rest-api.md.
const (
	// Issuer is the "iss" claim of every ACR token.
	Issuer = "Azure Container Registry"
	// Version is the "version" claim of every ACR token.
	Version = "1.0"
	// GrantTypeRefreshToken is the "grant_type" claim of a refresh token,
	// minted by POST /oauth2/exchange.
	GrantTypeRefreshToken = "refresh_token"
	// GrantTypeAccessToken is the "grant_type" claim of an access token,
	// minted by /oauth2/token.
	GrantTypeAccessToken = "access_token"
)

// Claims is the payload of an ACR refresh or access token. On the wire the
// times are whole seconds since the Unix epoch ("nbf", "exp", "iat"), and a
// zero time is left out.
type Claims struct {
	// ID is the "jti" claim; [Signer.Mint] fills a random UUID when empty.
	ID string
	// Subject is the "sub" claim: the user, service principal or token name.
	Subject string
	// NotBefore is the "nbf" claim.
	NotBefore time.Time
	// ExpiresAt is the "exp" claim; it is required.
	ExpiresAt time.Time
	// IssuedAt is the "iat" claim.
	IssuedAt time.Time
	// Issuer is the "iss" claim; [Signer.Mint] fills [Issuer] when empty.
	Issuer string
	// Audience is the "aud" claim: the registry host, such as
	// "myregistry.azurecr.io" or "localhost:5000"; it is required.
	Audience string
	// Version is the "version" claim; [Signer.Mint] fills [Version] when empty.
	Version string
	// GrantType is the "grant_type" claim, [GrantTypeRefreshToken] or
	// [GrantTypeAccessToken]; it is required.
	GrantType string
	// Tenant is the "tenant" claim, the Entra ID tenant; empty is left out.
	Tenant string
	// Permissions is the "permissions" claim of a refresh token; nil leaves
	// it out, as in access tokens.
	Permissions *Permissions
	// Access is the "access" claim of an access token: the granted scopes.
	// It is left out when empty.
	Access []Access
	// Roles is the "roles" claim; ACR sends an empty list.
	Roles []string
}

// Permissions is the "permissions" claim of a refresh token: the role-based
// actions of its subject. ACR capitalises its keys and sends a null
// NotActions: {"Actions":["read","write","delete"],"NotActions":null}.
type Permissions struct {
	// Actions lists the permitted actions; "*" permits all.
	Actions []string `json:"Actions"`
	// NotActions lists actions excluded from Actions; nil is sent as null.
	NotActions []string `json:"NotActions"`
}

// Allows reports whether the "access" claim grants action on the resource
// typ:name. An entry matches when its type equals typ, its name equals name
// or is "*", and its actions contain action or [ActionAll]. Comparisons are
// exact and case-sensitive; a requested action of "*" needs a granted "*",
// and a requested name of "*" needs a granted "*".
//
// Only Access is consulted: a refresh token's Permissions grant nothing on
// their own, since clients must exchange a refresh token for an access token.
// Allows does not check the grant type or times; [Signer.Verify] does.
func (c Claims) Allows(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Type != typ || (a.Name != name && a.Name != "*") {
			continue
		}
		if slices.Contains(a.Actions, action) || slices.Contains(a.Actions, ActionAll) {
			return true
		}
	}
	return false
}

// wireClaims is the JSON shape of Claims, field order as ACR sends them.
type wireClaims struct {
	ID          string       `json:"jti,omitempty"`
	Subject     string       `json:"sub,omitempty"`
	NotBefore   int64        `json:"nbf,omitempty"`
	ExpiresAt   int64        `json:"exp"`
	IssuedAt    int64        `json:"iat,omitempty"`
	Issuer      string       `json:"iss"`
	Audience    string       `json:"aud"`
	Version     string       `json:"version"`
	GrantType   string       `json:"grant_type"`
	Tenant      string       `json:"tenant,omitempty"`
	Permissions *Permissions `json:"permissions,omitempty"`
	Access      []Access     `json:"access,omitempty"`
	Roles       []string     `json:"roles"`
}

func (c Claims) wire() wireClaims {
	w := wireClaims{
		ID:        c.ID,
		Subject:   c.Subject,
		NotBefore: unixOrZero(c.NotBefore),
		ExpiresAt: unixOrZero(c.ExpiresAt),
		IssuedAt:  unixOrZero(c.IssuedAt),
		Issuer:    c.Issuer,
		Audience:  c.Audience,
		Version:   c.Version,
		GrantType: c.GrantType,
		Tenant:    c.Tenant,
		Roles:     nonNil(c.Roles),
	}
	if c.Permissions != nil {
		w.Permissions = &Permissions{
			Actions:    nonNil(c.Permissions.Actions),
			NotActions: c.Permissions.NotActions,
		}
	}
	if len(c.Access) > 0 {
		w.Access = make([]Access, len(c.Access))
		for i, a := range c.Access {
			a.Actions = nonNil(a.Actions)
			w.Access[i] = a
		}
	}
	return w
}

func (w wireClaims) claims() Claims {
	return Claims{
		ID:          w.ID,
		Subject:     w.Subject,
		NotBefore:   timeOrZero(w.NotBefore),
		ExpiresAt:   timeOrZero(w.ExpiresAt),
		IssuedAt:    timeOrZero(w.IssuedAt),
		Issuer:      w.Issuer,
		Audience:    w.Audience,
		Version:     w.Version,
		GrantType:   w.GrantType,
		Tenant:      w.Tenant,
		Permissions: w.Permissions,
		Access:      w.Access,
		Roles:       w.Roles,
	}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// nonNil makes empty lists encode as [] rather than null, as ACR sends them.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
