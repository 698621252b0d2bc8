package acr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Grant is what a registry's token service grants the client's credential
// on a repository, as [Client.Granted] finds it.
type Grant struct {
	// Known is false when the registry does not say before a request is
	// made: it is open or takes Basic credentials, or its tokens do not
	// list what they grant. It then decides request by request.
	Known bool
	// Actions are the token actions the registry's token lists for the
	// repository (those asked that it grants, and any others it lists):
	// "pull", "push", "delete", "metadata_read", "metadata_write"; "*"
	// grants every action.
	Actions []string
}

// Allows reports whether g grants action. It is false when g is not Known.
func (g Grant) Allows(action string) bool {
	return g.Known && (slices.Contains(g.Actions, action) || slices.Contains(g.Actions, "*"))
}

// Granted asks the registry which of actions the client's credential may
// perform on repo, without performing any: it reads the "access" claim of
// the token the registry's token service issues for them (ACR's tokens and
// those of the distribution token specification list what they grant).
// Use it to tell ahead of a change that it would be refused, as a dry-run
// purge does; the registry still decides each request. Actions are token
// actions: "pull", "push", "delete", "metadata_read", "metadata_write".
// A registry that has not challenged the client yet is sent GET /v2/ first
// to learn how it authenticates; one that answers it without a challenge
// is not asked again.
func (c *Client) Granted(ctx context.Context, repo string, actions ...string) (g Grant, err error) {
	ctx, endSpan := c.span(ctx, "Client.Granted")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return Grant{}, err
	}
	if len(actions) == 0 {
		return Grant{}, errors.New("acr: Granted needs at least one action, such as \"delete\"")
	}
	for _, a := range actions {
		if a == "" || strings.ContainsAny(a, ":, ") {
			return Grant{}, fmt.Errorf("acr: Granted: action %q: want a token action such as pull, push or delete", a)
		}
	}
	u, err := c.url("/v2/", nil)
	if err != nil {
		return Grant{}, err
	}
	if !c.tr.Challenged(u) {
		if c.open.Load() {
			return Grant{}, nil
		}
		if err := c.Ping(ctx); err != nil {
			return Grant{}, err
		}
		if !c.tr.Challenged(u) {
			c.open.Store(true)
			return Grant{}, nil
		}
	}
	granted, known, err := c.tr.Granted(ctx, u, scopeRepo(repo, strings.Join(actions, ",")))
	if err != nil {
		return Grant{}, err
	}
	return Grant{Known: known, Actions: granted}, nil
}
