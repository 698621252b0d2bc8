// Package deps holds the test that enforces the module's dependency rules,
// the "Never" list of docs/ARCHITECTURE.md: each rule there is one entry of
// rules below, checked over `go list` of every package of the module (test
// files excluded).
package deps

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/acrgo/acr"

// rule forbids packages matching from to depend on packages matching to,
// except those matching allow. Patterns are import paths, where "/..."
// matches the path and everything under it, and "." stands for the module:
// "." is package acr, "./emulator/..." the emulator and every package
// under it, "./..." the whole module.
type rule struct {
	doc    string   // the rule as docs/ARCHITECTURE.md words it
	from   []string // packages the rule constrains
	except []string // of those, the ones it does not
	to     []string // what they must not depend on
	allow  []string // of those, what they may
	// direct checks only the packages' own imports, not everything they
	// depend on through others.
	direct bool
}

// client is every package of the client side, which the emulator never
// uses; library is what users of the library import.
var (
	client  = []string{".", "./transfer/...", "./purge/...", "./dockerconfig/...", "./console/...", "./internal/transport/...", "./internal/trace/..."}
	library = []string{".", "./transfer/...", "./purge/...", "./dockerconfig/..."}
	// rest is everything of the module outside internal/.
	rest = []string{".", "./transfer/...", "./purge/...", "./dockerconfig/...", "./emulator/...", "./acrtest/...", "./console/...", "./cmd/...", "./bench/..."}
)

var rules = []rule{
	{doc: "1. the emulator never imports the client",
		from: []string{"./emulator/...", "./acrtest/..."}, to: client},
	{doc: "2. the library never imports the server or the CLI",
		from: library, to: []string{"./emulator/...", "./acrtest/...", "./console/...", "./cmd/..."}},
	{doc: "3. the library never imports CLI, sign-in or telemetry machinery",
		from: append(slices.Clone(library), "./console/..."),
		to: []string{"github.com/spf13/cobra/...", "github.com/spf13/pflag/...", "golang.org/x/term/...",
			"github.com/Azure/azure-sdk-for-go/sdk/azidentity/...", "go.opentelemetry.io/...", "github.com/Azure/azure-sdk-for-go/sdk/tracing/azotel/..."}},
	{doc: "4. the client does not import its consumers",
		from: []string{"."}, to: []string{"./transfer/...", "./purge/..."}},
	{doc: "4. the client does not import its consumers",
		from: []string{"./dockerconfig/..."}, to: []string{"."}},
	{doc: "5. transfer and purge never import each other",
		from: []string{"./transfer/..."}, to: []string{"./purge/..."}},
	{doc: "5. transfer and purge never import each other",
		from: []string{"./purge/..."}, to: []string{"./transfer/..."}},
	{doc: "6. console never imports the emulator, the CLI or internal packages",
		from: []string{"./console/..."}, to: []string{"./emulator/...", "./acrtest/...", "./cmd/..."}},
	{doc: "6. console never imports the emulator, the CLI or internal packages",
		from: []string{"./console/..."}, to: []string{"./internal/..."}, direct: true},
	{doc: "7. internal/... never imports the rest of the module",
		from: []string{"./internal/..."}, to: rest},
	{doc: "8. test infrastructure never ships",
		from: []string{"./..."}, to: []string{"./internal/faulttest/..."}},
	{doc: "8. test infrastructure never ships",
		from: []string{"./..."}, except: []string{"./acrtest/...", "./emulator/store/storetest/...", "./internal/faulttest/..."},
		to: []string{"testing/..."}},
	{doc: "9. the CLI uses the exported API",
		from: []string{"./cmd/..."}, to: []string{"./internal/..."},
		allow: []string{"./internal/atomicfile/...", "./internal/transport/..."}, direct: true},
	{doc: "10. nothing imports a command",
		from: []string{"./..."}, to: []string{"./cmd/...", "./bench/..."}},
}

// pkg is one package of the module: its path, its own imports and
// everything it depends on.
type pkg struct {
	path    string
	imports []string
	deps    []string
}

