package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody bounds what is read of one answer: nothing the suite asks for is
// larger (blobs are small, listings hold no annotations).
const maxBody = 64 << 20

// counts tallies every request the suite sends through a client, by the
// class of its answer, and keeps the first few 5xx answers to report them.
type counts struct {
	requests, c2, c3, c4, c5, errs atomic.Int64

	mu       sync.Mutex
	examples []string // the first 5xx answers and transport errors, "METHOD PATH -> STATUS BODY"
}

func (c *counts) snapshot() [6]int64 {
	return [6]int64{c.requests.Load(), c.c2.Load(), c.c3.Load(), c.c4.Load(), c.c5.Load(), c.errs.Load()}
}

func (c *counts) example(s string) {
	c.mu.Lock()
	if len(c.examples) < 20 {
		c.examples = append(c.examples, s)
	}
	c.mu.Unlock()
}

// takeExamples returns the examples kept since the last call.
func (c *counts) takeExamples() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.examples
	c.examples = nil
	return e
}

// client sends requests to the registry under test, with one
// Authorization (Basic, or none) on every request.
type client struct {
	base   string // the registry's URL, without a trailing slash
	hc     *http.Client
	auth   string
	counts *counts
}

// newTransport is shared by every client of a run: 48 concurrent clients
// keep their connections alive instead of opening one per request.
func newTransport() *http.Transport {
	return &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

func basicAuth(userPass string) string {
	if userPass == "" {
		return ""
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

// withAuth returns a copy of c that sends auth ("" for none).
func (c *client) withAuth(auth string) *client {
	d := *c
	d.auth = auth
	return &d
}

// response is one answer, read whole (up to maxBody).
type response struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
	err          error
}

// req describes a request beyond method, path and body.
type req struct {
	hdr     []string // name, value pairs
	host    string   // overrides the Host header
	chunked bool     // send the body without Content-Length
}

func (c *client) do(ctx context.Context, method, path string, body []byte, hdr ...string) response {
	return c.send(ctx, method, path, body, req{hdr: hdr})
}

func (c *client) send(ctx context.Context, method, path string, body []byte, o req) response {
	r := response{method: method, path: path}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
		if o.chunked {
			rd = io.MultiReader(rd) // hides the length from net/http
		}
	}
	url := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		url = c.base + path
	}
	hr, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		r.err = err
		return r
	}
	if o.chunked {
		hr.ContentLength = -1
	}
	if o.host != "" {
		hr.Host = o.host
	}
	if c.auth != "" {
		hr.Header.Set("Authorization", c.auth)
	}
	for i := 0; i+1 < len(o.hdr); i += 2 {
		hr.Header.Set(o.hdr[i], o.hdr[i+1])
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		r.err = err
		c.tally(r)
		return r
	}
	r.status, r.header = resp.StatusCode, resp.Header
	r.body, r.err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	c.tally(r)
	return r
}

// tally counts one request by its answer.
func (c *client) tally(r response) {
	c.counts.requests.Add(1)
	if r.status == 0 {
		c.counts.errs.Add(1)
		c.counts.example(fmt.Sprintf("%s %s -> %v", r.method, short(r.path), r.err))
		return
	}
	switch {
	case r.status >= 500:
		c.counts.c5.Add(1)
		c.counts.example(fmt.Sprintf("%s %s -> %d %s", r.method, short(r.path), r.status, short(string(r.body))))
	case r.status >= 400:
		c.counts.c4.Add(1)
	case r.status >= 300:
		c.counts.c3.Add(1)
	default:
		c.counts.c2.Add(1)
	}
}

// raw sends head (a request line and headers, without the blank line that
// ends them; Host and Authorization are added) and body over a new
// connection, bypassing net/http's checks, then half-closes the connection
// so that a server waiting for more body sees its end, and reads the
// answer.
func (c *client) raw(ctx context.Context, head string, body []byte) response {
	method, rest, _ := strings.Cut(head, " ")
	path, _, _ := strings.Cut(rest, " ")
	r := response{method: method, path: path}
	u, err := url.Parse(c.base)
	if err != nil || u.Scheme != "http" {
		r.err = fmt.Errorf("raw requests need an http:// registry URL, not %q", c.base)
		c.tally(r)
		return r
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		r.err = err
		c.tally(r)
		return r
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("\r\nHost: " + u.Host + "\r\n")
	if c.auth != "" {
		b.WriteString("Authorization: " + c.auth + "\r\n")
	}
	b.WriteString("\r\n")
	// Write errors are expected when the server answers early and closes:
	// the answer is what counts.
	if _, err := io.WriteString(conn, b.String()); err == nil && len(body) > 0 {
		conn.Write(body)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		r.err = fmt.Errorf("no answer: %w", err)
		c.tally(r)
		return r
	}
	r.status, r.header = resp.StatusCode, resp.Header
	r.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	c.tally(r)
	return r
}

// String describes the answer for a FAIL line.
func (r response) String() string {
	if r.err != nil && r.status == 0 {
		return fmt.Sprintf("%s %s: %v", r.method, short(r.path), r.err)
	}
	return fmt.Sprintf("%s %s -> %d %s %q", r.method, short(r.path), r.status, r.header.Get("Content-Type"), short(string(r.body)))
}

// ociError is the body of a registry refusal.
type ociError struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

// errorCode returns the first error code of an OCI error body, and whether
// the body is one: JSON with a non-empty errors array whose first entry has
// a code.
func (r response) errorCode() (string, bool) {
	var e ociError
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Code == "" {
		return "", false
	}
	return e.Errors[0].Code, true
}

// short keeps FAIL lines readable when paths and bodies are 20,000
// characters long.
func short(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= 160 {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)…%s", s[:120], len(s), s[len(s)-24:])
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// nextLink returns the target of a Link: <...>; rel="next" header, or "".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if !strings.Contains(part, `rel="next"`) {
				continue
			}
			if i, j := strings.Index(part, "<"), strings.Index(part, ">"); i >= 0 && j > i {
				return part[i+1 : j]
			}
		}
	}
	return ""
}
