package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// RefreshTokenUser is the user name that, by docker's convention, marks the
// password as an ACR refresh token ("docker login -u 0000…").
const RefreshTokenUser = "00000000-0000-0000-0000-000000000000"

// lookupTTL is how long a Lookup answer is reused: helpers may run a
// process, so they are not asked for every token.
const lookupTTL = 5 * time.Minute

// Credential holds the secrets for one registry. Exactly one kind is set;
// the zero value is anonymous.
type Credential struct {
	// Username and Password are Basic credentials: an admin user, a
	// repository-scoped token, or any Docker token realm's user. With
	// Username RefreshTokenUser, Password is used as RefreshToken.
	Username, Password string
	// RefreshToken is an ACR refresh token, exchanged at /oauth2/token
	// with grant_type=refresh_token.
	RefreshToken string
	// TokenCredential is an Entra ID credential: its token is exchanged at
	// POST /oauth2/exchange for an ACR refresh token, which buys access
	// tokens at /oauth2/token.
	TokenCredential azcore.TokenCredential
	// Lookup returns the credentials for a host, for example from docker's
	// config.json and credential helpers. An empty username means
	// anonymous; RefreshTokenUser means password is a refresh token.
	Lookup func(ctx context.Context, host string) (username, password string, err error)
}

// credKind is the kind of a credential.
type credKind int

const (
	kindAnonymous credKind = iota
	kindBasic
	kindRefreshToken
	kindEntraID
	kindLookup // only on Credential; resolves to one of the others
)

func (k credKind) String() string {
	switch k {
	case kindBasic:
		return "basic (user name and password)"
	case kindRefreshToken:
		return "refresh token"
	case kindEntraID:
		return "Entra ID"
	case kindLookup:
		return "credential lookup"
	}
	return "anonymous"
}

// kind validates cr and reports its kind.
func (cr Credential) kind() (credKind, error) {
	var kinds []credKind
	if cr.Username != "" || cr.Password != "" {
		kinds = append(kinds, kindBasic)
	}
	if cr.RefreshToken != "" {
		kinds = append(kinds, kindRefreshToken)
	}
	if cr.TokenCredential != nil {
		kinds = append(kinds, kindEntraID)
	}
	if cr.Lookup != nil {
		kinds = append(kinds, kindLookup)
	}
	switch len(kinds) {
	case 0:
		return kindAnonymous, nil
	case 1:
	default:
		return 0, fmt.Errorf("transport: the credential sets both %s and %s: set exactly one kind", kinds[0], kinds[1])
	}
	if kinds[0] == kindBasic {
		if cr.Username == "" {
			return 0, errors.New("transport: the credential has a password but no user name")
		}
		if cr.Username == RefreshTokenUser {
			return kindRefreshToken, nil
		}
	}
	return kinds[0], nil
}

// resolvedCredential is the credential to use for one host.
type resolvedCredential struct {
	kind           credKind
	user, password string // kindBasic
	refreshToken   string // kindRefreshToken
	fromLookup     bool
}

// label names the credential in errors, without its secrets.
func (rc resolvedCredential) label() string {
	if rc.fromLookup {
		return rc.kind.String() + " from the credential lookup"
	}
	return rc.kind.String()
}

// secrets lists the strings that must never appear in logs or errors.
func (rc resolvedCredential) secrets() []string {
	return []string{rc.password, rc.refreshToken}
}

// resolve returns the credential for host, asking Lookup when configured.
func (c *Client) resolve(ctx context.Context, host string) (resolvedCredential, error) {
	switch c.kind {
	case kindBasic:
		return resolvedCredential{kind: kindBasic, user: c.cred.Username, password: c.cred.Password}, nil
	case kindRefreshToken:
		rt := c.cred.RefreshToken
		if rt == "" {
			rt = c.cred.Password
		}
		return resolvedCredential{kind: kindRefreshToken, refreshToken: rt}, nil
	case kindEntraID:
		return resolvedCredential{kind: kindEntraID}, nil
	case kindLookup:
	default:
		return resolvedCredential{kind: kindAnonymous}, nil
	}
	rc, _, err := c.lookups.do(ctx, host, c.now, func(ctx context.Context) (resolvedCredential, time.Time, error) {
		user, pass, err := c.cred.Lookup(ctx, host)
		if err != nil {
			return resolvedCredential{}, time.Time{}, fmt.Errorf("transport: credential lookup for %s: %w", host, err)
		}
		rc := resolvedCredential{fromLookup: true}
		switch user {
		case "":
			rc.kind = kindAnonymous
		case RefreshTokenUser:
			rc.kind, rc.refreshToken = kindRefreshToken, pass
		default:
			rc.kind, rc.user, rc.password = kindBasic, user, pass
		}
		return rc, c.now().Add(lookupTTL), nil
	})
	return rc, err
}
