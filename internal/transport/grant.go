package transport

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// Granted returns the actions the registry's token service grants the
// client's credential on the resource of scope ("repository:NAME:ACTIONS",
// as in a challenge): every action that the "access" claim of the token it
// issues for scope lists for that resource, asked or not. The token is the
// one requests for scope would carry, from the cache or fetched now. known
// is false when the registry does not say: u's origin has not asked this
// client for a bearer token (it is open, takes Basic credentials or has not
// challenged yet), or its token is not a JWT with an access claim. The
// claim is read, not verified: it tells what the registry will allow, and
// the registry still decides each request.
func (c *Client) Granted(ctx context.Context, u *url.URL, scope string) (actions []string, known bool, err error) {
	if n := NormalizeScopes(scope); len(n) == 1 {
		scope = n[0] // the form the token cache keys requests by
	}
	typ, rest, _ := strings.Cut(scope, ":")
	i := strings.LastIndexByte(rest, ':')
	if typ == "" || i < 0 {
		return nil, false, nil
	}
	name := rest[:i]
	org := origin(u)
	info, ok := c.challengeFor(org)
	if !ok || info.scheme != "bearer" {
		return nil, false, nil
	}
	info.scopes = nil // those of another request's challenge
	tok, err := c.bearerToken(ctx, u, org, info, []string{scope}, 1)
	if err != nil {
		return nil, false, err
	}
	payload, ok := jwtPayload(tok)
	if !ok {
		return nil, false, nil
	}
	var p struct {
		// ACR documents the keys capitalized (Type, Name, Actions) and
		// the distribution token spec in lower case; encoding/json
		// matches either.
		Access *[]struct {
			Type    string   `json:"type"`
			Name    string   `json:"name"`
			Actions []string `json:"actions"`
		} `json:"access"`
	}
	if json.Unmarshal(payload, &p) != nil || p.Access == nil {
		return nil, false, nil
	}
	for _, a := range *p.Access {
		if a.Type != typ || a.Name != name {
			continue
		}
		for _, act := range a.Actions {
			if !slices.Contains(actions, act) {
				actions = append(actions, act)
			}
		}
	}
	return actions, true, nil
}

// Challenged reports whether u's origin has told this client how it
// authenticates (by a challenge, Basic or Bearer).
func (c *Client) Challenged(u *url.URL) bool {
	_, ok := c.challengeFor(origin(u))
	return ok
}
