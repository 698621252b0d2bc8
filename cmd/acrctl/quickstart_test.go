package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
)

// TestQuickstart runs the README's first command end to end: a real
// registry on disk, every step verified, exit 0.
func TestQuickstart(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	r := acrctl(t, "", "quickstart").ok(t)
	host := regexp.MustCompile(`at http://(127\.0\.0\.1:\d+)`).FindStringSubmatch(r.stdout)
	if host == nil {
		t.Fatalf("no registry address in the output:\n%s", r.stdout)
	}
	if n := strings.Count(r.stdout, "\n      ok: "); n != 8 {
		t.Errorf("%d steps verified, want 8:\n%s", n, r.stdout)
	}
	golden(t, "quickstart.txt", strings.ReplaceAll(r.stdout, selfName(), "acrctl"), host[1])
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// TestQuickstartKeepRunning checks that the registry keeps serving after
// the tour and that the printed commands work against it.
func TestQuickstartKeepRunning(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"quickstart", "--keep-running"}, strings.NewReader(""), &out, &errb) }()

	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "until Ctrl-C") {
		select {
		case code := <-done:
			t.Fatalf("quickstart --keep-running exited with %d before serving:\n%s\n%s", code, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("quickstart did not finish its tour in a minute:\n%s", out.String())
		}
	}
	text := out.String()
	host := regexp.MustCompile(`keeps serving at (127\.0\.0\.1:\d+)`).FindStringSubmatch(text)[1]
	m := regexp.MustCompile(`login \S+ -u admin --password-stdin < (\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no login command in the output:\n%s", text)
	}
	golden(t, "quickstart-keep-running.txt", strings.ReplaceAll(text[strings.Index(text, "\nThe registry keeps serving"):], selfName(), "acrctl"), host)

	// The printed commands work: anonymous tag list, login from the
	// password file, then an authenticated listing.
	r := acrctl(t, "", "tag", "list", host+"/library/hello-world", "--order", "time-desc").ok(t)
	if !strings.HasPrefix(strings.SplitN(r.stdout, "\n", 3)[1], "latest ") {
		t.Errorf("tag list newest first does not start with latest:\n%s", r.stdout)
	}
	pass, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	acrctl(t, string(pass), "login", host, "-u", "admin", "--password-stdin").ok(t)
	r = acrctl(t, "", "repo", "list", host).ok(t)
	if r.stdout != "library/hello-world\n" {
		t.Errorf("repo list: %q", r.stdout)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d after Ctrl-C, want 0: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("quickstart did not stop after its context was cancelled")
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the password file %s outlived the registry", m[1])
	}
	// The printed logout removes the credentials the login stored, with
	// the registry gone.
	acrctl(t, "", "logout", host).ok(t)
	if b, err := os.ReadFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json")); err != nil || strings.Contains(string(b), host) {
		t.Errorf("docker config after logout: %s (%v); want no entry for %s", b, err, host)
	}
}

// TestQuickstartData runs twice on one data directory: the second run
// removes what the first left and verifies every step again.
func TestQuickstartData(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := t.TempDir()
	r := acrctl(t, "", "quickstart", "--data", dir, "--user", "me:pw").ok(t)
	if strings.Contains(r.stdout, "earlier run") {
		t.Errorf("the first run found an earlier one:\n%s", r.stdout)
	}
	r = acrctl(t, "", "quickstart", "--data", dir, "--user", "me:pw").ok(t)
	if !strings.Contains(r.stdout, "Removed library/hello-world, left by an earlier run") || !strings.Contains(r.stdout, "All 8 steps verified.") {
		t.Errorf("second run:\n%s", r.stdout)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("--data directory removed: %v", err)
	}
}

func TestQuickstartUsage(t *testing.T) {
	acrctl(t, "", "quickstart", "--addr", "0.0.0.0:0").fails(t, 2, "loopback")
	acrctl(t, "", "quickstart", "--user", "nopassword").fails(t, 2, "NAME:PASSWORD")
	acrctl(t, "", "quickstart", "extra").fails(t, 2, "unknown command")
}

// TestQuickstartNamesRealCalls: the library calls and acrctl commands each
// step names exist, and the commands parse with the flags given.
func TestQuickstartNamesRealCalls(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	r := acrctl(t, "", "quickstart").ok(t)
	client := reflect.TypeOf(&acr.Client{})
	var libs, clis int
	for _, line := range strings.Split(r.stdout, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "library: "); ok {
			for _, call := range regexp.MustCompile(`\b(client|Manifest)\.([A-Z]\w+)`).FindAllStringSubmatch(rest, -1) {
				libs++
				typ := client
				if call[1] == "Manifest" {
					typ = reflect.TypeOf(acr.Manifest{})
				}
				if _, ok := typ.MethodByName(call[2]); !ok {
					t.Errorf("step names %s.%s, which %s does not have", call[1], call[2], typ)
				}
			}
		}
		if rest, ok := strings.CutPrefix(line, "acrctl:  "+selfName()+" "); ok {
			clis++
			args := strings.Fields(rest)
			root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard)
			cmd, flags, err := root.Find(args)
			if err != nil || cmd == root || !cmd.Runnable() || cmd.HasSubCommands() {
				t.Errorf("%q: not an acrctl command (%v)", rest, err)
				continue
			}
			if err := cmd.ParseFlags(flags); err != nil {
				t.Errorf("%q: %v", rest, err)
			}
		}
	}
	if libs < 16 || clis < 13 {
		t.Errorf("found %d library calls and %d acrctl commands in the tour, want every step to name both:\n%s", libs, clis, r.stdout)
	}
}
