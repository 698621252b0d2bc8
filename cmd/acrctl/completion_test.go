package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := acrctl(t, "", "completion", shell).ok(t)
		if len(r.stdout) < 1000 || !strings.Contains(r.stdout, "acrctl") {
			t.Errorf("completion %s printed %d bytes", shell, len(r.stdout))
		}
	}
	acrctl(t, "", "completion", "powershell").fails(t, 2, "unknown shell")
	acrctl(t, "", "completion").fails(t, 2, "bash, zsh or fish")
}

// TestCompletionValues checks what the shell is offered: subcommands,
// flag values and registry hosts from docker's config.json.
func TestCompletionValues(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"myregistry.azurecr.io":{},"https://localhost:5000":{}}}`), 0o600)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", ""}, []string{"quickstart", "repo", "tag", "manifest", "blob", "login", "logout", "completion", "serve"}},
		{[]string{"__complete", "tag", "list", "x/y", "--order", ""}, []string{"time-desc", "time-asc"}},
		{[]string{"__complete", "repo", "show", "x/y", "--output", ""}, []string{"text", "json"}},
		{[]string{"__complete", "tag", "update", "x/y:z", "--write-enabled", ""}, []string{"true", "false"}},
		{[]string{"__complete", "repo", "list", ""}, []string{"localhost:5000", "myregistry.azurecr.io"}},
		{[]string{"__complete", "tag", "list", ""}, []string{"localhost:5000/", "myregistry.azurecr.io/"}},
		{[]string{"__complete", "logout", ""}, []string{"localhost:5000", "myregistry.azurecr.io"}},
		{[]string{"__complete", "completion", ""}, []string{"bash", "zsh", "fish"}},
	} {
		r := acrctl(t, "", tc.args...).ok(t)
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w+"\n") && !strings.Contains(r.stdout, w+"\t") {
				t.Errorf("%v: completions lack %q:\n%s", tc.args[1:], w, r.stdout)
			}
		}
	}
}

// TestHelpExamples checks that every command documents itself with
// examples and that --help succeeds.
func TestHelpExamples(t *testing.T) {
	root := newRootCmd(nil, nil, nil)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			if sub.Runnable() && !sub.HasSubCommands() && sub.Example == "" {
				t.Errorf("%s has no examples", sub.CommandPath())
			}
			args := append(strings.Fields(strings.TrimPrefix(sub.CommandPath(), "acrctl ")), "--help")
			r := acrctl(t, "", args...).ok(t)
			if sub.Example != "" && !strings.Contains(r.stdout, "Examples:") {
				t.Errorf("%s --help shows no examples", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}
