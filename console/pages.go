package console

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Page sizes: a screen's worth, so the first screen of a repository with
// 10,000 tags needs one page of the registry's listing.
const (
	reposPerPage = 50
	rowsPerPage  = 100
)

// What a manifest's page draws of a big manifest (thousands of layers, a
// large annotation): beyond it, a note says how much more there is.
const (
	maxRows     = 500       // layers, blobs, platforms
	maxText     = 2000      // bytes of an annotation's value
	maxRawBytes = 256 << 10 // of the raw manifest
)

var funcs = template.FuncMap{
	"firstRows": func(ds []ocispec.Descriptor) []ocispec.Descriptor { return ds[:min(len(ds), maxRows)] },
	"moreRows":  func(ds []ocispec.Descriptor) int { return max(len(ds)-maxRows, 0) },
	"clip": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return strings.ToValidUTF8(s[:n], "") + "… (" + humanSize(int64(len(s))) + " in all)"
	},
	"maxText":     func() int { return maxText },
	"maxRawBytes": func() int { return maxRawBytes },
	"size":        humanSize,
	"when":        func(t time.Time) string { return formatTime(t) },
	"short":       shortDigest,
	"add":         func(a, b int) int { return a + b },
	"mul":         func(a, b int) int { return a * b },
	"int64":       func(n int) int64 { return int64(n) },
	"annotations": func(m manifestView) map[string]string {
		switch {
		case m.Image != nil:
			return m.Image.Annotations
		case m.Index != nil:
			return m.Index.Annotations
		case m.Artifact != nil:
			return m.Artifact.Annotations
		}
		return nil
	},
	"dict": func(kv ...any) map[string]any {
		d := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i].(string)] = kv[i+1]
		}
		return d
	},
	"bar": func(n, max int64) int {
		if max <= 0 {
			return 0
		}
		return int(n * 400 / max)
	},
}

// pages returns one template per page, each with the layout. They are
// parsed on first use, not in an init function: every acrctl command links
// this package, and parsing took 2.5 ms of CPU at every start (a third of
// acrctl --version's), for a console most runs never serve.
var pages = sync.OnceValue(func() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
		pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	return pages
})

func (s *Server) routes() {
	p := s.prefix
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(p+"static/", http.FileServerFS(static))
	m.HandleFunc("GET "+p+"static/", func(w http.ResponseWriter, r *http.Request) {
		// The files, not net/http's listing of the directory.
		if strings.HasSuffix(r.URL.Path, "/") {
			s.errorPage(w, r, s.sessionOf(r), http.StatusNotFound, "The console has no page at "+r.URL.Path+".",
				"Check the address, or start from the repositories page.")
			return
		}
		files.ServeHTTP(w, r)
	})
	m.HandleFunc(p+"login", s.login)
	m.HandleFunc("POST "+p+"logout", s.authed(s.logout))
	m.HandleFunc("GET "+p+"{$}", s.authed(s.reposPage))
	m.HandleFunc("GET "+p+"repo", s.authed(s.repoPage))
	m.HandleFunc("GET "+p+"manifest", s.authed(s.manifestPage))
	m.HandleFunc("GET "+p+"delete", s.authed(s.deletePage))
	m.HandleFunc("POST "+p+"delete", s.authed(s.deleteAction))
	m.HandleFunc("POST "+p+"lock", s.authed(s.lockAction))
	m.HandleFunc("POST "+p+"restore", s.authed(s.restoreAction))
	m.HandleFunc("GET "+p+"storage", s.authed(s.storagePage))
	s.mux = m
}

