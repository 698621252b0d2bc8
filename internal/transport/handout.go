package transport

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// ErrNoBearer reports a registry that does not use bearer tokens (it asks
// for Basic credentials, or for none): it has no tokens to hand out.
var ErrNoBearer = errors.New("transport: the registry does not use bearer tokens")

// ErrNoRefreshToken reports a client whose credential cannot give an ACR
// refresh token: only Entra ID credentials (exchanged for one) and refresh
// tokens can.
var ErrNoRefreshToken = errors.New("transport: no refresh token for this credential")

// errNoChallenge reports a registry that has not asked the client for
// credentials: it needs none, or the client has not talked to it yet.
var errNoChallenge = fmt.Errorf("%w: it has not asked for credentials (a caller must send it a request first)", ErrNoBearer)

// AccessToken returns an access token for scopes at the registry of u, got
// with the client's credential as a request would get it, and its expiry
// (zero when the token does not tell). The registry's challenge must be
// known: send the registry a request first; a registry that has not
// challenged gets ErrNoBearer.
func (c *Client) AccessToken(ctx context.Context, u *url.URL, scopes []string) (string, time.Time, error) {
	info, err := c.bearerChallenge(u)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, _, err := c.fetchToken(ctx, u, info, NormalizeScopes(scopes...), 0)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, jwtExpiry(tok), nil
}

// RefreshToken returns an ACR refresh token for the registry of u and its
// expiry: the one the client's Entra ID credential is exchanged for (cached
// and renewed as for requests), or the client's own refresh token. The
// registry's challenge must be known: send the registry a request first.
func (c *Client) RefreshToken(ctx context.Context, u *url.URL) (string, time.Time, error) {
	info, err := c.bearerChallenge(u)
	if err != nil {
		return "", time.Time{}, err
	}
	rc, err := c.resolve(ctx, u.Host)
	if err != nil {
		return "", time.Time{}, err
	}
	switch rc.kind {
	case kindEntraID:
		if err := c.requireSecure(u, rc, "the registry"); err != nil {
			return "", time.Time{}, err
		}
		service := info.service
		if service == "" {
			service = u.Host
		}
		rt, err := c.refreshToken(ctx, u, service, 0)
		if err != nil {
			return "", time.Time{}, err
		}
		return rt, jwtExpiry(rt), nil
	case kindRefreshToken:
		return rc.refreshToken, jwtExpiry(rc.refreshToken), nil
	}
	return "", time.Time{}, fmt.Errorf("%w: the client uses %s", ErrNoRefreshToken, rc.label())
}

// bearerChallenge returns the bearer challenge u's registry answered with,
// or ErrNoBearer.
func (c *Client) bearerChallenge(u *url.URL) (challengeInfo, error) {
	info, ok := c.challengeFor(origin(u))
	if !ok {
		return info, errNoChallenge
	}
	if info.scheme != "bearer" {
		return info, ErrNoBearer
	}
	return info, nil
}

// jwtExpiry is the exp claim of a JWT, or the zero time.
func jwtExpiry(tok string) time.Time {
	cl, ok := jwtClaims(tok)
	if !ok || cl.exp <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(cl.exp), 0)
}
