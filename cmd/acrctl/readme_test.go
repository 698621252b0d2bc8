package main

import (
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// readmeEntry is one acrctl command line of a sh block of the README, with
// its continuation lines, comments removed.
type readmeEntry struct {
	line int    // of its first line in README.md
	text string // the command line without comments
	// usage says the entry is the reference syntax of a command (it has
	// brackets), not an example with real values.
	usage bool
}

// readmeEntries returns the acrctl command lines of the README's sh blocks
// and the flags that the reference says every command reaching a registry
// also takes (its "also take:" comment).
func readmeEntries(t *testing.T) ([]readmeEntry, []string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var entries []readmeEntry
	var common []string
	inSh, cont := false, false
	for i, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "```"):
			inSh, cont = strings.TrimPrefix(l, "```") == "sh", false
			continue
		case !inSh:
			continue
		}
		code, comment, _ := strings.Cut(l, "#")
		if strings.Contains(comment, "also take:") {
			common = append(common, readmeFlags(comment)...)
		}
		trimmed := strings.TrimSpace(code)
		switch {
		case strings.HasPrefix(code, "acrctl "):
			entries = append(entries, readmeEntry{line: i + 1, text: trimmed})
			cont = strings.HasSuffix(trimmed, `\`)
		case cont && trimmed != "":
			e := &entries[len(entries)-1]
			e.text += " " + trimmed
			cont = strings.HasSuffix(trimmed, `\`)
		default:
			cont = false
		}
	}
	for i := range entries {
		entries[i].text = strings.ReplaceAll(entries[i].text, `\`, "")
		entries[i].usage = strings.Contains(entries[i].text, "[")
	}
	if len(entries) < 30 || len(common) < 8 {
		t.Fatalf("found %d acrctl lines and %d common flags in the README; the parser no longer fits it", len(entries), len(common))
	}
	return entries, common
}

var flagWord = regexp.MustCompile(`(?:^|[\s\[|(])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b`)

// readmeFlags returns the flags named in s, long and short.
func readmeFlags(s string) []string {
	var fs []string
	for _, m := range flagWord.FindAllStringSubmatch(s, -1) {
		fs = append(fs, m[1])
	}
	return fs
}

// readmeCommands returns the commands an entry documents: "acrctl tag show
// | update [lock flags] | delete REF" documents tag show, tag update and tag
// delete; "credential-helper get|store" documents both actions.
func readmeCommands(t *testing.T, root *cobra.Command, e readmeEntry) []*cobra.Command {
	t.Helper()
	words := strings.Fields(strings.TrimPrefix(e.text, "acrctl "))
	var parent *cobra.Command
	var path []string
	for _, w := range words {
		if !regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(w) {
			break
		}
		c, rest, err := root.Find(append(slices.Clone(path), w))
		if err != nil || len(rest) != 0 || c == parent {
			break
		}
		parent, path = c, append(path, w)
	}
	if parent == nil {
		return []*cobra.Command{root}
	}
	// Alternatives after the last command word: "| update", "get|store".
	cmds := []*cobra.Command{parent}
	base := path[:len(path)-1]
	after := strings.Join(words[len(path):], " ")
	after = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(after, "")
	for _, alt := range regexp.MustCompile(`(?:^|\|)\s*([a-z][a-z-]*)`).FindAllStringSubmatch(path[len(path)-1]+after, -1) {
		c, rest, err := root.Find(append(slices.Clone(base), alt[1]))
		if err == nil && len(rest) == 0 && c.Parent() == parent.Parent() && !slices.Contains(cmds, c) {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// commandFlags returns the flags a command takes, its own and inherited,
// by long name with the shorthand, leaving out hidden ones.
func commandFlags(c *cobra.Command) map[string]string {
	fs := map[string]string{}
	add := func(f *pflag.Flag) {
		if !f.Hidden {
			fs["--"+f.Name] = f.Shorthand
		}
	}
	c.Flags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	return fs
}

// TestREADMECommandReference keeps the README's command reference equal
// to --help: every flag an acrctl line of the README names exists on the
// command it documents, and every flag of a command appears on the
// reference line that documents it (or in the "also take:" list).
func TestREADMECommandReference(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard)
	entries, common := readmeEntries(t)
	commonSet := map[string]bool{"--help": true, "-h": true, "--version": true}
	for _, f := range common {
		commonSet[f] = true
	}
	lockFlags := []string{"--delete-enabled", "--write-enabled", "--list-enabled", "--read-enabled", "--lock", "--unlock"}
	named := map[*cobra.Command]map[string]bool{} // the flags the README names for each command
	documented := map[*cobra.Command]bool{}       // by a reference line
	mentioned := map[*cobra.Command]bool{}        // by any line
	for _, e := range entries {
		cmds := readmeCommands(t, root, e)
		names := map[string]bool{}
		for _, f := range readmeFlags(e.text) {
			names[f] = true
		}
		if strings.Contains(e.text, "[lock flags]") {
			for _, f := range lockFlags {
				names[f] = true
			}
		}
		// Forward: each flag named exists on one of the commands.
		for f := range names {
			found := commonSet[f]
			for _, c := range cmds {
				for long, short := range commandFlags(c) {
					if f == long || (short != "" && f == "-"+short) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("README.md:%d: %s names %s, which %s does not take", e.line, e.text, f, cmds[0].CommandPath())
			}
		}
		for _, c := range cmds {
			if named[c] == nil {
				named[c] = map[string]bool{}
			}
			for f := range names {
				named[c][f] = true
			}
			mentioned[c] = true
			if e.usage {
				documented[c] = true
			}
		}
	}
	// Backward: each flag of a documented command is named for it.
	for c := range documented {
		for long, short := range commandFlags(c) {
			if commonSet[long] || named[c][long] || (short != "" && (named[c]["-"+short] || commonSet["-"+short])) {
				continue
			}
			t.Errorf("README.md: the reference of %s lacks %s (see '%s --help')", c.CommandPath(), long, c.CommandPath())
		}
	}
	// Every visible command that is not a group has a line.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Parent().Name() == "completion" {
				continue
			}
			if !sub.HasSubCommands() && !mentioned[sub] {
				t.Errorf("README.md has no line for %s", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}
