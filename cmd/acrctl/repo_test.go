package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

func TestRepoList(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		// Empty: said on stderr, as tag list does; stdout stays empty.
		if r := f.run("", "repo", "list", f.srv.Host).ok(t); r.stdout != "" || r.stderr != f.srv.Host+" has no repositories\n" {
			t.Errorf("repo list of an empty registry: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		if r := f.run("", "repo", "list", f.srv.Host, "-o", "name").ok(t); r.stdout != "" || r.stderr != "" {
			t.Errorf("repo list -o name of an empty registry: stdout %q, stderr %q; want nothing", r.stdout, r.stderr)
		}
		f.pushImage("library/hello-world", "a", "v1")
		f.pushImage("team/api", "b", "v1")
		r := f.run("", "repo", "list", f.srv.Host).ok(t)
		golden(t, "repo-list.txt", r.stdout, f.srv.Host)
		r = f.run("", "repo", "ls", f.srv.Host+"/", "--output", "json").ok(t)
		golden(t, "repo-list.json", r.stdout, f.srv.Host)
		r = f.run("", "repo", "list", f.srv.Host, "--last", "library/hello-world", "--page-size", "1").ok(t)
		if r.stdout != "team/api\n" {
			t.Errorf("--last library/hello-world printed %q, want team/api", r.stdout)
		}
		if r := f.run("", "repo", "list", f.srv.Host, "--last", "team/api").ok(t); r.stdout != "" || r.stderr != f.srv.Host+" has no repositories after team/api\n" {
			t.Errorf("repo list --last team/api: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		f.run("", "repo", "list", f.srv.Host, "--page-size", "-1").fails(t, 2, "--page-size -1")
	})
}

func TestRepoShow(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		f.pushImage("library/hello-world", "a", "v1", "latest")
		f.pushImage("library/hello-world", "b", "v2")
		r := f.run("", "repo", "show", f.ref("library/hello-world")).ok(t)
		golden(t, "repo-show.txt", r.stdout, f.srv.Host)
		r = f.run("", "repo", "show", f.ref("library/hello-world"), "--output", "json").ok(t)
		golden(t, "repo-show.json", r.stdout, f.srv.Host)
	})
}

func TestRepoUpdate(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		f.pushImage("hello", "a", "v1")
		r := f.run("", "repo", "update", f.ref("hello"), "--write-enabled", "false", "--list-enabled=false").ok(t)
		golden(t, "repo-update.txt", r.stdout, f.srv.Host)
		p, err := f.client.GetRepositoryProperties(t.Context(), "hello")
		if err != nil {
			t.Fatal(err)
		}
		if p.Permissions.CanWrite || p.Permissions.CanList || !p.Permissions.CanDelete || !p.Permissions.CanRead {
			t.Errorf("got permissions %+v, want write and list off", p.Permissions)
		}
		// The repository lock refuses deleting a tag inside it.
		f.run("", "tag", "delete", f.ref("hello:v1")).fails(t, 1, f.ref("hello:v1")+" is locked: writeEnabled is false on the repository "+f.ref("hello"),
			"fix: acrctl repo update "+f.ref("hello")+" --write-enabled true")
		r = f.run("", "repo", "update", f.ref("hello"), "--unlock", "--list-enabled", "true", "--output", "json").ok(t)
		golden(t, "repo-update.json", r.stdout, f.srv.Host)
		f.run("", "tag", "delete", f.ref("hello:v1")).ok(t)
	})
}

func TestRepoDelete(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		f.pushImage("hello", "a", "v1", "latest")
		f.pushImage("hello", "b", "v2")
		f.pushImage("other", "c", "v1")
		// Not a terminal and no --yes: a usage error, and nothing is deleted.
		f.run("", "repo", "delete", f.ref("hello")).fails(t, 2, "--yes")
		r := f.run("", "repo", "delete", f.ref("hello"), "--yes").ok(t)
		golden(t, "repo-delete.txt", r.stdout, f.srv.Host)
		if _, err := f.client.GetRepositoryProperties(t.Context(), "hello"); !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("after delete, got %v, want ErrNotFound", err)
		}
		r = f.run("", "repo", "rm", f.ref("other"), "-y", "--output", "json").ok(t)
		golden(t, "repo-delete.json", r.stdout, f.srv.Host)
		// A locked repository is refused with the fix.
		f.pushImage("locked", "d", "v1")
		f.run("", "repo", "update", f.ref("locked"), "--lock").ok(t)
		f.run("", "repo", "delete", f.ref("locked"), "--yes").fails(t, 1, "lock", "acrctl repo update "+f.ref("locked")+" --unlock")
	})
}

