package acr

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/acrgo/acr/internal/transport"
)

// Credential authenticates a [Client]. Create one with AnonymousCredential,
// BasicCredential, TokenCredential, RefreshTokenCredential or
// DockerConfigCredential. A nil Credential is anonymous.
//
// Whatever the kind, the client answers the registry's challenges itself:
// it exchanges the credential for access tokens scoped to each request,
// caches them per (host, scope) until they expire, and never sends them to
// another origin or, unless ClientOptions.AllowInsecure, over plain http to
// a host that is not loopback.
type Credential interface {
	transportCredential() transport.Credential
	kind() string
}

type credential struct {
	c    transport.Credential
	name string
}

func (c credential) transportCredential() transport.Credential { return c.c }
func (c credential) kind() string                              { return c.name }

// AnonymousCredential pulls without credentials, from registries that allow
// anonymous pull.
func AnonymousCredential() Credential { return credential{name: "anonymous"} }

// BasicCredential authenticates with a user name and password: ACR's admin
// user, a repository-scoped token, a service principal, or any registry's
// Docker token realm.
func BasicCredential(username, password string) Credential {
	return credential{c: transport.Credential{Username: username, Password: password}, name: "basic (" + username + ")"}
}

// TokenCredential authenticates with Microsoft Entra ID through any
// azcore.TokenCredential, such as azidentity.DefaultAzureCredential. The
// client exchanges the Entra ID token for an ACR refresh token
// (/oauth2/exchange), renews it before it expires, and exchanges it for
// scoped access tokens. Set ClientOptions.Audience for national clouds.
func TokenCredential(cred azcore.TokenCredential) Credential {
	return credential{c: transport.Credential{TokenCredential: cred}, name: "Entra ID"}
}

// RefreshTokenCredential authenticates with an ACR refresh token, such as
// one printed by `az acr login --expose-token`.
func RefreshTokenCredential(refreshToken string) Credential {
	return credential{c: transport.Credential{RefreshToken: refreshToken}, name: "ACR refresh token"}
}

func credentialKind(c Credential) string {
	if c == nil {
		return "anonymous"
	}
	return c.kind()
}
