package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestJSONListMatchesWriteJSON checks that a listing streamed through
// jsonList is byte for byte the document writeJSON writes for the whole
// list, for empty, single and longer lists, with characters that HTML
// escaping would change, and that the result is valid JSON.
func TestJSONListMatchesWriteJSON(t *testing.T) {
	when := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	all := []tagJSON{
		{Name: "v1", Digest: "sha256:0123", CreatedTime: when, LastUpdateTime: when},
		{Name: "<b>&amp;</b>", ChangeableAttributes: &permissionsJSON{DeleteEnabled: true}},
		{Name: "x\u2028y\"z"},
	}
	for n := 0; n <= len(all); n++ {
		items := all[:n]
		var want, got bytes.Buffer
		if err := writeJSON(&want, struct {
			Registry  string    `json:"registry"`
			ImageName string    `json:"imageName"`
			Tags      []tagJSON `json:"tags"`
		}{"reg<1>.example", "a&b", items}); err != nil {
			t.Fatal(err)
		}
		l := newJSONList(&got, "tags", "registry", "reg<1>.example", "imageName", "a&b")
		for _, it := range items {
			l.add(it)
		}
		if err := l.end(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%d items: streamed\n%s\nwant (writeJSON)\n%s", n, got.String(), want.String())
		}
		if !json.Valid(got.Bytes()) {
			t.Errorf("%d items: not valid JSON:\n%s", n, got.String())
		}
	}
}

