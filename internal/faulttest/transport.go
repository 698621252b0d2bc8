package faulttest

import (
	"net/http"
	"net/http/httptest"
)

// HandlerTransport serves requests in memory with a handler, so that a
// client and the registry can run in a synctest bubble, whose clock only
// moves when every goroutine waits.
type HandlerTransport struct {
	// Handler answers every request, whatever its host.
	Handler http.Handler
}

// RoundTrip serves req with the handler, as a server on 127.0.0.1 would
// see it.
func (ht HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sr := req.Clone(req.Context())
	sr.Host = req.URL.Host
	sr.RequestURI = req.URL.RequestURI()
	sr.RemoteAddr = "127.0.0.1:40000"
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	ht.Handler.ServeHTTP(rec, sr)
	if req.Body != nil {
		req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// HandlerClient returns an HTTP client whose requests h serves in memory.
func HandlerClient(h http.Handler) *http.Client {
	return &http.Client{Transport: HandlerTransport{Handler: h}}
}
