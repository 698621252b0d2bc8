package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
)

// pushTags pushes three images: v1, then v2, then v3 also tagged latest.
func pushTags(f *fixture) map[string]testImage {
	return map[string]testImage{
		"v1": f.pushImage("hello", "one", "v1"),
		"v2": f.pushImage("hello", "two", "v2"),
		"v3": f.pushImage("hello", "three", "v3", "latest"),
	}
}

func TestTagList(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		imgs := pushTags(f)
		for _, tc := range []struct {
			golden string
			args   []string
		}{
			{"tag-list.txt", nil},
			{"tag-list-time-desc.txt", []string{"--order", "time-desc"}},
			{"tag-list-time-asc.txt", []string{"--order=time-asc"}},
			{"tag-list-digest.txt", []string{"--digest", imgs["v3"].digest.String()}},
			{"tag-list-time-desc.json", []string{"--order", "time-desc", "--output", "json"}},
		} {
			r := f.run("", append([]string{"tag", "list", f.ref("hello")}, tc.args...)...).ok(t)
			golden(t, tc.golden, r.stdout, f.srv.Host)
		}
		// JSON parses into the documented shape.
		r := f.run("", "tag", "ls", f.ref("hello"), "--output", "json").ok(t)
		// The field names are ACR's /acr/v1 ones, which az acr repository
		// show-tags --detail prints.
		var doc struct {
			ImageName string `json:"imageName"`
			Tags      []struct {
				Name                 string `json:"name"`
				Digest               string `json:"digest"`
				LastUpdateTime       string `json:"lastUpdateTime"`
				ChangeableAttributes struct {
					WriteEnabled bool `json:"writeEnabled"`
				} `json:"changeableAttributes"`
			} `json:"tags"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.ImageName != "hello" || len(doc.Tags) != 4 || doc.Tags[0].Name != "latest" || doc.Tags[0].Digest != imgs["v3"].digest.String() ||
			!doc.Tags[0].ChangeableAttributes.WriteEnabled || doc.Tags[0].LastUpdateTime == "" {
			t.Errorf("got %+v", doc)
		}
		// -o name: one name per line, nothing else, in the listing's order.
		r = f.run("", "tag", "list", f.ref("hello"), "-o", "name", "--order", "time-asc").ok(t)
		if r.stdout != "v1\nv2\nv3\nlatest\n" && r.stdout != "v1\nv2\nlatest\nv3\n" {
			t.Errorf("-o name printed %q, want v1 v2 then v3 and latest, one per line", r.stdout)
		}
		r = f.run("", "tag", "list", f.ref("hello"), "-o", "name", "--digest", imgs["v3"].digest.String()).ok(t)
		if r.stdout != "latest\nv3\n" {
			t.Errorf("-o name --digest printed %q", r.stdout)
		}
		// -o name alone: the names-only listing, in name order; --last
		// resumes after a tag, whatever the page size.
		for _, args := range [][]string{{"-o", "name"}, {"-o", "name", "--page-size", "1"}} {
			r = f.run("", append([]string{"tag", "list", f.ref("hello")}, args...)...).ok(t)
			if r.stdout != "latest\nv1\nv2\nv3\n" {
				t.Errorf("%v printed %q, want latest v1 v2 v3", args, r.stdout)
			}
		}
		r = f.run("", "tag", "list", f.ref("hello"), "-o", "name", "--last", "v1", "--page-size", "1").ok(t)
		if r.stdout != "v2\nv3\n" {
			t.Errorf("-o name --last v1 printed %q, want v2 v3", r.stdout)
		}
		r = f.run("", "tag", "list", f.ref("hello"), "--last", "v2", "--page-size", "2").ok(t)
		if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "v3 ") {
			t.Errorf("--last v2 printed %q, want the header and v3", r.stdout)
		}
		r = f.run("", "manifest", "list", f.ref("hello"), "--last", imgs["v3"].digest.String(), "-o", "json").ok(t)
		if strings.Contains(r.stdout, imgs["v3"].digest.String()) {
			t.Errorf("manifest list --last %s lists it: %s", imgs["v3"].digest, r.stdout)
		}
	})
}

// TestTagListAnonymous lists tags without credentials from a registry that
// allows anonymous pull, as the SDK sample does.
func TestTagListAnonymous(t *testing.T) {
	f := newFixture(t, true)
	pushTags(f)
	acrctl(t, "", "logout", f.srv.Host).ok(t)
	r := f.run("", "tag", "list", f.ref("hello"), "--order", "time-desc").ok(t)
	golden(t, "tag-list-time-desc.txt", r.stdout, f.srv.Host)
	// Anonymous pull does not write.
	f.run("", "tag", "delete", f.ref("hello:v1")).fails(t, 1, "refused anonymous access", "acrctl login "+f.srv.Host)
}

func TestTagShow(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		pushTags(f)
		r := f.run("", "tag", "show", f.ref("hello:latest")).ok(t)
		golden(t, "tag-show.txt", r.stdout, f.srv.Host)
		r = f.run("", "tag", "show", f.ref("hello:latest"), "--output", "json").ok(t)
		golden(t, "tag-show.json", r.stdout, f.srv.Host)
	})
}

func TestTagUpdateAndDelete(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		imgs := pushTags(f)
		r := f.run("", "tag", "update", f.ref("hello:latest"), "--write-enabled", "false", "--delete-enabled", "false").ok(t)
		golden(t, "tag-update.txt", r.stdout, f.srv.Host)
		// The lock shows in listings and refuses the delete, with the fix.
		r = f.run("", "tag", "list", f.ref("hello"), "--digest", imgs["v3"].digest.String()).ok(t)
		golden(t, "tag-list-locked.txt", r.stdout, f.srv.Host)
		f.run("", "tag", "delete", f.ref("hello:latest")).fails(t, 1, f.ref("hello:latest")+" is locked", "REGISTRY_DISALLOWED_OPERATION",
			"writeEnabled and deleteEnabled are false on the tag "+f.ref("hello:latest"), "fix: acrctl tag update "+f.ref("hello:latest")+" --unlock")
		// The table's columns do not depend on the locks.
		r = f.run("", "tag", "list", f.ref("hello")).ok(t)
		if lines := strings.Split(r.stdout, "\n"); !strings.HasSuffix(strings.TrimSpace(lines[0]), "DISABLED") || !strings.Contains(r.stdout, "write,delete") {
			t.Errorf("tag list with a locked tag:\n%s", r.stdout)
		}
		if _, err := f.client.GetTagProperties(t.Context(), "hello", "latest"); err != nil {
			t.Fatalf("the locked tag is gone: %v", err)
		}
		r = f.run("", "tag", "update", f.ref("hello:latest"), "--unlock", "--read-enabled", "true", "--output", "json").ok(t)
		golden(t, "tag-update.json", r.stdout, f.srv.Host)
		r = f.run("", "tag", "delete", f.ref("hello:latest")).ok(t)
		golden(t, "tag-delete.txt", r.stdout, f.srv.Host)
		r = f.run("", "tag", "delete", f.ref("hello:v2"), "-o", "json").ok(t)
		golden(t, "tag-delete.json", r.stdout, f.srv.Host)
		if _, err := f.client.GetTagProperties(t.Context(), "hello", "latest"); !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("after delete: got %v, want ErrNotFound", err)
		}
		// The manifest stays, reachable by its other tag.
		if d, err := f.client.ResolveDigest(t.Context(), "hello", "v3"); err != nil || d != imgs["v3"].digest {
			t.Errorf("v3 resolves to %s, %v; want %s", d, err, imgs["v3"].digest)
		}
	})
}

func TestTagErrors(t *testing.T) {
	f := newFixture(t, false)
	pushTags(f)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"show without tag", []string{"tag", "show", f.ref("hello")}, 2, []string{"names no tag", f.ref("hello") + ":TAG"}},
		{"show by digest", []string{"tag", "show", f.ref("hello@sha256:" + strings.Repeat("a", 64))}, 2, []string{"names a digest"}},
		{"list with tag", []string{"tag", "list", f.ref("hello:v1")}, 2, []string{"takes a repository"}},
		{"bad order", []string{"tag", "list", f.ref("hello"), "--order", "newest"}, 2, []string{"time-desc"}},
		{"bad digest", []string{"tag", "list", f.ref("hello"), "--digest", "sha256:abc"}, 2, []string{"--digest", "not a digest"}},
		{"bad bool", []string{"tag", "update", f.ref("hello:v1"), "--write-enabled", "maybe"}, 2, []string{"want true or false"}},
		{"bool without value", []string{"tag", "update", f.ref("hello:v1"), "--write-enabled"}, 2, []string{"flag needs an argument"}},
		{"lock and write-enabled", []string{"tag", "update", f.ref("hello:v1"), "--lock", "--write-enabled", "true"}, 2, []string{"lock", "write-enabled"}},
		{"missing tag", []string{"tag", "show", f.ref("hello:nope")}, 3, []string{f.ref("hello:nope") + " not found", "acrctl tag list " + f.ref("hello")}},
		{"missing tag delete", []string{"tag", "delete", f.ref("hello:nope")}, 3, []string{"not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) { acrctl(t, "", tc.args...).fails(t, tc.code, tc.want...) })
	}
}

func TestAppendTableTime(t *testing.T) {
	for _, tm := range []time.Time{{}, time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("x", 3600)), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.Local)} {
		if got, want := string(appendTableTime([]byte("x"), tm)), "x"+formatTableTime(tm); got != want {
			t.Errorf("appendTableTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestAppendHex holds appendHex to encoding/hex: every byte value, in
// every position of a four-byte step, and lengths off the step.
func TestAppendHex(t *testing.T) {
	raw := make([]byte, 256+3)
	for i := range raw {
		raw[i] = byte(i)
	}
	for start := range 4 {
		for n := range 12 {
			in := raw[start : start+n]
			if got, want := string(appendHex([]byte("x"), in)), "x"+hex.EncodeToString(in); got != want {
				t.Errorf("appendHex(% x) = %q, want %q", in, got, want)
			}
		}
		in := raw[start : start+256]
		if got, want := string(appendHex(nil, in)), hex.EncodeToString(in); got != want {
			t.Errorf("appendHex(bytes %d-%d) = %q, want %q", start, start+255, got, want)
		}
	}
}

// TestTagTable holds tagTable to the tabwriter table it replaced.
func TestTagTable(t *testing.T) {
	for p, want := range map[acr.Permissions]string{
		{CanDelete: true, CanWrite: true, CanList: true, CanRead: true}: "-",
		{}: "write,delete,read,list",
		{CanDelete: true, CanList: true, CanRead: true}: "write",
		{CanWrite: true, CanRead: true}:                 "delete,list",
	} {
		if got := disabled(p); got != want {
			t.Errorf("disabled(%+v) = %q, want %q", p, got, want)
		}
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
	tags := []acr.TagProperties{
		{Name: "v1", Digest: digest.Digest("sha256:" + strings.Repeat("a", 64)), LastUpdatedOn: at, Permissions: acr.Permissions{CanDelete: true, CanWrite: true, CanList: true, CanRead: true}},
		{Name: "a-much-longer-tag-name", LastUpdatedOn: time.Time{}, Permissions: acr.Permissions{CanList: true}},
		{Name: "ünïcode", Digest: digest.Digest("sha256:" + strings.Repeat("b", 64)), LastUpdatedOn: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)},
		// Digests and times the table keeps as text.
		{Name: "upper", Digest: digest.Digest("sha256:" + strings.Repeat("C", 64)), LastUpdatedOn: time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Name: "sha512", Digest: digest.Digest("sha512:" + strings.Repeat("d", 128)), LastUpdatedOn: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
	}
	// Enough rows for several of tagTable's chunks.
	for i := range 2000 {
		tags = append(tags, acr.TagProperties{Name: fmt.Sprintf("gen-%0*d", i%40, i), Digest: digest.Digest(fmt.Sprintf("sha256:%064x", i)),
			LastUpdatedOn: at.Add(time.Duration(i) * time.Hour), Permissions: acr.Permissions{CanDelete: i%2 == 0, CanWrite: i%3 == 0, CanRead: true, CanList: true}})
	}
	for _, n := range []int{0, 1, 2, 3, 5, len(tags)} {
		var want, got bytes.Buffer
		tw := newTable(&want)
		fmt.Fprintln(tw, "TAG\tDIGEST\tLAST UPDATED (UTC)\tDISABLED")
		for _, t := range tags[:n] {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, orDash(t.Digest.String()), formatTableTime(t.LastUpdatedOn), disabled(t.Permissions))
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
		table := newTagTable()
		for _, tp := range tags[:n] {
			table.add(tp)
		}
		if err := table.write(&got); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%d tags:\n got %q\nwant %q", n, got.String(), want.String())
		}
	}
}
