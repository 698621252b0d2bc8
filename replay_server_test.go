package acr_test

// The replay test's recorded server: loading testdata/acr-recordings,
// matching requests to recorded exchanges, answering them. See
// replay_test.go for the rules.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
)

const replayDir = "testdata/acr-recordings"

// replayExchange is one line of exchanges.jsonl, with what the loader
// derives from its file.
type replayExchange struct {
	SDK         string                     `json:"sdk"`
	File        string                     `json:"file"`
	Index       int                        `json:"index"`
	Method      string                     `json:"method"`
	Path        string                     `json:"path"`
	ReqHeaders  map[string]json.RawMessage `json:"req_headers"`
	ReqBody     json.RawMessage            `json:"req_body"`
	Status      int                        `json:"status"`
	RespHeaders map[string]json.RawMessage `json:"resp_headers"`
	RespBody    json.RawMessage            `json:"resp_body"`

	id        int             // line number in exchanges.jsonl, from 0
	base      string          // the file's base name
	kind      string          // "exchange", "token" or "registry"
	authed    bool            // the recorded request carried a token
	provToken *replayExchange // authed registry requests: the last token request before, in the file
	provScope string          // its normalised scopes
	form      url.Values      // token and exchange requests: the form sent
	scope     string          // token requests: the normalised scopes asked
}

type replayRecordings struct {
	all    []*replayExchange
	byFile map[string][]*replayExchange
	raw    map[string][]byte // bodies by digest, from raw-bodies.json
}

func (e *replayExchange) String() string {
	return fmt.Sprintf("#%d (%s entry %d: %s %s -> %d)", e.id, e.base, e.Index, e.Method, e.Path, e.Status)
}

// replayValues returns the values of a recorded header (a string or a list).
func replayValues(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	json.Unmarshal(raw, &many)
	return many
}

