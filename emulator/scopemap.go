package emulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/acrgo/acr/emulator/token"
	"github.com/acrgo/acr/internal/spec"
)

// scopeMapActions maps the actions of ACR's scope maps to the token actions
// they grant on a repository.
var scopeMapActions = map[string]string{
	"content/read":   token.ActionPull,
	"content/write":  token.ActionPush,
	"content/delete": token.ActionDelete,
	"metadata/read":  token.ActionMetadataRead,
	"metadata/write": token.ActionMetadataWrite,
}

// RepositoryPermission is one entry of a scope map: what a user may do in
// some repositories, as ACR's repository-scoped tokens are limited.
type RepositoryPermission struct {
	// Repository is a repository name, or a prefix ending in "*" (such as
	// "team/*"), as ACR's scope maps accept.
	Repository string
	// Actions are scope-map actions: content/read, content/write,
	// content/delete, metadata/read and metadata/write, which grant
	// the token actions pull, push, delete, metadata_read and
	// metadata_write. As on ACR, pushing needs content/write and
	// content/read.
	Actions []string
}

// scopeMap is a validated scope map: token actions per repository pattern.
type scopeMap []scopeEntry

type scopeEntry struct {
	prefix  bool // pattern ends in "*"
	name    string
	actions []string // token actions
}

// newScopeMap validates the permissions of user and translates their
// actions into token actions.
func newScopeMap(user string, perms []RepositoryPermission) (scopeMap, error) {
	if len(perms) == 0 {
		return nil, fmt.Errorf("emulator: the scope map of user %q is empty: give it at least one repository and action", user)
	}
	var m scopeMap
	for _, p := range perms {
		e, err := p.entry()
		if err != nil {
			return nil, fmt.Errorf("emulator: scope map of user %q: %w", user, err)
		}
		m = append(m, e)
	}
	return m, nil
}

// Validate reports what is wrong with p, if anything: a repository that is
// neither a name nor a prefix ending in "*", no actions, or an action that
// is not one of ACR's scope-map actions.
func (p RepositoryPermission) Validate() error {
	_, err := p.entry()
	return err
}

func (p RepositoryPermission) entry() (scopeEntry, error) {
	e := scopeEntry{name: p.Repository}
	if n, ok := strings.CutSuffix(p.Repository, "*"); ok {
		e.prefix, e.name = true, n
		if n != "" && spec.ValidateName(strings.TrimSuffix(n, "/")) != nil || strings.Contains(n, "*") {
			return e, fmt.Errorf("%q is not a repository prefix such as team/* (a '*' may only end it)", p.Repository)
		}
	} else if strings.Contains(p.Repository, "*") {
		return e, fmt.Errorf("%q: a '*' may only end a repository prefix, as in team/*", p.Repository)
	} else if err := spec.ValidateName(p.Repository); err != nil {
		return e, err
	}
	if len(p.Actions) == 0 {
		return e, fmt.Errorf("repository %q has no actions", p.Repository)
	}
	for _, a := range p.Actions {
		ta, ok := scopeMapActions[a]
		if !ok {
			return e, fmt.Errorf("unknown action %q: use content/read, content/write, content/delete, metadata/read or metadata/write", a)
		}
		if !slices.Contains(e.actions, ta) {
			e.actions = append(e.actions, ta)
		}
	}
	return e, nil
}

// actions returns the token actions the map grants on a repository.
func (m scopeMap) actions(repo string) []string {
	var out []string
	for _, e := range m {
		if e.name == repo || e.prefix && strings.HasPrefix(repo, e.name) {
			for _, a := range e.actions {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}
