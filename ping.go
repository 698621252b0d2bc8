package acr

import (
	"context"
	"net/http"
)

// Ping checks that the registry serves the OCI distribution API and accepts
// the client's credential, as `docker login` does: it sends GET /v2/ and
// answers the registry's challenge. Rejected credentials match
// ErrUnauthorized; a credential that is accepted but grants nothing still
// passes, since the API base needs no scope.
//
// OCI distribution spec: "Determining support".
func (c *Client) Ping(ctx context.Context) (err error) {
	ctx, endSpan := c.span(ctx, "Client.Ping")
	defer func() { endSpan(err) }()
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/v2/"})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