// match reports whether import path p matches pattern.
func match(p, pattern string) bool {
	full := pattern
	if pattern == "." || strings.HasPrefix(pattern, "./") {
		full = module + strings.TrimPrefix(pattern, ".")
	}
	if prefix, ok := strings.CutSuffix(full, "/..."); ok {
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	return p == full
}

func matchAny(p string, patterns []string) bool {
	for _, pat := range patterns {
		if match(p, pat) {
			return true
		}
	}
	return false
}

// violations returns one line for each dependency of pkgs that breaks a
// rule.
func violations(pkgs []pkg, rules []rule) []string {
	var out []string
	for _, r := range rules {
		for _, p := range pkgs {
			if !matchAny(p.path, r.from) || matchAny(p.path, r.except) {
				continue
			}
			deps := p.deps
			if r.direct {
				deps = p.imports
			}
			for _, d := range deps {
				if d != p.path && matchAny(d, r.to) && !matchAny(d, r.allow) {
					out = append(out, p.path+" depends on "+d+": breaks rule "+r.doc+" (docs/ARCHITECTURE.md)")
				}
			}
		}
	}
	return out
}

// modulePackages lists every package of the module with its imports and
// dependencies, test files excluded.
func modulePackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, msg)
	}
	var pkgs []pkg
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) != 3 {
			t.Fatalf("go list printed %q, want three tab-separated fields", line)
		}
		pkgs = append(pkgs, pkg{path: f[0], imports: strings.Fields(f[1]), deps: strings.Fields(f[2])})
	}
	return pkgs
}

// TestDependencyRules checks every rule over the module as it is.
func TestDependencyRules(t *testing.T) {
	pkgs := modulePackages(t)
	for _, v := range violations(pkgs, rules) {
		t.Error(v)
	}
	// A rule whose packages do not exist checks nothing: catch a renamed
	// package or a misspelt pattern.
	for _, r := range rules {
		for _, pat := range r.from {
			if !slices.ContainsFunc(pkgs, func(p pkg) bool { return match(p.path, pat) }) {
				t.Errorf("rule %q: no package matches %q; update the rule and docs/ARCHITECTURE.md", r.doc, pat)
			}
		}
	}
}

// TestRulesCatchViolations runs the rules over made-up module graphs, one
// that breaks each kind of rule and one that keeps them all, so that a
// rule that can no longer fail is noticed.
func TestRulesCatchViolations(t *testing.T) {
	m := func(rel string) string {
		if rel == "" {
			return module
		}
		return module + "/" + rel
	}
	for _, tc := range []struct {
		name string
		p    pkg
		want string // a rule number it breaks; "" for none
	}{
		{"emulator imports acr", pkg{path: m("emulator"), deps: []string{m("internal/spec"), module}}, "1."},
		{"emulator store imports transport", pkg{path: m("emulator/store"), deps: []string{m("internal/transport")}}, "1."},
		{"acrtest imports transfer", pkg{path: m("acrtest"), deps: []string{m("transfer")}}, "1."},
		{"acr imports the emulator", pkg{path: module, deps: []string{m("emulator"), m("emulator/store")}}, "2."},
		{"purge imports cobra", pkg{path: m("purge"), deps: []string{"github.com/spf13/cobra"}}, "3."},
		{"console imports azidentity", pkg{path: m("console"), deps: []string{"github.com/Azure/azure-sdk-for-go/sdk/azidentity"}}, "3."},
		{"transfer imports OpenTelemetry", pkg{path: m("transfer"), deps: []string{"go.opentelemetry.io/otel/trace"}}, "3."},
		{"acr imports transfer", pkg{path: module, deps: []string{m("transfer")}}, "4."},
		{"dockerconfig imports acr", pkg{path: m("dockerconfig"), deps: []string{module}}, "4."},
		{"transfer imports purge", pkg{path: m("transfer"), deps: []string{m("purge")}}, "5."},
		{"console imports the emulator", pkg{path: m("console"), deps: []string{m("emulator")}}, "6."},
		{"internal imports acr", pkg{path: m("internal/spec"), deps: []string{module}}, "7."},
		{"acr imports faulttest", pkg{path: module, deps: []string{m("internal/faulttest")}}, "8."},
		{"emulator imports testing", pkg{path: m("emulator"), deps: []string{"testing"}}, "8."},
		{"the CLI imports internal/spec", pkg{path: m("cmd/acrctl"), imports: []string{m("internal/spec")}}, "9."},
		{"a package imports a command", pkg{path: m("transfer"), deps: []string{m("cmd/acrctl")}}, "10."},
		{"acrtest imports testing", pkg{path: m("acrtest"), deps: []string{"testing", m("emulator"), m("internal/spec")}}, ""},
		{"the CLI imports what it may", pkg{path: m("cmd/acrctl"),
			imports: []string{module, m("internal/atomicfile"), m("internal/transport"), m("emulator"), m("transfer"), "github.com/spf13/cobra"},
			deps:    []string{m("internal/spec"), m("internal/transport"), m("emulator/store")}}, ""},
		{"transfer imports acr", pkg{path: m("transfer"), deps: []string{module, m("dockerconfig"), m("internal/spec"), m("internal/transport")}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := violations([]pkg{tc.p}, rules)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("got %q, want no violation", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(v string) bool { return strings.Contains(v, "rule "+tc.want) }) {
				t.Fatalf("got %q, want a violation of rule %s", got, tc.want)
			}
		})
	}
}
