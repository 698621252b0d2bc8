// Package token mints and verifies the emulator's ACR tokens and reasons about
// the scopes clients ask for.
//
// Azure Container Registry hands out two kinds of JWT (see "Authentication
// protocol" in docs/acr-rest-api.md): a refresh token from POST
// /oauth2/exchange, and an access token from /oauth2/token that lists the
// granted scopes. The emulator mints both with a [Signer], an HMAC-SHA256 key
// kept in memory ([NewSigner]) or in a file next to the registry's data
// ([LoadOrCreateSigner]).
//
// A tour in the order the HTTP layer needs it:
//
//   - [ParseScopes] reads the scope form field or query value
//     ("repository:library/hello:pull,push registry:catalog:*") into [Scope]
//     values; [Scope.String] formats one back for a WWW-Authenticate challenge.
//   - [Grant] intersects the requested scopes with what a subject may do and
//     yields the [Access] list of an access token.
//   - [Signer.Mint] encodes [Claims] as a compact HS256 JWT whose payload
//     segment decodes with both the URL and the standard base64 alphabets,
//     because the Go SDK and the Python SDK read the payload with the
//     standard alphabet.
//   - [Signer.Verify] checks a presented token strictly; its errors wrap
//     [ErrInvalidToken] and a more specific sentinel such as [ErrExpired],
//     and never contain the token.
//   - [Claims.Allows] answers whether a verified access token covers one
//     action on one resource.
//
// Everything here is safe for concurrent use.
package token