// FuzzIndentJSON checks indentJSON against json.Indent on any valid JSON
// document, compacted as encoding/json writes it.
func FuzzIndentJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{},[],{"b":"x\"y\\"}],"c":null}`, `"s"`, `[{"k":"\u2028:,{["}]`, `{"a":{"b":{"c":[true,false]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "    ", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indentJSON(nil, compact.Bytes(), "    ", "  "); string(got) != want.String() {
			t.Errorf("indentJSON(%s)\n got %s\nwant %s", compact.Bytes(), got, want.Bytes())
		}
	})
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"library/hello-world", "library/hello-world"},
		{"v1.0_rc-2", "v1.0_rc-2"},
		{"café ünïcode 日本", "café ünïcode 日本"},
		{`back\slash "quoted"`, `back\slash "quoted"`},
		{"x\x1b]0;pwned\a\x1b[2J", `x\x1b]0;pwned\a\x1b[2J`},
		{"a\nb\r\tc", `a\nb\r\tc`},
		{"\x00\x7f\u0085", `\x00\x7f\u0085`},
		{"evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"bad\xffutf8\xc3", `bad\xffutf8\xc3`},
		{"é\x1b", `é\x1b`},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := string(appendPrintable([]byte("pre:"), tc.in)); got != "pre:"+tc.want {
			t.Errorf("appendPrintable(%q) = %q, want %q", tc.in, got, "pre:"+tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { printable("library/hello-world:v1.0") }); n != 0 {
		t.Errorf("printable of a valid name allocates %v times, want 0", n)
	}
}

// TestPrintableASCII holds printableASCII's eight-byte test to the byte
// rule: every byte value, at every offset of strings long enough for one
// and two eight-byte steps, after a run of printable bytes.
func TestPrintableASCII(t *testing.T) {
	slow := func(s string) int {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				return i
			}
		}
		return len(s)
	}
	for _, n := range []int{1, 7, 8, 9, 16, 23} {
		for at := range n {
			for c := range 256 {
				b := []byte(strings.Repeat("~ a", n))[:n]
				b[at] = byte(c)
				if got, want := printableASCII(string(b)), slow(string(b)); got != want {
					t.Fatalf("printableASCII(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}

// hostileText is what a hostile registry puts in names, media types,
// annotations and error messages: a terminal title, a screen clear, a
// cursor move and a line of its own.
const hostileText = "x\x1b]0;pwned\a\x1b[2J\x1b[1A\r\nfake\u202e"

// TestTextOutputEscapesRegistryStrings runs the listing and show commands
// against a registry that sends control characters everywhere it can: in
// text output (tables, -o name, errors) they are escaped, visibly, so it
// can neither steer the terminal nor add a line to what a script reads.
func TestTextOutputEscapesRegistryStrings(t *testing.T) {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	dg := "sha256:" + strings.Repeat("a", 64)
	attrs := `"changeableAttributes":{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true}`
	times := `"createdTime":"2024-01-01T00:00:00Z","lastUpdateTime":"2024-01-01T00:00:00Z"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		switch {
		case p == "/v2/" || p == "/v2":
			fmt.Fprint(w, `{}`)
		case p == "/acr/v1/_catalog" || p == "/v2/_catalog":
			fmt.Fprintf(w, `{"repositories":[%s]}`, q(hostileText))
		case p == "/acr/v1/r/_tags":
			fmt.Fprintf(w, `{"registry":"x","imageName":"r","tags":[{"name":%s,"digest":%q,%s,%s}]}`, q(hostileText), dg, times, attrs)
		case p == "/acr/v1/r/_tags/v1":
			fmt.Fprintf(w, `{"registry":%s,"imageName":%s,"tag":{"name":%s,"digest":%q,%s,%s}}`, q(hostileText), q(hostileText), q(hostileText), dg, times, attrs)
		case strings.HasSuffix(p, "/tags/list"):
			fmt.Fprintf(w, `{"name":"r","tags":[%s]}`, q(hostileText))
		case p == "/acr/v1/r":
			fmt.Fprintf(w, `{"registry":%s,"imageName":%s,%s,"manifestCount":1,"tagCount":1,%s}`, q(hostileText), q(hostileText), times, attrs)
		case p == "/acr/v1/r/_manifests":
			fmt.Fprintf(w, `{"registry":"x","imageName":"r","manifests":[{"digest":%q,"imageSize":1,%s,"architecture":%s,"os":%s,"mediaType":%s,"tags":[%s],%s}]}`,
				dg, times, q(hostileText), q(hostileText), q(hostileText), q(hostileText), attrs)
		case p == "/acr/v1/r/_manifests/"+dg:
			fmt.Fprintf(w, `{"registry":"x","imageName":"r","manifest":{"digest":%q,"imageSize":1,%s,"architecture":%s,"os":%s,"mediaType":%s,"configMediaType":%s,"artifactType":%s,"tags":[%s],%s}}`,
				dg, times, q(hostileText), q(hostileText), q(hostileText), q(hostileText), q(hostileText), q(hostileText), attrs)
		case p == "/v2/r/referrers/"+dg:
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			fmt.Fprintf(w, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":1,"artifactType":%s,"annotations":{"org.opencontainers.image.created":%s}}]}`,
				dg, q(hostileText), q(hostileText))
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"errors":[{"code":"NAME_UNKNOWN","message":%s}]}`, q(hostileText))
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := t.TempDir() + "/config.json"
	for _, args := range [][]string{
		{"repo", "list", host},
		{"repo", "list", host, "-o", "name"},
		{"repo", "show", host + "/r"},
		{"tag", "list", host + "/r"},
		{"tag", "list", host + "/r", "-o", "name"},
		{"tag", "list", host + "/r", "--order", "time-desc", "-o", "name"},
		{"tag", "show", host + "/r:v1"},
		{"manifest", "list", host + "/r"},
		{"manifest", "show", host + "/r@" + dg},
		{"manifest", "referrers", host + "/r@" + dg},
		{"repo", "show", host + "/missing"},
	} {
		name := strings.Join(args[:2], " ") + " " + strings.Join(args[3:], " ")
		r := acrctl(t, "", append(args, "--registry-config", cfg)...)
		for stream, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
			if i := strings.IndexFunc(out, func(c rune) bool { return c < 0x20 && c != '\n' || c == 0x7f || c == '\u202e' }); i >= 0 {
				t.Errorf("%s: %s holds the control character %q: %q", name, stream, out[i], out)
			}
			if strings.Contains(out, "\nfake") {
				t.Errorf("%s: the registry added a line to %s: %q", name, stream, out)
			}
		}
		// Where the command printed the strings (the library may refuse
		// invalid names instead), they show escaped.
		if r.code == 0 && !strings.Contains(r.stdout, `x\x1b]0;pwned\a\x1b[2J\x1b[1A\r\nfake\u202e`) {
			t.Errorf("%s: stdout %q lacks the escaped string", name, r.stdout)
		}
		if r.code != 0 && !strings.Contains(r.stderr, `\x1b`) && !strings.Contains(r.stderr, "invalid") {
			t.Errorf("%s: exit %d, stderr %q: want the registry's message escaped, or the name refused", name, r.code, r.stderr)
		}
	}
	// JSON escapes them itself, and keeps the value exact.
	for _, args := range [][]string{
		{"repo", "list", host, "-o", "json"},
		{"tag", "list", host + "/r", "-o", "json"},
		{"manifest", "list", host + "/r", "-o", "json"},
		{"manifest", "referrers", host + "/r@" + dg, "-o", "json"},
	} {
		r := acrctl(t, "", append(args, "--registry-config", cfg)...)
		if r.code != 0 {
			// The library refuses names outside the grammar: then
			// nothing is printed, and the refusal says why.
			if r.stdout != "" || !strings.Contains(r.stderr, "grammar does not allow") {
				t.Errorf("%s: exit %d, stdout %q, stderr %q: want no output and the name refused", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			}
			continue
		}
		if i := strings.IndexFunc(r.stdout, func(c rune) bool { return c < 0x20 && c != '\n' || c == 0x7f }); i >= 0 || !json.Valid([]byte(r.stdout)) {
			t.Errorf("%s: stdout is not JSON free of control characters: %q", strings.Join(args, " "), r.stdout)
		}
		if r.code == 0 && !strings.Contains(r.stdout, q(hostileText)[1:len(q(hostileText))-1]) {
			t.Errorf("%s: stdout %q lacks the value, JSON-escaped", strings.Join(args, " "), r.stdout)
		}
	}
}

// TestConfirmEscapes: the question before a delete names tags the registry
// listed; a hostile name cannot rewrite it on the terminal.
func TestConfirmEscapes(t *testing.T) {
	defer func(old func(any) bool) { stdinIsTerminal = old }(stdinIsTerminal)
	stdinIsTerminal = func(any) bool { return true }
	var stderr bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetIn(strings.NewReader("n\n"))
	cmd.SetErr(&stderr)
	err := confirm(cmd, &remoteOptions{}, false, "r@sha256:aa and its tags v1, "+hostileText)
	if err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Errorf("answered n: %v", err)
	}
	if got := stderr.String(); strings.ContainsAny(got, "\x1b\r\n\u202e") || !strings.Contains(got, `\x1b]0;pwned`) {
		t.Errorf("the question reads %q: want the tag escaped", got)
	}
}
