package token

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Resource types that appear in ACR scopes.
const (
	// TypeRepository is the resource type of a repository scope, as in
	// "repository:library/hello:pull".
	TypeRepository = "repository"
	// TypeRegistry is the resource type of registry-wide scopes; ACR knows
	// only "registry:catalog:*".
	TypeRegistry = "registry"
)

// Actions that ACR grants on a repository; see "Scope grammar" in
// docs/acr-rest-api.md.
const (
	// ActionPull allows reading manifests, blobs and tag lists (GET and HEAD on /v2/).
	ActionPull = "pull"
	// ActionPush allows uploading blobs and putting manifests.
	ActionPush = "push"
	// ActionDelete allows deleting repositories, tags, manifests and blobs.
	ActionDelete = "delete"
	// ActionMetadataRead allows reading /acr/v1/ properties and listings.
	ActionMetadataRead = "metadata_read"
	// ActionMetadataWrite allows changing /acr/v1/ properties (PATCH).
	ActionMetadataWrite = "metadata_write"
	// ActionAll is the wildcard action: a granted "*" covers every action.
	ActionAll = "*"
)

// CatalogScope is the scope that listing the registry's repositories needs.
const CatalogScope = "registry:catalog:*"

// ErrInvalidScope reports a scope string that does not follow the grammar
// type:name:action[,action...]. Errors from [ParseScope] and [ParseScopes]
// wrap it.
var ErrInvalidScope = errors.New("token: invalid scope")

// Scope is one resource scope that a client requests, as carried by the scope
// form field, the scope query parameter and the WWW-Authenticate challenge:
// "repository:library/hello:pull,push".
//
// Name may itself contain colons (some clients prefix a host:port), so a
// scope's type ends at its first colon and its actions start after its last.
type Scope struct {
	// Type is the resource type, such as [TypeRepository] or [TypeRegistry].
	Type string
	// Name is the resource name: a repository name, "catalog", or "*".
	Name string
	// Actions lists the requested actions in the order given, such as
	// [ActionPull] and [ActionPush]. Unknown actions are kept; a grant
	// policy simply never allows them.
	Actions []string
}

// String formats s in the wire grammar type:name:action[,action...]. For a
// scope returned by [ParseScope] it returns the parsed text.
func (s Scope) String() string {
	return s.Type + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// ParseScope parses one scope of the form type:name:action[,action...].
//
// The type ends at the first colon and the actions start after the last one,
// so the name may contain colons. Type, name and every action must be
// non-empty printable ASCII without spaces, quotes or backslashes (which keeps
// [Scope.String] safe inside a quoted WWW-Authenticate parameter); actions
// may not contain commas. Errors wrap [ErrInvalidScope].
func ParseScope(s string) (Scope, error) {
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first < 0 || first == last {
		return Scope{}, scopeError(s, "want type:name:actions")
	}
	typ, name, actions := s[:first], s[first+1:last], s[last+1:]
	switch {
	case typ == "":
		return Scope{}, scopeError(s, "empty resource type")
	case !validScopeText(typ):
		return Scope{}, scopeError(s, "invalid character in resource type")
	case name == "":
		return Scope{}, scopeError(s, "empty resource name")
	case !validScopeText(name):
		return Scope{}, scopeError(s, "invalid character in resource name")
	case actions == "":
		return Scope{}, scopeError(s, "no actions")
	}
	list := strings.Split(actions, ",")
	for _, a := range list {
		if a == "" {
			return Scope{}, scopeError(s, "empty action")
		}
		if !validScopeText(a) {
			return Scope{}, scopeError(s, "invalid character in action")
		}
	}
	return Scope{Type: typ, Name: name, Actions: list}, nil
}

// ParseScopes parses a space-separated list of scopes, as in one value of the
// scope form field or challenge parameter; runs of white space count as one
// separator and an empty or blank string yields no scopes. A client may send
// several scope values: call ParseScopes for each. Errors wrap
// [ErrInvalidScope] and name the first offending scope.
func ParseScopes(s string) ([]Scope, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, nil
	}
	scopes := make([]Scope, 0, len(fields))
	for _, f := range fields {
		sc, err := ParseScope(f)
		if err != nil {
			return nil, err
		}
		scopes = append(scopes, sc)
	}
	return scopes, nil
}

// validScopeText reports whether t holds only printable ASCII other than
// space, double quote and backslash. Colons and commas are the caller's
// concern: the split already removed them where they are not allowed.
func validScopeText(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func scopeError(s, why string) error {
	// %.128q bounds the echo of client input in logs and responses.
	return fmt.Errorf("%w %.128q: %s", ErrInvalidScope, s, why)
}

// Access is one entry of an access token's "access" claim: the actions
// granted on one resource. It is the granted counterpart of a requested
// [Scope].
type Access struct {
	// Type is the resource type, such as [TypeRepository].
	Type string `json:"type"`
	// Name is the resource name; "*" grants the actions on every resource of
	// the type (acr-cli asks for "repository:*:*").
	Name string `json:"name"`
	// Actions lists the granted actions; [ActionAll] grants all of them.
	Actions []string `json:"actions"`
}

// Grant computes the access list of an access token: for every requested
// scope it keeps the requested actions that allowed reports for that scope,
// merging scopes that name the same resource (Docker sends
// "repository:x:pull" and "repository:x:push" as separate values) and
// dropping resources with nothing granted. The result keeps the order of
// first request.
//
// allowed returns the actions the subject holds on the scope's resource; an
// [ActionAll] in it allows every requested action. A requested [ActionAll]
// is granted as "*" when allowed holds "*", and otherwise expands to the
// actions allowed returns, so "repository:*:*" from a limited subject yields
// what that subject may do. Grant calls allowed once per requested scope.
func Grant(requested []Scope, allowed func(Scope) []string) []Access {
	var out []Access
	index := map[[2]string]int{}
	for _, sc := range requested {
		have := allowed(sc)
		var granted []string
		for _, a := range sc.Actions {
			switch {
			case slices.Contains(have, a) || slices.Contains(have, ActionAll):
				granted = appendUnique(granted, a)
			case a == ActionAll:
				for _, h := range have {
					granted = appendUnique(granted, h)
				}
			}
		}
		if len(granted) == 0 {
			continue
		}
		key := [2]string{sc.Type, sc.Name}
		i, ok := index[key]
		if !ok {
			index[key] = len(out)
			out = append(out, Access{Type: sc.Type, Name: sc.Name, Actions: granted})
			continue
		}
		for _, a := range granted {
			out[i].Actions = appendUnique(out[i].Actions, a)
		}
	}
	return out
}

func appendUnique(list []string, a string) []string {
	if slices.Contains(list, a) {
		return list
	}
	return append(list, a)
}