// view is what every page's template gets: the layout's fields and the
// page's own Data.
type view struct {
	Title  string
	P      string // the prefix, for links
	CSRF   string
	User   string
	Host   string
	Flash  string
	Signed bool
	// CanSignOut is true where signing out means something: a signed-in
	// user, not the one client of acrctl console.
	CanSignOut bool
	Data       any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, ss *session, status int, page, title string, data any) {
	t := pages()[page]
	v := view{Title: title, P: s.prefix, Data: data}
	if ss != nil {
		v.CSRF, v.User, v.Host, v.Signed = ss.csrf, ss.user, pullHost(ss.client), true
		v.CanSignOut = s.opts.SignIn != nil
		// Only a page that worked shows (and so spends) the flash: an
		// error answer, such as the 404 of the browser's /favicon.ico
		// after a redirect, must not swallow "Deleted tag v1."
		if status < 300 {
			v.Flash = s.takeFlash(ss)
		}
	}
	var buf bytes.Buffer
	name := "layout.html"
	if page == "repos" && r.URL.Query().Get("fragment") == "1" {
		name = "rows"
	}
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		s.log.Error("console: template", "page", page, "err", err)
		http.Error(w, "the console failed to draw this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorData is an error page: a sentence, the fix, and the library's
// own text below them, if any.
type errorData struct{ Message, Fix, Detail string }

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, ss *session, status int, msg, fix string) {
	s.render(w, r, ss, status, "error", "Error", errorData{Message: msg, Fix: fix})
}

// failed shows a registry's error: what the console was doing, what went
// wrong in a sentence, the fix, and the library's text as detail.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, ss *session, what string, err error) {
	status, summary, fix := errorStatus(err)
	s.render(w, r, ss, status, "error", "Error", errorData{Message: what + ": " + summary, Fix: fix, Detail: errorText(err)})
}

type loginData struct {
	Next, Token, Error, Username string
}