func TestRepoErrors(t *testing.T) {
	f := newFixture(t, true)
	f.pushImage("hello", "a", "v1")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no args", []string{"repo", "list"}, 2, []string{"takes the registry HOST[:PORT], got 0"}},
		{"too many args", []string{"repo", "show", f.ref("a"), f.ref("b")}, 2, []string{"got 2 argument(s)"}},
		{"scheme", []string{"repo", "list", "http://" + f.srv.Host}, 2, []string{"without a scheme", "--plain-http"}},
		{"https scheme", []string{"repo", "list", "https://" + f.srv.Host}, 2, []string{"without a scheme", "--ca-file CERT.pem or --insecure"}},
		{"not a host", []string{"repo", "list", "hello"}, 2, []string{"not a registry host"}},
		{"tag on repo", []string{"repo", "show", f.ref("hello:v1")}, 2, []string{"takes a repository: " + f.ref("hello")}},
		{"bad name", []string{"repo", "show", f.ref("Hello")}, 2, []string{"invalid reference"}},
		{"unknown subcommand", []string{"repo", "lsit"}, 2, []string{`unknown command "lsit"`}},
		{"unknown flag", []string{"repo", "list", f.srv.Host, "--bogus"}, 2, []string{"unknown flag: --bogus"}},
		{"bad output", []string{"repo", "list", f.srv.Host, "--output", "yaml"}, 2, []string{"want text, json or name"}},
		{"no name format", []string{"repo", "show", f.ref("hello"), "-o", "name"}, 2, []string{"want text or json"}},
		{"nothing to update", []string{"repo", "update", f.ref("hello")}, 2, []string{"nothing to update"}},
		{"lock and unlock", []string{"repo", "update", f.ref("hello"), "--lock", "--unlock"}, 2, []string{"lock", "unlock"}},
		{"password without user", []string{"repo", "list", f.srv.Host, "-p", "x"}, 2, []string{"need --username"}},
		{"user without password", []string{"repo", "list", f.srv.Host, "-u", "x"}, 2, []string{"--username needs --password"}},
		{"missing repo", []string{"repo", "show", f.ref("nope")}, 3, []string{f.ref("nope") + " not found", "NAME_UNKNOWN", "acrctl repo list " + f.srv.Host}},
		{"wrong password", []string{"repo", "list", f.srv.Host, "-u", testUser, "-p", "wrong"}, 1,
			[]string{"authentication failed", `refused user "admin" from --username`, "fix: check the user name and password given with --username", "acrctl login " + f.srv.Host}},
		{"nothing listens", []string{"repo", "list", "127.0.0.1:1"}, 1, []string{"cannot connect to 127.0.0.1:1", "acrctl serve"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := acrctl(t, "", tc.args...).fails(t, tc.code, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing on failure", r.stdout)
			}
		})
	}
}

// TestRepoListAnonymous checks anonymous use of a registry that allows
// anonymous pull: the catalog lists, as on ACR, and a change is refused
// with a message that names anonymous access, where acrctl looked, and
// acrctl login.
func TestRepoListAnonymous(t *testing.T) {
	f := newFixture(t, true)
	f.pushImage("app", "one", "v1")
	acrctl(t, "", "logout", f.srv.Host).ok(t)
	r := f.run("", "repo", "list", f.srv.Host).ok(t)
	if strings.TrimSpace(r.stdout) == "" || !strings.Contains(r.stdout, "app") {
		t.Errorf("anonymous repo list printed %q", r.stdout)
	}
	r = f.run("", "repo", "update", f.srv.Host+"/app", "--lock").fails(t, 1, "authentication failed", "refused anonymous access",
		"no credentials stored for it in "+f.config, "fix: run acrctl login "+f.srv.Host)
	golden(t, "repo-update-anonymous.stderr", normalizeConfig(r.stderr, f.config), f.srv.Host)
	// --output json prints nothing on failure: scripts get no half document.
	r = f.run("", "repo", "update", f.srv.Host+"/app", "--lock", "--output", "json")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("got exit %d and stdout %q, want 1 and nothing", r.code, r.stdout)
	}
}

// normalizeConfig replaces a fixture's docker config directory.
func normalizeConfig(s, dir string) string {
	return strings.ReplaceAll(s, dir, "DOCKER_CONFIG")
}

// TestRepositoryScopedUserMessages: a credential the registry accepts but
// whose rights stop short (an ACR repository-scoped token) is told so, not
// sent to log in again.
func TestRepositoryScopedUserMessages(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"ci": "c"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {{Repository: "app", Actions: []string{"content/read", "metadata/read"}}}}})
	for _, args := range [][]string{
		{"repo", "list", srv.Host},
		{"repo", "update", srv.Host + "/app", "--lock"},
	} {
		r := acrctl(t, "", append(args, "-u", "ci", "-p", "c")...).fails(t, 1, "permission denied", `accepted user "ci"`, "it needs ", "scope map allows")
		if strings.Contains(r.stderr, "acrctl login") {
			t.Errorf("%v: suggests logging in again: %s", args, r.stderr)
		}
	}
}

// TestPasswordThatIsAWord: redaction masks the secret where it is echoed,
// not the registry's own words: with password "user", the refusal reads
// "the user name or password is wrong", not "the [REDACTED] name".
func TestPasswordThatIsAWord(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"admin": "s3cret-Pa55word"}})
	r := acrctl(t, "", "repo", "list", srv.Host, "-u", "admin", "-p", "user").fails(t, 1, "authentication failed", "user name or password is wrong")
	if strings.Contains(r.stderr, "REDACTED") {
		t.Errorf("a registry phrase was masked: %s", r.stderr)
	}
}