func (e *replayExchange) respHeader(name string) string {
	if v := replayValues(e.RespHeaders[strings.ToLower(name)]); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (e *replayExchange) reqHeader(name string) []string {
	for k, v := range e.ReqHeaders {
		if strings.EqualFold(k, name) {
			return replayValues(v)
		}
	}
	return nil
}

// replayBody is a recorded body: JSON (parsed), {"text"}, or
// {"length","sha256"}.
type replayBody struct {
	null   bool
	text   *string
	length int
	sha256 string
	json   json.RawMessage
}

func replayParseBody(raw json.RawMessage) replayBody {
	if len(raw) == 0 || string(raw) == "null" {
		return replayBody{null: true}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil && (m["text"] != nil || m["length"] != nil) {
		extra := false
		for k := range m {
			extra = extra || !slices.Contains([]string{"text", "length", "recorded_as", "sha256"}, k)
		}
		if !extra {
			var b struct {
				Text   *string `json:"text"`
				Length int     `json:"length"`
				SHA256 string  `json:"sha256"`
			}
			json.Unmarshal(raw, &b)
			return replayBody{text: b.Text, length: b.Length, sha256: b.SHA256}
		}
	}
	return replayBody{json: raw}
}

func loadReplayRecordings(t *testing.T) *replayRecordings {
	t.Helper()
	f, err := os.Open(filepath.Join(replayDir, "exchanges.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := &replayRecordings{byFile: map[string][]*replayExchange{}, raw: map[string][]byte{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e := &replayExchange{id: len(rec.all)}
		if err := json.Unmarshal(sc.Bytes(), e); err != nil {
			t.Fatalf("exchanges.jsonl line %d: %v", e.id+1, err)
		}
		e.base = filepath.Base(e.File)
		switch strings.SplitN(e.Path, "?", 2)[0] {
		case "/oauth2/exchange":
			e.kind = "exchange"
		case "/oauth2/token":
			e.kind = "token"
		default:
			e.kind = "registry"
		}
		if e.kind != "registry" {
			b := replayParseBody(e.ReqBody)
			if b.text == nil {
				t.Fatalf("%v: the token request has no form body", e)
			}
			if e.form, err = url.ParseQuery(*b.text); err != nil {
				t.Fatalf("%v: %v", e, err)
			}
			e.scope = replayScopes(e.form["scope"]...)
		}
		rec.all = append(rec.all, e)
		rec.byFile[e.base] = append(rec.byFile[e.base], e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, file := range rec.byFile {
		var last *replayExchange // the last token request so far
		for i, e := range file {
			if e.kind == "token" {
				last = e
			}
			if e.kind != "registry" {
				continue
			}
			// The Python recorder removed Authorization from requests; the
			// Python SDK sends a token only right after fetching one.
			e.authed = e.reqHeader("Authorization") != nil ||
				e.SDK == "python" && i > 0 && file[i-1].kind == "token"
			if e.authed && last != nil {
				e.provToken, e.provScope = last, last.scope
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(replayDir, "raw-bodies.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]struct{ Base64 string }
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for d, v := range raw {
		data, err := base64.StdEncoding.DecodeString(v.Base64)
		if err != nil || replayDigest(data) != d {
			t.Fatalf("raw-bodies.json: %s does not decode to its digest (%v)", d, err)
		}
		rec.raw[d] = data
	}
	return rec
}

func replayDigest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// replayScopes normalises token scopes: resources sorted, each with its
// set of actions sorted and joined by commas, space-separated.
func replayScopes(lists ...string) string {
	acts := map[string]map[string]bool{}
	for _, l := range lists {
		for _, s := range strings.Fields(l) {
			res, actions := s, ""
			if i := strings.LastIndexByte(s, ':'); i > strings.IndexByte(s, ':') {
				res, actions = s[:i], s[i+1:]
			}
			if acts[res] == nil {
				acts[res] = map[string]bool{}
			}
			for _, a := range strings.Split(actions, ",") {
				if a != "" {
					acts[res][a] = true
				}
			}
		}
	}
	var out []string
	for res, as := range acts {
		names := make([]string, 0, len(as))
		for a := range as {
			names = append(names, a)
		}
		slices.Sort(names)
		out = append(out, res+":"+strings.Join(names, ","))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// replayCovers reports whether the scopes have grant every action of want.
func replayCovers(have, want string) bool {
	granted := map[string]bool{}
	for _, s := range strings.Fields(have) {
		i := strings.LastIndexByte(s, ':')
		for _, a := range strings.Split(s[i+1:], ",") {
			granted[s[:i]+" "+a] = true
		}
	}
	for _, s := range strings.Fields(want) {
		i := strings.LastIndexByte(s, ':')
		for _, a := range strings.Split(s[i+1:], ",") {
			if !granted[s[:i]+" "+a] {
				return false
			}
		}
	}
	return true
}

// replayChallenged returns the normalised scope of a recorded 401 whose
// challenge says error="insufficient_scope", else "".
func replayChallenged(e *replayExchange) string {
	ch := e.respHeader("WWW-Authenticate")
	if e.Status != http.StatusUnauthorized || !strings.Contains(ch, `error="insufficient_scope"`) {
		return ""
	}
	if m := replayChallengeScope.FindStringSubmatch(ch); m != nil {
		return replayScopes(m[1])
	}
	return ""
}

var replayChallengeScope = regexp.MustCompile(`scope="([^"]*)"`)

// replayResponseBody rebuilds a recorded response body. JSON bodies were
// stored parsed: the bytes are the compact form with the newline ACR's
// encoder adds, or without it, or indented by three spaces (docker's
// manifests), whichever has the recorded Content-Length and, where the
// response names one, the recorded digest.
func replayResponseBody(e *replayExchange) ([]byte, error) {
	b := replayParseBody(e.RespBody)
	switch {
	case b.null:
		return nil, nil
	case b.text != nil:
		return []byte(*b.text), nil
	case b.json == nil:
		return nil, fmt.Errorf("%v: the body was recorded as %d bytes without content", e, b.length)
	}
	var compact, indented bytes.Buffer
	if err := json.Compact(&compact, b.json); err != nil {
		return nil, err
	}
	json.Indent(&indented, compact.Bytes(), "", "   ")
	cl, digest := e.respHeader("Content-Length"), e.respHeader("Docker-Content-Digest")
	if cl == "" && e.respHeader("Transfer-Encoding") == "chunked" {
		return compact.Bytes(), nil
	}
	for _, c := range [][]byte{append(slices.Clone(compact.Bytes()), '\n'), compact.Bytes(), indented.Bytes()} {
		if strconv.Itoa(len(c)) == cl && (digest == "" || replayDigest(c) == digest) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%v: no serialisation of the JSON body has Content-Length %s and digest %q", e, cl, digest)
}

// replayItems counts the items of a listing's page.
func replayItems(e *replayExchange) int {
	var page map[string]json.RawMessage
	json.Unmarshal(e.RespBody, &page)
	for _, k := range []string{"repositories", "tags", "manifests"} {
		var items []json.RawMessage
		if json.Unmarshal(page[k], &items) == nil && items != nil {
			return len(items)
		}
	}
	return 0
}

// replayServer is one case's registry and storage origin.
type replayServer struct {
	c        *replayCase
	rec      *replayRecordings
	reg, sto *httptest.Server

	mu       sync.Mutex
	used     map[int]bool            // served as recorded
	tokens   map[string]replayMinted // access token served -> how it was minted
	served   []*replayExchange       // token exchanges in the order served
	refresh  map[string]bool         // refresh tokens served
	probes   int
	canceled bool
	log      []string
	errs     []string
	storage  []http.Header // headers of the requests to storage
}

var (
	replayRegistryHost = regexp.MustCompile(`https://[A-Za-z0-9_.-]+\.azurecr\.io`)
	replayStorageHost  = regexp.MustCompile(`https://[A-Za-z0-9_.-]+\.blob\.core\.windows\.net`)
)

// replayLoginServer is the host by which the clients of a case with
// loginServer name the registry: an ACR login server, as the recordings'
// hosts are, so that they take it for ACR as they would the real one
// (without a probe of /acr/v1, and knowing that it serves the referrers
// API).
const replayLoginServer = "replay.azurecr.io"

// endpoint is the registry's URL as the case's clients name it: the
// registry server's, or, for a case with loginServer, replayLoginServer at
// its port, which the clients' dialer reaches.
func (s *replayServer) endpoint() string {
	if !s.c.loginServer {
		return s.reg.URL
	}
	return "https://" + replayLoginServer + ":" + s.reg.URL[strings.LastIndex(s.reg.URL, ":")+1:]
}

func (s *replayServer) rewrite(v string) string {
	v = replayRegistryHost.ReplaceAllLiteralString(v, s.endpoint())
	return replayStorageHost.ReplaceAllLiteralString(v, s.sto.URL)
}

// replayMinted is an access token the server handed out: for token
// exchange e, asked for the normalised scopes asked (which cover e's).
type replayMinted struct {
	e     *replayExchange
	asked string
}

// replayToken is the access token the server hands out for token exchange
// e; served again, it gets another token each time, as ACR mints a new one
// for every request.
func replayToken(e *replayExchange) string { return "replay-token-" + strconv.Itoa(e.id) }

// lacks reports whether access token m surely lacks scope c (normalised):
// it was not asked for c (ACR grants no action it was not asked for: the
// Go SDK's pull,push token was refused delete, TestBlobClient_StartUpload
// entry 4, though its identity could delete, entry 6), or its identity
// lacks c (the recording holds an insufficient_scope refusal for c of a
// request that carried e's token, which was asked for c: ACR refused
// what it was asked for, as for the anonymous metadata_write token,
// Test_authenticationPolicy_anonymousAccess entries 4 and 5).
func (s *replayServer) lacks(m replayMinted, c string) bool {
	if !replayCovers(m.asked, c) {
		return true
	}
	if !replayCovers(m.e.scope, c) {
		return false
	}
	for _, x := range s.rec.byFile[m.e.base] {
		if x.provToken == m.e && replayChallenged(x) == c {
			return true
		}
	}
	return false
}

func (s *replayServer) fail(format string, args ...any) {
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func (s *replayServer) serveRegistry(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	what := r.Method + " " + r.URL.RequestURI()
	probe := r.Method == http.MethodGet && r.URL.Path == "/acr/v1/_catalog" && r.URL.RawQuery == "n=1"
	if s.c.probe == replayProbeAbsent {
		// Whatever /acr/v1 call comes first stands in for the probe.
		probe = strings.HasPrefix(r.URL.Path, "/acr/v1/")
	}
	if probe && r.Header.Get("Authorization") == "" && s.probes < max(1, s.c.clients) && (s.c.probe == replayProbeSynth || s.c.probe == replayProbeAbsent) {
		s.probes++
		if s.c.probe == replayProbeAbsent {
			s.log = append(s.log, "probe404")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "404 page not found\n")
			return
		}
		s.log = append(s.log, "probe")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"repositories":[]}`+"\n")
		return
	}
	candidates := slices.Clone(s.rec.byFile[s.c.file])
	for _, id := range s.c.borrow {
		candidates = append(candidates, s.rec.all[id])
	}
	var why []string
	for _, e := range candidates {
		if s.used[e.id] {
			continue
		}
		if reason := s.match(r, body, e, replayExact); reason != "" {
			if e.Method == r.Method && e.kind == replayKind(r) {
				why = append(why, fmt.Sprintf("%v: %s", e, reason))
			}
			continue
		}
		s.used[e.id] = true
		label := strconv.Itoa(e.id)
		if e.base != s.c.file {
			label += "b"
		}
		s.log = append(s.log, label)
		s.respond(w, r, body, e)
		return
	}
	// Repeats: tokens whose scopes cover the request, and listed GETs.
	if replayKind(r) == "token" {
		for _, e := range s.served {
			if s.match(r, body, e, replayRepeat) == "" {
				s.log = append(s.log, strconv.Itoa(e.id)+"r")
				s.respond(w, r, body, e)
				return
			}
		}
	}
	for _, id := range s.c.repeat {
		if e := s.rec.all[id]; s.used[id] && s.match(r, body, e, replayRepeat) == "" {
			s.log = append(s.log, strconv.Itoa(id)+"r")
			s.respond(w, r, body, e)
			return
		}
	}
	if s.c.cancel != 0 && !s.canceled && r.Method == http.MethodDelete && s.minted(r.Header.Get("Authorization")) {
		loc, _ := url.Parse(s.rec.all[s.c.cancel].respHeader("Location"))
		if loc != nil && replaySamePath(r.URL.EscapedPath(), loc.EscapedPath()) && replaySameQuery(r.URL.Query(), loc.Query()) {
			s.canceled = true
			s.log = append(s.log, "cancel")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "replay: not recorded\n")
			return
		}
	}
	s.log = append(s.log, "UNEXPECTED")
	s.fail("unexpected request %s (Authorization %q) with %d body bytes; candidates:\n\t%s", what,
		r.Header.Get("Authorization"), len(body), strings.Join(why, "\n\t"))
	http.Error(w, "replay: the recording has no such request", http.StatusBadRequest)
}

func replayKind(r *http.Request) string {
	switch r.URL.Path {
	case "/oauth2/exchange":
		return "exchange"
	case "/oauth2/token":
		return "token"
	}
	return "registry"
}

func replaySamePath(a, b string) bool {
	sa, sb := strings.Split(a, "/"), strings.Split(b, "/")
	if len(sa) != len(sb) {
		return false
	}
	for i := range sa {
		ua, err1 := url.PathUnescape(sa[i])
		ub, err2 := url.PathUnescape(sb[i])
		if err1 != nil || err2 != nil || ua != ub {
			return false
		}
	}
	return true
}

func replaySameQuery(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !slices.Equal(slices.Sorted(slices.Values(va)), slices.Sorted(slices.Values(vb))) {
			return false
		}
	}
	return true
}

// How match compares a request with an exchange.
const (
	replayExact  = iota
	replayRepeat // e was served already: a token request needs scopes that e's token covers; a challenge matches any query
)

// match returns "" when request r, with body, may be served exchange e,
// else why not.
func (s *replayServer) match(r *http.Request, body []byte, e *replayExchange, mode int) string {
	kind := replayKind(r)
	if kind != e.kind {
		return "another endpoint"
	}
	recPath, recQuery, _ := strings.Cut(e.Path, "?")
	if !replaySamePath(r.URL.EscapedPath(), recPath) {
		return "another path"
	}
	rq, _ := url.ParseQuery(recQuery)
	cq := r.URL.Query()
	anonGet := kind == "token" && r.Method == http.MethodGet && e.Method == http.MethodPost && e.form.Get("grant_type") == "password"
	if r.Method != e.Method && !anonGet {
		return "another method"
	}
	if _, ok := cq["api-version"]; !ok {
		delete(rq, "api-version")
	}
	if anonGet {
		cq = url.Values{}
	}
	if n, err := strconv.Atoi(cq.Get("n")); err == nil && rq["n"] == nil && e.respHeader("Link") == "" && replayItems(e) <= n {
		delete(cq, "n")
	}
	challenge := e.Status == http.StatusUnauthorized && !e.authed
	if !replaySameQuery(cq, rq) && !(mode == replayRepeat && challenge) {
		return fmt.Sprintf("query %q, recorded %q", r.URL.RawQuery, recQuery)
	}
	switch kind {
	case "exchange":
		return s.matchExchange(r, body, e)
	case "token":
		return s.matchToken(r, body, e, mode == replayRepeat)
	}
	authz := r.Header.Get("Authorization")
	switch {
	case authz == "" && e.authed:
		return "recorded with a token, sent without"
	case authz != "" && !e.authed:
		return "recorded without a token, sent with one"
	case authz != "":
		tok, ok := strings.CutPrefix(authz, "Bearer ")
		m, minted := s.tokens[tok]
		if !ok || !minted {
			return "sent with a token the server never issued"
		}
		if c := replayChallenged(e); c != "" {
			// A refusal for lacking c answers any token that lacks c.
			if !s.lacks(m, c) {
				return fmt.Sprintf("sent with a token asked for %q, which may hold %q; recorded refused for lacking it", m.asked, c)
			}
		} else if m.e.scope != e.provScope || m.asked == "" && recPath != "/v2/" {
			// The /v2/ token rule: a token asked without scope stands for
			// the recorded catalog token at /v2/ only.
			return fmt.Sprintf("sent with a token for %q (asked %q), recorded with one for %q", m.e.scope, m.asked, e.provScope)
		}
	}
	if rec := strings.Join(e.reqHeader("Content-Type"), ","); rec != "" {
		want, _, _ := mime.ParseMediaType(rec)
		got, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if got != want {
			return fmt.Sprintf("Content-Type %q, recorded %q", r.Header.Get("Content-Type"), rec)
		}
	}
	if got, rec := r.Header.Get("Content-Range"), strings.Join(e.reqHeader("Content-Range"), ","); got != rec &&
		!(rec == "" && got == fmt.Sprintf("0-%d", len(body)-1) && e.respHeader("Range") == got) {
		return fmt.Sprintf("Content-Range %q, recorded %q", got, rec)
	}
	if got, rec := r.Header.Get("Range"), strings.Join(e.reqHeader("Range"), ","); got != rec && !challenge &&
		!(r.Method == http.MethodHead && got == "" && e.Status == http.StatusOK && e.respHeader("Content-Range") == "") &&
		!replaySameRange(got, rec, e.respHeader("Content-Range")) {
		return fmt.Sprintf("Range %q, recorded %q", got, rec)
	}
	if ct := e.respHeader("Content-Type"); e.Status/100 == 2 && r.Method == http.MethodGet && strings.Contains(recPath, "/manifests/") {
		mt, _, _ := mime.ParseMediaType(ct)
		var accepted []string
		for _, a := range strings.Split(strings.Join(r.Header.Values("Accept"), ","), ",") {
			t, _, _ := mime.ParseMediaType(strings.TrimSpace(a))
			accepted = append(accepted, t)
		}
		if !slices.Contains(accepted, mt) {
			return fmt.Sprintf("Accept %q does not take the recorded %s", r.Header.Values("Accept"), mt)
		}
	}
	rb := replayParseBody(e.ReqBody)
	switch {
	case rb.null && challenge:
		// The Go SDK sends its first attempt without the body; ACR
		// challenges before reading one.
	case rb.null:
		if len(body) > 0 {
			return fmt.Sprintf("a %d-byte body, recorded none", len(body))
		}
	case rb.text != nil:
		if string(body) != *rb.text {
			return fmt.Sprintf("a %d-byte body (%s) that differs from the recorded one", len(body), replayDigest(body))
		}
	case rb.json == nil:
		if len(body) != rb.length || replayDigest(body) != rb.sha256 {
			return fmt.Sprintf("a %d-byte body %s, recorded %d bytes %s", len(body), replayDigest(body), rb.length, rb.sha256)
		}
	default:
		var got, want any
		if json.Unmarshal(body, &got) != nil || json.Unmarshal(rb.json, &want) != nil || !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("JSON body %s, recorded %s", body, rb.json)
		}
	}
	return ""
}

// replaySameRange compares byte ranges after cutting their ends to the
// blob's size, which the recorded Content-Range (bytes a-b/size) tells.
func replaySameRange(got, rec, contentRange string) bool {
	var size int64
	if _, err := fmt.Sscanf(contentRange[strings.IndexByte(contentRange, '/')+1:], "%d", &size); err != nil || size <= 0 {
		return false
	}
	norm := func(r string) string {
		var a, b int64
		if _, err := fmt.Sscanf(r, "bytes=%d-%d", &a, &b); err != nil {
			return "?" + r
		}
		return fmt.Sprintf("%d-%d", a, min(b, size-1))
	}
	return got != "" && rec != "" && norm(got) == norm(rec)
}

func (s *replayServer) matchExchange(r *http.Request, body []byte, e *replayExchange) string {
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("Authorization") != "" {
		return "not a form, or sent with Authorization"
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return err.Error()
	}
	for k := range form {
		if e.form[k] == nil {
			return "sent field " + k + ", recorded without"
		}
	}
	switch {
	case form.Get("grant_type") != e.form.Get("grant_type"):
		return "grant_type " + form.Get("grant_type")
	case form.Get("service") != e.form.Get("service"):
		return "service " + form.Get("service") + ", recorded " + e.form.Get("service")
	case form.Get("access_token") != s.c.aad:
		return "an access_token that is not the Entra ID token"
	case form.Get("tenant") != e.form.Get("tenant"):
		return "tenant " + form.Get("tenant") + ", recorded " + e.form.Get("tenant")
	}
	return ""
}

func (s *replayServer) matchToken(r *http.Request, body []byte, e *replayExchange, loose bool) string {
	var form url.Values
	grant := e.form.Get("grant_type")
	if r.Method == http.MethodGet {
		form = r.URL.Query()
		if grant != "password" || r.Header.Get("Authorization") != "" {
			return "an authenticated GET, recorded " + grant
		}
		for k := range form {
			if k != "service" && k != "scope" {
				return "sent field " + k
			}
		}
	} else {
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("Authorization") != "" {
			return "not a form, or sent with Authorization"
		}
		var err error
		if form, err = url.ParseQuery(string(body)); err != nil {
			return err.Error()
		}
		for k := range form {
			if e.form[k] == nil && k != "client_id" {
				return "sent field " + k + ", recorded without"
			}
		}
		if form.Get("grant_type") != grant {
			return "grant_type " + form.Get("grant_type") + ", recorded " + grant
		}
		if rt := form.Get("refresh_token"); grant == "refresh_token" && !s.refresh[rt] {
			return "a refresh token the case did not hand out"
		} else if grant == "password" && rt != "" {
			return "a refresh token with grant_type=password"
		}
	}
	if form.Get("service") != e.form.Get("service") {
		return "service " + form.Get("service") + ", recorded " + e.form.Get("service")
	}
	scope := replayScopes(form["scope"]...)
	switch {
	case loose && replayCovers(e.scope, scope):
	case !loose && (replayCovers(scope, e.scope) || scope == "" && e.scope == "registry:catalog:*"):
	default:
		return fmt.Sprintf("scope %q, recorded %q", scope, e.scope)
	}
	return ""
}

// minted reports whether authz is empty or carries a token the server
// handed out.
func (s *replayServer) minted(authz string) bool {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	_, minted := s.tokens[tok]
	return authz == "" || ok && minted
}

// replayAsked returns the normalised scopes a token request (r, with its
// body) asks for.
func replayAsked(r *http.Request, body []byte) string {
	if r.Method == http.MethodGet {
		return replayScopes(r.URL.Query()["scope"]...)
	}
	form, _ := url.ParseQuery(string(body))
	return replayScopes(form["scope"]...)
}

// respond writes exchange e's recorded response to request r (with its
// body), with hosts rewritten and access tokens made unique.
func (s *replayServer) respond(w http.ResponseWriter, r *http.Request, reqBody []byte, e *replayExchange) {
	body, err := replayResponseBody(e)
	if err != nil {
		s.fail("%v", err)
	}
	if cl := e.respHeader("Content-Length"); cl != "" && body != nil && cl != strconv.Itoa(len(body)) &&
		!(e.base == "CanGetBlobLocation.json" && e.Index == 12) { // the recorder replaced the SAS sig in this body
		s.fail("%v: the body has %d bytes, the recorded Content-Length says %s", e, len(body), cl)
	}
	if e.kind == "token" && e.Status == http.StatusOK {
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil || doc["access_token"] == nil {
			s.fail("%v: the token response has no access_token", e)
			doc = map[string]any{}
		}
		tok := replayToken(e)
		if slices.Contains(s.served, e) {
			tok += "." + strconv.Itoa(len(s.tokens))
		} else {
			s.served = append(s.served, e)
		}
		asked := replayAsked(r, reqBody)
		doc["access_token"] = tok
		body, _ = json.Marshal(doc)
		s.tokens[tok] = replayMinted{e: e, asked: asked}
	}
	if e.kind == "exchange" && e.Status == http.StatusOK {
		var doc struct {
			RefreshToken string `json:"refresh_token"`
		}
		json.Unmarshal(body, &doc)
		s.refresh[doc.RefreshToken] = true
	}
	if replayParseBody(e.RespBody).text != nil {
		body = []byte(s.rewrite(string(body)))
	}
	h := w.Header()
	for k, raw := range e.RespHeaders {
		switch k {
		case "content-length", "transfer-encoding", "connection":
			continue
		}
		for _, v := range replayValues(raw) {
			h.Add(k, s.rewrite(v))
		}
	}
	chunked := e.respHeader("Transfer-Encoding") == "chunked"
	if cl := e.respHeader("Content-Length"); r.Method == http.MethodHead && cl != "" {
		h.Set("Content-Length", cl)
	} else if !chunked && e.Status != http.StatusNoContent {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(e.Status)
	if chunked {
		w.(http.Flusher).Flush()
	}
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// serveStorage answers the blob download that the registry's 307 sends to
// storage. ACR's recordings hold the 307 but not storage's answer (the .NET
// test only read the Location), so the body is the blob itself, recovered
// from the recorded upload (raw-bodies.json), with storage's headers as
// the Go recordings show them.
func (s *replayServer) serveStorage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, "storage")
	s.storage = append(s.storage, r.Header.Clone())
	var loc *url.URL
	for _, e := range s.rec.byFile[s.c.file] {
		if e.Status == http.StatusTemporaryRedirect && s.used[e.id] {
			loc, _ = url.Parse(s.rewrite(e.respHeader("Location")))
			data := s.rec.raw[e.respHeader("Docker-Content-Digest")]
			if r.Method == http.MethodGet && loc != nil && r.URL.RequestURI() == loc.RequestURI() && data != nil {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("Accept-Ranges", "bytes")
				w.Header().Set("X-Ms-Blob-Type", "AppendBlob")
				w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				w.Write(data)
				return
			}
		}
	}
	s.fail("unexpected storage request %s %s", r.Method, r.URL.RequestURI())
	http.Error(w, "replay: no redirect led here", http.StatusBadRequest)
}

// replayEntra is an azcore.TokenCredential that hands out a fixed token,
// like the recorders' sanitised ones.
type replayEntra struct{ token string }

func (f replayEntra) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if !slices.Equal(opts.Scopes, []string{acr.AudienceAzurePublic + "/.default"}) {
		return azcore.AccessToken{}, fmt.Errorf("replayEntra: unexpected scopes %v", opts.Scopes)
	}
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// replayEnv is what a case's run function works with.
type replayEnv struct {
	t   *testing.T
	ctx context.Context
	srv *replayServer
}

// client creates a client of the case's registry; it never retries, so
// that every request is one the case accounts for.
func (e *replayEnv) client(cred acr.Credential, o *acr.ClientOptions) *acr.Client {
	e.t.Helper()
	var opts acr.ClientOptions
	if o != nil {
		opts = *o
	}
	tr := e.srv.reg.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com" // in httptest's certificate, which the storage server has too
	regAddr := e.srv.reg.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, replayLoginServer+":") {
			addr = regAddr
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	opts.HTTPClient, opts.MaxRetries = &http.Client{Transport: tr}, -1
	c, err := acr.NewClient(e.srv.endpoint(), cred, &opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *replayEnv) entra() acr.Credential { return acr.TokenCredential(replayEntra{e.srv.c.aad}) }

// recorded decodes the recorded body of exchange id (request or response).
func (e *replayEnv) recorded(id int, request bool, v any) {
	e.t.Helper()
	x := e.srv.rec.all[id]
	raw := x.RespBody
	if request {
		raw = x.ReqBody
	}
	if err := json.Unmarshal(raw, v); err != nil {
		e.t.Fatalf("%v: %v", x, err)
	}
}

// download reads a whole blob with DownloadBlob.
func (e *replayEnv) download(c *acr.Client, repo, d string) []byte {
	e.t.Helper()
	rc, err := c.DownloadBlob(e.ctx, repo, digest.Digest(d), nil)
	if err != nil {
		e.t.Fatalf("DownloadBlob(%s@%s): %v", repo, d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil || replayDigest(b) != d {
		e.t.Fatalf("DownloadBlob(%s@%s): %d bytes hashing to %s, %v", repo, d, len(b), replayDigest(b), err)
	}
	return b
}

// wantError checks that err matches sentinel and is a *acr.ResponseError
// with ACR's status, code and message.
func (e *replayEnv) wantError(err, sentinel error, status int, code, message string) {
	e.t.Helper()
	if !errors.Is(err, sentinel) {
		e.t.Errorf("error %v does not match %v", err, sentinel)
	}
	var re *acr.ResponseError
	if !errors.As(err, &re) {
		e.t.Errorf("error %v carries no *acr.ResponseError", err)
		return
	}
	if re.StatusCode != status || len(re.Errors) == 0 || re.Errors[0].Code != code || re.Errors[0].Message != message {
		e.t.Errorf("got %d %+v; want %d %s: %s", re.StatusCode, re.Errors, status, code, message)
	}
}

func replayTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
