package acr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/acrgo/acr/internal/transport"
)

// RefreshTokenUser is the user name that goes with an ACR refresh token
// used as a password, by docker's convention: `docker login -u
// 00000000-0000-0000-0000-000000000000 -p TOKEN`, as after `az acr login
// --expose-token`. Docker stores such a token as the identity token of
// the registry's entry in config.json.
const RefreshTokenUser = transport.RefreshTokenUser

// Token is a token the registry issued, and when it expires (zero when the
// token does not say).
type Token struct {
	Token     string
	ExpiresOn time.Time
}

// RefreshToken returns an ACR refresh token for the registry, for tools
// that take one (docker, helm, oras: with RefreshTokenUser as the user
// name): the one the client's Entra ID credential is exchanged for at
// /oauth2/exchange, cached and renewed as for the client's own requests, or
// the client's own refresh token. A client with Basic credentials or none
// gets ErrNotSupported, as does a registry that does not use bearer tokens.
// The token is a secret: do not log it.
func (c *Client) RefreshToken(ctx context.Context) (_ Token, err error) {
	ctx, endSpan := c.span(ctx, "Client.RefreshToken")
	defer func() { endSpan(err) }()
	if err := c.Ping(ctx); err != nil {
		return Token{}, err
	}
	tok, exp, err := c.tr.RefreshToken(ctx, c.endpoint)
	return c.token("refresh token", tok, exp, err)
}

// AccessToken returns an access token for scopes, such as
// "repository:app:pull,push" or "registry:catalog:*", got with the client's
// credential as its own requests get theirs. A registry that does not use
// bearer tokens gets ErrNotSupported. The token is a secret: do not log it.
func (c *Client) AccessToken(ctx context.Context, scopes ...string) (_ Token, err error) {
	ctx, endSpan := c.span(ctx, "Client.AccessToken")
	defer func() { endSpan(err) }()
	if err := c.Ping(ctx); err != nil {
		return Token{}, err
	}
	tok, exp, err := c.tr.AccessToken(ctx, c.endpoint, scopes)
	return c.token("access token", tok, exp, err)
}

func (c *Client) token(what, tok string, exp time.Time, err error) (Token, error) {
	switch {
	case errors.Is(err, transport.ErrNoBearer) || errors.Is(err, transport.ErrNoRefreshToken):
		return Token{}, fmt.Errorf("acr: %s for %s: %w: %v", what, c.host, ErrNotSupported, err)
	case err != nil:
		var te *transport.TokenError
		if errors.As(err, &te) {
			if re := tokenResponseError(te); re != nil {
				if re.StatusCode == http.StatusUnauthorized {
					return Token{}, fmt.Errorf("acr: %s for %s: %w (credential: %s)", what, c.host, re, c.credKind)
				}
				return Token{}, fmt.Errorf("acr: %s for %s: %w", what, c.host, re)
			}
		}
		return Token{}, fmt.Errorf("acr: %s for %s: %w", what, c.host, err)
	}
	return Token{Token: tok, ExpiresOn: exp}, nil
}
