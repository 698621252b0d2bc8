// Package transport is the client's HTTP doer chain, shared by every
// request the acr package makes:
//
//	user agent → logging → retry → auth (challenge, token exchange, per-scope cache) → http.Client
//
// A [Client] is built once per registry with [New] and is safe for
// concurrent use. [Client.Do] sends one request and returns the response the
// registry gave after authentication and retries; the caller closes its body.
//
// # Authentication
//
// The first attempt of a request carries a cached token for the request's
// origin and the scopes the caller named; when none is cached but the origin
// has challenged before, a token for those scopes is fetched up front, so most
// requests need no 401 round trip. A 401 is answered once: its
// WWW-Authenticate header (RFC 7235, parsed by [ParseChallenges]) names a
// Bearer realm, from which a token for the union of the challenge's and the
// caller's scopes is fetched, or asks for Basic credentials. The request is
// then sent again; a second 401 is returned as it is. Tokens are cached per
// (origin, sorted scope set) until 30 seconds before they expire, and at most
// one fetch per key is in flight. How a token is fetched depends on the
// [Credential]:
//
//   - anonymous: GET realm?service=&scope= without Authorization (the Docker
//     token protocol; ACR anonymous pull works the same way).
//   - Username and Password: the same GET with Basic credentials; a realm that
//     answers 404 or 405 gets the OAuth2 form POST grant_type=password.
//   - RefreshToken: POST realm grant_type=refresh_token (ACR's /oauth2/token).
//   - TokenCredential (Entra ID): an Entra ID token for Audience+"/.default"
//     is exchanged at POST {registry}/oauth2/exchange for an ACR refresh token,
//     cached per (registry, service) and exchanged again when less than five
//     minutes of it remain (read from its JWT "exp"), so long jobs never see
//     it expire; the refresh token then buys access tokens as above.
//   - Lookup: called per host (results kept for five minutes); its answer is
//     used as Username and Password, or as a refresh token when the user name
//     is 00000000-0000-0000-0000-000000000000, docker's convention.
//
// # Security rules
//
//   - Credentials (passwords, refresh tokens, Entra ID tokens, and access
//     tokens bought with them) are only sent over https, or over plain http to
//     a loopback host (127.0.0.0/8, ::1, localhost), unless
//     Options.AllowInsecure is set. Otherwise the request fails with an error
//     wrapping [ErrInsecure].
//   - Authorization is sent only to the origin (scheme, host and port) of the
//     request the caller made: on a redirect to any other origin it is removed,
//     and it is not restored later in that redirect chain. Redirects from https
//     to http are refused. A 401 from a redirect target is returned as it is:
//     credentials are never offered to an origin the caller did not address.
//     Token requests never follow a redirect to another origin, since their
//     bodies carry secrets.
//   - A realm must be an absolute http or https URL without user info. A realm
//     on another host than the registry must use https (docker hub's registry
//     uses auth.docker.io); a plain http realm is accepted only on the
//     registry's own host name, and never when the registry itself is served
//     over https. A realm may not point at a link-local, multicast or
//     unspecified IP address (cloud metadata endpoints), nor at a loopback
//     address unless the registry is loopback too.
//   - Upload Location headers are the caller's to check, with [SameOrigin].
//
// # Retries
//
// Responses 408, 429, 500, 502, 503 and 504, transient network errors and
// failed token requests with those statuses are retried up to
// Options.MaxRetries times (default 3) with exponential backoff and full
// jitter (200 ms base, 1 s for a 429; 10 s cap), or after the server's
// Retry-After (seconds or HTTP date, capped at 60 s). A retry never outlives the request's context. Only
// requests that can be sent again are retried: GET, HEAD, PUT, DELETE and
// OPTIONS, and POST, when their body is empty or can be rewound with
// Request.GetBody, and any other method whose body has GetBody. A transport
// error after part of a non-idempotent request's body was sent (a PATCH
// chunk cut mid-way) is returned rather than retried, since the server may
// hold part of it: the caller resumes from the server's state.
//
// # Logging
//
// With Options.Logger set, every HTTP exchange (registry, token and exchange
// requests) is logged at Debug level with its method, redacted URL (query
// values other than well-known harmless ones are replaced), status, attempt
// number, duration and request id. No token, password or Authorization header
// is ever logged or put in an error.
//
// # Tracing
//
// With Options.Tracer enabled, every HTTP exchange (each attempt, challenge
// answer and token request) is a span of kind client, "HTTP GET" and so on,
// the child of the span in the request's context, with the attributes of
// package trace: the redacted URL, server address and port, status, the
// client request id it sends in x-ms-client-request-id (only while
// tracing), the registry's request id and, for failures, error.type.
package transport