// login serves the sign-in form of a console that asks for credentials.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.opts.SignIn == nil {
		http.Redirect(w, r, s.prefix, http.StatusSeeOther)
		return
	}
	pre := s.loginCookie
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		next := s.safeNext(r.URL.Query().Get("next"))
		tok := randomString()
		http.SetCookie(w, &http.Cookie{Name: pre, Value: tok, Path: s.prefix, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		s.render(w, r, nil, http.StatusOK, "login", "Sign in", loginData{Next: next, Token: tok})
	case http.MethodPost:
		c, err := r.Cookie(pre)
		got := r.PostFormValue("csrf")
		if !sameOrigin(r) || err != nil || got == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(got)) != 1 {
			s.log.Info("console: refused a sign-in without its CSRF token or from another site", "remote", r.RemoteAddr)
			s.errorPage(w, r, nil, http.StatusForbidden, "Refused: the sign-in form lacks its CSRF token.",
				"Sign in from the console's own form: reload it and try again.")
			return
		}
		next := s.safeNext(r.PostFormValue("next"))
		user, pass := r.PostFormValue("username"), r.PostFormValue("password")
		fail := func(msg string) {
			tok := randomString()
			http.SetCookie(w, &http.Cookie{Name: pre, Value: tok, Path: s.prefix, HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			s.render(w, r, nil, http.StatusUnauthorized, "login", "Sign in", loginData{Next: next, Token: tok, Error: msg, Username: user})
		}
		if user == "" || pass == "" {
			fail("Enter a user name and a password.")
			return
		}
		client, err := s.opts.SignIn(r.Context(), user, pass)
		if err == nil {
			err = signIn(r.Context(), client)
		}
		if err != nil {
			s.log.Info("console: sign-in refused", "user", user, "err", errorText(err))
			if isAuthError(err) {
				fail("The registry refused that user name and password.")
			} else {
				_, summary, _ := errorStatus(err)
				fail("Sign-in failed: " + summary + " (" + errorText(err) + ")")
			}
			return
		}
		http.SetCookie(w, &http.Cookie{Name: pre, Value: "", Path: s.prefix, MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		s.startSession(w, r, client, user)
		http.Redirect(w, r, next, http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, ss *session) {
	s.endSession(w, r)
	http.Redirect(w, r, s.prefix+"login", http.StatusSeeOther)
}

type reposData struct {
	// NoCatalog says why the registry lists no repositories to this
	// credential (a repository-scoped one may not list them); the page
	// then asks for a repository's name instead.
	NoCatalog string
	Detail    string
	Q         string
	Rows      []repoRow
	ACR       bool
	Next      string
	After     string
}

func (s *Server) reposPage(w http.ResponseWriter, r *http.Request, ss *session) {
	q, after := r.URL.Query().Get("q"), r.URL.Query().Get("after")
	names, more, err := listRepositories(r.Context(), ss.client, q, after, reposPerPage)
	if err != nil && len(names) == 0 {
		if status, summary, _ := errorStatus(err); (status == http.StatusUnauthorized || status == http.StatusForbidden) && q == "" && after == "" {
			s.render(w, r, ss, http.StatusOK, "repos", "Repositories", reposData{NoCatalog: summary, Detail: errorText(err)})
			return
		}
		s.failed(w, r, ss, "Listing repositories", err)
		return
	}
	d := reposData{Q: q, After: after, Rows: describeRepositories(r.Context(), ss.client, names)}
	for _, row := range d.Rows {
		d.ACR = d.ACR || row.ACR
	}
	if more {
		d.Next = names[len(names)-1]
	}
	s.render(w, r, ss, http.StatusOK, "repos", "Repositories", d)
}

type repoData struct {
	Name string
	View string
	ACR  bool
	// NoMetadata is set when the registry has /acr/v1 but the credential
	// may not read its metadata: tags by name only.
	NoMetadata bool
	Page       int
	// After is where the page starts: after this tag, or manifest digest,
	// from the previous page's Next link; empty on the first page and on
	// pages reached by offset (Previous links). Next is the same for the
	// following page.
	After     string
	Next      string
	More      bool
	Tags      []tagRow
	Manifests []manifestRow
	Deleted   any
	// DeletedTags are the soft-deleted tags, most recent first.
	DeletedTags any
	// NoDeleted says why the registry has no deleted items to show.
	NoDeleted string
	Err       string
	// Restart offers the first page when the page's cursor is gone.
	Restart bool
	// RepoLock says which of the repository's lock flags is off, if any.
	RepoLock string
}

func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 0 || n > 1_000_000 {
		return 0
	}
	return n
}

func (s *Server) repoPage(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx, c := r.Context(), ss.client
	q := r.URL.Query()
	d := repoData{Name: q.Get("name"), View: q.Get("view"), Page: pageNumber(r), After: q.Get("after")}
	if d.Name == "" {
		s.errorPage(w, r, ss, http.StatusBadRequest, "No repository named.", "Pick one on the repositories page.")
		return
	}
	var err error
	props, noMetadata, err := hasACR(ctx, c, d.Name)
	if err != nil {
		s.failed(w, r, ss, "Reading repository "+d.Name, err)
		return
	}
	d.ACR, d.NoMetadata = props != nil, noMetadata
	if props != nil {
		// The repository's own flags apply to everything in it.
		d.RepoLock = lockedBy("The repository", props.Permissions)
		if d.RepoLock == "" && !props.Permissions.CanRead {
			d.RepoLock = "The repository has readEnabled false: pulls are refused"
		}
	}
	if !d.ACR && d.View != "tags" && d.View != "" {
		d.View = "tags"
	}
	switch d.View {
	case "manifests":
		var after digest.Digest
		if d.After != "" {
			if after, err = digest.Parse(d.After); err != nil {
				s.errorPage(w, r, ss, http.StatusBadRequest, "The address's after="+d.After+" is not a manifest's digest.",
					"Use the Next link of the repository's manifests.")
				return
			}
		}
		d.Manifests, d.More, err = listManifests(ctx, c, d.Name, after, d.Page*rowsPerPage, rowsPerPage)
		if n := len(d.Manifests); d.More && n > 0 {
			d.Next = d.Manifests[n-1].Digest.String()
		}
	case "deleted":
		var rows any
		rows, d.More, d.NoDeleted, err = listDeleted(ctx, c, d.Name, d.Page*rowsPerPage, rowsPerPage)
		d.Deleted = rows
		// Deleted tags, the most recent first, on the first page only.
		if err == nil && d.NoDeleted == "" && d.Page == 0 {
			var tags any
			tags, _, err = listDeletedTags(ctx, c, d.Name, rowsPerPage)
			d.DeletedTags = tags
		}
	default:
		d.View = "tags"
		d.Tags, d.More, err = listTags(ctx, c, d.Name, d.After, d.Page*rowsPerPage, rowsPerPage, d.ACR)
		if n := len(d.Tags); d.More && n > 0 {
			d.Next = d.Tags[n-1].Name
		}
	}
	var re *acr.ResponseError
	switch {
	case err != nil && d.After != "" && errors.As(err, &re) && re.StatusCode == http.StatusBadRequest:
		// A Next link whose item was deleted since (ACR refuses a
		// time-ordered listing from a cursor it no longer holds).
		d.Err = "The " + strings.TrimSuffix(d.View, "s") + " this page starts after, " + d.After +
			", is no longer there (deleted since the previous page was shown)."
		d.Restart = true
	case err != nil:
		d.Err = errorText(err)
	}
	s.render(w, r, ss, http.StatusOK, "repo", d.Name, d)
}

type manifestData struct {
	Repo string
	Ref  string
	M    manifestView
	// Tag is the tag the page was opened by, with its own lock flags, on
	// registries with /acr/v1.
	Tag  *tagRow
	Refs []*referrer
	// RefsErr says why the tree is incomplete.
	RefsErr string
	Pull    []pullCommand
}

type pullCommand struct{ ID, Tool, Command string }

func (s *Server) manifestPage(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx, c := r.Context(), ss.client
	d := manifestData{Repo: r.URL.Query().Get("repo"), Ref: r.URL.Query().Get("ref")}
	m, err := getManifest(ctx, c, d.Repo, d.Ref)
	if err != nil {
		s.failed(w, r, ss, "Reading manifest "+d.Repo+" "+d.Ref, err)
		return
	}
	d.M = m
	if m.Props != nil && !strings.Contains(d.Ref, ":") { // a tag has no colon, a digest has
		// Opened by tag: the tag has lock flags of its own, which the
		// manifest's do not show.
		if tp, err := c.GetTagProperties(ctx, d.Repo, d.Ref); err == nil {
			d.Tag = &tagRow{Name: tp.Name, Digest: tp.Digest, LastUpdatedOn: tp.LastUpdatedOn, Permissions: tp.Permissions, Locked: locked(tp.Permissions)}
		}
	}
	d.Refs, d.RefsErr = referrersTree(ctx, c, d.Repo, m.Digest)
	ref := pullHost(c) + "/" + d.Repo + "@" + m.Digest.String()
	d.Pull = []pullCommand{{"pull-acrctl", "acrctl", "acrctl pull " + ref}, {"pull-oras", "oras", "oras pull " + ref}}
	if m.containerImage() {
		d.Pull = append(d.Pull, pullCommand{"pull-docker", "docker", "docker pull " + ref})
	}
	s.render(w, r, ss, http.StatusOK, "manifest", d.Repo+"@"+shortDigest(m.Digest), d)
}

// target reads the repository, tag and digest a page's query or a posted
// form names.
func target(r *http.Request) (repo, tag string, d digest.Digest, err error) {
	v := r.URL.Query()
	if r.Method == http.MethodPost {
		r.ParseForm()
		v = r.PostForm
	}
	repo, tag = v.Get("repo"), v.Get("tag")
	if ds := v.Get("digest"); ds != "" {
		if d, err = digest.Parse(ds); err != nil {
			return "", "", "", fmt.Errorf("digest %q is not valid: a digest is ALGORITHM:HEX, such as sha256: followed by 64 lowercase hex digits", ds)
		}
	}
	if repo == "" || (tag == "") == (d == "") {
		return "", "", "", fmt.Errorf("name a repository and either a tag or a digest")
	}
	return repo, tag, d, nil
}

func (s *Server) deletePage(w http.ResponseWriter, r *http.Request, ss *session) {
	repo, tag, d, err := target(r)
	if err != nil {
		s.errorPage(w, r, ss, http.StatusBadRequest, "Nothing to delete: "+err.Error()+".", "Use the delete buttons of a repository's page.")
		return
	}
	t, err := describeDelete(r.Context(), ss.client, repo, tag, d)
	if err != nil {
		s.failed(w, r, ss, "Reading what the delete would remove", err)
		return
	}
	s.render(w, r, ss, http.StatusOK, "delete", "Delete?", t)
}

func (s *Server) deleteAction(w http.ResponseWriter, r *http.Request, ss *session) {
	repo, tag, d, err := target(r)
	if err != nil {
		s.errorPage(w, r, ss, http.StatusBadRequest, "Nothing to delete: "+err.Error()+".", "Use the delete buttons of a repository's page.")
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		s.errorPage(w, r, ss, http.StatusBadRequest, "Not deleted: the delete was not confirmed.", "Confirm on the delete page.")
		return
	}
	var msg string
	if tag != "" {
		err, msg = deleteTag(r.Context(), ss.client, repo, tag), "Deleted tag "+tag+"."
	} else {
		var note string
		note, err = deleteManifest(r.Context(), ss.client, repo, d)
		msg = "Deleted manifest " + d.String() + " and its tags." + note
	}
	if err != nil {
		s.failed(w, r, ss, "Deleting", err)
		return
	}
	s.setFlash(ss, msg)
	view := "tags"
	if tag == "" {
		view = r.PostFormValue("view")
	}
	http.Redirect(w, r, s.prefix+"repo?"+url.Values{"name": {repo}, "view": {view}}.Encode(), http.StatusSeeOther)
}

func (s *Server) lockAction(w http.ResponseWriter, r *http.Request, ss *session) {
	repo, tag, d, err := target(r)
	if err != nil {
		s.errorPage(w, r, ss, http.StatusBadRequest, "Nothing to lock: "+err.Error()+".", "Use the lock buttons of a repository's page.")
		return
	}
	lock := r.PostFormValue("lock") == "1"
	if err := setLock(r.Context(), ss.client, repo, tag, d, lock); err != nil {
		s.failed(w, r, ss, "Changing the lock", err)
		return
	}
	what := "tag " + tag
	if tag == "" {
		what = "manifest " + shortDigest(d)
	}
	if lock {
		s.setFlash(ss, "Locked "+what+": it can be neither overwritten nor deleted.")
	} else {
		s.setFlash(ss, "Unlocked "+what+".")
	}
	back := s.prefix + "repo?" + url.Values{"name": {repo}, "view": {r.PostFormValue("view")}, "page": {r.PostFormValue("page")},
		"after": {r.PostFormValue("after")}}.Encode()
	switch r.PostFormValue("back") {
	case "manifest":
		ref := d.String()
		if tag != "" {
			ref = tag
		}
		back = s.prefix + "manifest?" + url.Values{"repo": {repo}, "ref": {ref}}.Encode()
	case "delete":
		// Unlocked on a delete's page: back to the confirmation.
		v := url.Values{"repo": {repo}}
		if dt := r.PostFormValue("dtag"); dt != "" {
			v.Set("tag", dt)
		} else {
			v.Set("digest", r.PostFormValue("ddigest"))
		}
		back = s.prefix + "delete?" + v.Encode()
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (s *Server) restoreAction(w http.ResponseWriter, r *http.Request, ss *session) {
	repo, tag := r.PostFormValue("repo"), r.PostFormValue("tag")
	d, err := digest.Parse(r.PostFormValue("digest"))
	if err != nil || repo == "" {
		s.errorPage(w, r, ss, http.StatusBadRequest, "Nothing to restore: name a repository and a digest.", "Use the restore buttons of a repository's deleted items.")
		return
	}
	along := 0
	if tag == "" {
		along = deletedWith(r.Context(), ss.client, repo, d)
	}
	p, err := restoreManifest(r.Context(), ss.client, repo, d, tag)
	if err != nil {
		s.failed(w, r, ss, "Restoring", err)
		return
	}
	msg := "Restored manifest " + shortDigest(d)
	if tag != "" {
		msg = "Restored tag " + tag + " onto " + shortDigest(d)
	} else if len(p.Tags) > 0 {
		msg += " with tags " + strings.Join(p.Tags, ", ")
	}
	msg += "."
	if along == 1 {
		msg += " One other manifest deleted with it (a referrer, such as a signature or SBOM) stays deleted: restore it below too."
	} else if along > 1 {
		msg += " " + itoa(along) + " other manifests deleted with it (referrers, such as signatures and SBOMs) stay deleted: restore them below too."
	}
	s.setFlash(ss, msg)
	http.Redirect(w, r, s.prefix+"repo?"+url.Values{"name": {repo}, "view": {"deleted"}}.Encode(), http.StatusSeeOther)
}

type storageData struct {
	storageUse
	Max    int64
	Top    []repoUse
	Others int
}

func (s *Server) storagePage(w http.ResponseWriter, r *http.Request, ss *session) {
	u := measureStorage(r.Context(), ss.client)
	if u.listErr != nil && len(u.Repos) == 0 {
		// Nothing was measured: an error page, not zeros that look measured.
		s.failed(w, r, ss, "Listing the repositories to measure", u.listErr)
		return
	}
	d := storageData{storageUse: u, Top: u.Repos}
	if len(d.Top) > 20 {
		d.Top, d.Others = d.Top[:20], len(d.Top)-20
	}
	if len(d.Top) > 0 {
		d.Max = d.Top[0].Size
	}
	if d.Unique > d.Max {
		d.Max = d.Unique
	}
	if d.Logical > d.Max {
		d.Max = d.Logical
	}
	s.render(w, r, ss, http.StatusOK, "storage", "Storage", d)
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func shortDigest(d digest.Digest) string {
	s := d.String()
	if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
		return s[:i+13]
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
