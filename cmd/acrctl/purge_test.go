package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/purge"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// runPurgeCLI runs acrctl with args as run does, with purge registered
// whether or not root.go registers it yet.
func runPurgeCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd(strings.NewReader(stdin), &out, &errb)
	if c, _, err := root.Find([]string{"purge"}); err != nil || c == root {
		root.AddCommand(newPurgeCmd())
	}
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	switch {
	case err == nil:
		code = 0
	case errors.As(err, new(usageError)) || isCobraUsage(err):
		code = 2
	default:
		code = 1
	}
	if err != nil {
		fmt.Fprintln(&errb, "acrctl: "+oneLine(err.Error()))
	}
	return out.String(), errb.String(), code
}

// purgeRegistry is an emulator whose clock the test moves, with content
// pushed by the client.
type purgeRegistry struct {
	t      *testing.T
	srv    *acrtest.Server
	client *acr.Client
	mu     sync.Mutex
	now    time.Time
}

func newPurgeRegistry(t *testing.T, opts *emulator.Options) *purgeRegistry {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no stored credentials
	r := &purgeRegistry{t: t, now: time.Now().Add(-400 * 24 * time.Hour)}
	if opts == nil {
		opts = &emulator.Options{}
	}
	opts.Now = func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
	r.srv = acrtest.NewServer(t, opts)
	var cred acr.Credential
	for u, p := range opts.Users {
		cred = acr.BasicCredential(u, p)
	}
	c, err := acr.NewClient(r.srv.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.client = c
	return r
}

// daysAgo sets the registry clock for the pushes that follow.
func (r *purgeRegistry) daysAgo(n int) *purgeRegistry {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = time.Now().Add(-time.Duration(n) * purge.Day)
	return r
}

func (r *purgeRegistry) image(repo, seed string, tags ...string) ocispec.Descriptor {
	r.t.Helper()
	ctx := context.Background()
	cfg, err := r.client.UploadBlob(ctx, repo, strings.NewReader(`{"architecture":"amd64","os":"linux","seed":"`+seed+`"}`),
		&acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		r.t.Fatal(err)
	}
	m := ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{}}
	m.SchemaVersion = 2
	var d ocispec.Descriptor
	for _, tag := range append([]string{""}, tags...) {
		var o *acr.SetManifestOptions
		if tag != "" {
			o = &acr.SetManifestOptions{Tag: tag}
		}
		if d, err = r.client.SetImage(ctx, repo, m, o); err != nil {
			r.t.Fatal(err)
		}
	}
	return d
}

func (r *purgeRegistry) signature(repo string, subject ocispec.Descriptor) ocispec.Descriptor {
	r.t.Helper()
	ctx := context.Background()
	empty, err := r.client.UploadBlob(ctx, repo, strings.NewReader("{}"), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeEmptyJSON})
	if err != nil {
		r.t.Fatal(err)
	}
	m := ocispec.Manifest{Config: empty, Layers: []ocispec.Descriptor{}, ArtifactType: "application/vnd.cncf.notary.signature",
		Subject: &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}}
	m.SchemaVersion = 2
	d, err := r.client.SetImage(ctx, repo, m, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *purgeRegistry) tags(repo string) []string {
	r.t.Helper()
	var out []string
	for tp, err := range r.client.Tags(context.Background(), repo, nil) {
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, tp.Name)
	}
	return out
}

func (r *purgeRegistry) manifests(repo string) int {
	r.t.Helper()
	n := 0
	for _, err := range r.client.Manifests(context.Background(), repo, nil) {
		if err != nil {
			r.t.Fatal(err)
		}
		n++
	}
	return n
}

func populatePurge(r *purgeRegistry) (signed ocispec.Descriptor) {
	for i := 1; i <= 6; i++ {
		r.daysAgo(100-i).image("app", fmt.Sprint(i), fmt.Sprintf("v%d", i))
	}
	signed = r.daysAgo(90).image("app", "signed", "sig-me")
	r.signature("app", signed)
	r.daysAgo(80).image("app", "leftover")
	r.daysAgo(1).image("app", "new", "v7")
	r.daysAgo(90).image("other", "o", "v1")
	return signed
}

// TestPurgeDryRunThenRun: the dry run prints exactly the lines the real
// run then prints, and changes nothing.
func TestPurgeDryRunThenRun(t *testing.T) {
	r := newPurgeRegistry(t, nil)
	populatePurge(r)
	args := []string{"purge", r.srv.Host, "--filter", "app:v.*", "--filter", "app:sig-.*", "--ago", "30d", "--untagged"}

	dryOut, dryErr, code := runPurgeCLI(t, "", append(args, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, dryErr)
	}
	if got := r.tags("app"); len(got) != 8 {
		t.Fatalf("the dry run changed the tags: %v", got)
	}
	out, errOut, code := runPurgeCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	if out != dryOut {
		t.Errorf("real run printed\n%s\ndry run printed\n%s", out, dryOut)
	}
	// v1..v6 and sig-me are older than 30d (v7 is not); their
	// manifests go, the signature with its subject, and the untagged
	// leftover.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var kinds []string
	for _, l := range lines {
		kinds = append(kinds, strings.SplitN(l, "\t", 2)[0])
	}
	count := func(k string) int {
		return len(slices.DeleteFunc(slices.Clone(kinds), func(s string) bool { return s != k }))
	}
	if count("tag") != 7 || count("manifest") != 8 || count("referrer") != 1 {
		t.Errorf("deleted %d tags, %d manifests, %d referrers; want 7, 8, 1:\n%s", count("tag"), count("manifest"), count("referrer"), out)
	}
	if got := r.tags("app"); !slices.Equal(got, []string{"v7"}) {
		t.Errorf("tags left: %v, want [v7]", got)
	}
	if n := r.manifests("app"); n != 1 {
		t.Errorf("%d manifests left, want 1", n)
	}
	if !strings.Contains(dryErr, "would delete 7 tags, 8 untagged manifests and 1 referrer in 1 repository examined") {
		t.Errorf("dry-run summary:\n%s", dryErr)
	}
	if !strings.Contains(errOut, "deleted 7 tags, 8 untagged manifests and 1 referrer") {
		t.Errorf("summary:\n%s", errOut)
	}
	if r.tags("other")[0] != "v1" {
		t.Error("purged a repository no filter names")
	}
}

// TestPurgeJSON: --output json gives the set with reasons; the dry run's
// set is the real run's.
func TestPurgeJSON(t *testing.T) {
	r := newPurgeRegistry(t, nil)
	populatePurge(r)
	args := []string{"purge", r.srv.Host, "--filter", "app:.*", "--ago", "30d", "--untagged", "-o", "json"}
	type report struct {
		Registry string       `json:"registry"`
		DryRun   bool         `json:"dryRun"`
		Deleted  []purge.Item `json:"deleted"`
		Kept     []purge.Item `json:"kept"`
	}
	decode := func(s string) report {
		var rep report
		if err := json.Unmarshal([]byte(s), &rep); err != nil {
			t.Fatalf("%v:\n%s", err, s)
		}
		return rep
	}
	out, errOut, code := runPurgeCLI(t, "", append(args, "--dry-run")...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	dry := decode(out)
	out, errOut, code = runPurgeCLI(t, "", args...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	real := decode(out)
	if !dry.DryRun || real.DryRun || dry.Registry != r.srv.Host {
		t.Errorf("dryRun %v/%v, registry %q", dry.DryRun, real.DryRun, dry.Registry)
	}
	if len(real.Deleted) == 0 || fmt.Sprint(real.Deleted) != fmt.Sprint(dry.Deleted) {
		t.Errorf("real run deleted\n%v\ndry run\n%v", real.Deleted, dry.Deleted)
	}
	for _, it := range real.Deleted {
		if it.Reason == "" || it.Repository != "app" {
			t.Errorf("item without a reason: %+v", it)
		}
	}
	if got := r.tags("app"); !slices.Equal(got, []string{"v7"}) {
		t.Errorf("tags left: %v, want [v7]", got)
	}
}

func TestPurgeUsage(t *testing.T) {
	r := newPurgeRegistry(t, nil)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"purge", r.srv.Host, "--ago", "1d"}, "--filter is required"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b"}, "--ago is required"},
		{[]string{"purge", "--filter", "a:b", "--ago", "1d"}, "one registry host"},
		{[]string{"purge", r.srv.Host, "--filter", "a", "--ago", "1d"}, "want REPO_REGEX:TAG_REGEX"},
		{[]string{"purge", r.srv.Host, "--filter", "a:(?!b)", "--ago", "1d"}, "--filter"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b", "--ago", "-1d"}, "ages cannot be negative"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b", "--ago", "30days"}, "unknown unit"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b", "--ago", "1d", "--untagged", "--untagged-only"}, "untagged"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b", "--ago", "1d", "--unreferenced-only"}, "add --untagged or --untagged-only"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b", "--ago", "1d", "--concurrency", "0"}, "--concurrency 0"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b", "--ago", "1d", "-o", "yaml"}, "--output"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b", "--ago", "1d", "--username", "u"}, "--username needs --password"},
	} {
		_, errOut, code := runPurgeCLI(t, "", tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
	out, _, code := runPurgeCLI(t, "", "purge", "--help")
	for _, want := range []string{"not among the --keep newest", "--untagged-only", "kept index references", "subject is kept",
		"--include-locked", "100000000d", "--dry-run prints exactly", "Exit status"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// TestPurgeHugeAgo: --ago beyond what a duration holds means nothing is
// old enough (acr-cli#560).
func TestPurgeHugeAgo(t *testing.T) {
	r := newPurgeRegistry(t, nil)
	populatePurge(r)
	out, errOut, code := runPurgeCLI(t, "", "purge", r.srv.Host, "--filter", ".*:.*", "--ago", "100000000d", "--untagged")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if len(r.tags("app")) != 8 || r.manifests("app") != 10 {
		t.Error("deleted something")
	}
}

// TestPurgeBudgets: --max-deletes stops cleanly (exit 0) and says what
// remains; --timeout stops with exit 1; the next run finishes.
func TestPurgeBudgets(t *testing.T) {
	r := newPurgeRegistry(t, nil)
	populatePurge(r)
	args := []string{"purge", r.srv.Host, "--filter", "app:v.*", "--ago", "30d"}
	out, errOut, code := runPurgeCLI(t, "", append(args, "--max-deletes", "2")...)
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(errOut, "stopped at --max-deletes: 4 planned deletions remain; run again") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	_, errOut, code = runPurgeCLI(t, "", append(args, "--timeout", "1ns")...)
	if code != 1 || !strings.Contains(errOut, "stopped by --timeout 1ns") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
	out, errOut, code = runPurgeCLI(t, "", args...)
	if code != 0 || strings.Count(out, "\n") != 4 {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if got := r.tags("app"); !slices.Equal(got, []string{"sig-me", "v7"}) {
		t.Errorf("tags left: %v", got)
	}
}

// TestPurgeLocked: locked tags are kept and listed; --include-locked
// unlocks them first and says so.
func TestPurgeLocked(t *testing.T) {
	r := newPurgeRegistry(t, nil)
	populatePurge(r)
	if _, err := r.client.UpdateTagProperties(context.Background(), "app", "v1", acr.Locked()); err != nil {
		t.Fatal(err)
	}
	args := []string{"purge", r.srv.Host, "--filter", "app:v1", "--ago", "30d"}
	out, errOut, code := runPurgeCLI(t, "", args...)
	if code != 0 || out != "" || !strings.Contains(errOut, "kept tag app:v1: locked (writeEnabled=false, deleteEnabled=false)") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	out, errOut, code = runPurgeCLI(t, "", append(args, "--include-locked")...)
	if code != 0 || !strings.HasPrefix(out, "tag\tapp:v1\t") || !strings.Contains(errOut, "unlocked tag app:v1") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// TestPurgeCredentials: --username and --password (or - for stdin)
// authenticate; wrong ones fail with exit 1.
func TestPurgeCredentials(t *testing.T) {
	r := newPurgeRegistry(t, &emulator.Options{Users: map[string]string{"admin": "s3cret"}})
	r.daysAgo(50).image("app", "a", "v1")
	args := []string{"purge", r.srv.Host, "--filter", "app:.*", "--ago", "30d", "--dry-run", "-u", "admin"}
	out, errOut, code := runPurgeCLI(t, "s3cret\n", append(args, "-p", "-")...)
	if code != 0 || !strings.HasPrefix(out, "tag\tapp:v1") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	_, errOut, code = runPurgeCLI(t, "", append(args, "-p", "wr0ng-Pa55")...)
	if code != 1 || strings.Contains(errOut, "wr0ng-Pa55") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
	_, errOut, code = runPurgeCLI(t, "", "purge", r.srv.Host, "--filter", "app:.*", "--ago", "30d")
	if code != 1 {
		t.Errorf("anonymous: exit %d, stderr %s", code, errOut)
	}
}

// snapshot is what the registry serves: "repo:tag" -> the digest and the
// bytes a GET by tag returns, "repo@digest" -> the bytes by digest.
func (r *purgeRegistry) snapshot() map[string]string {
	r.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for repo, err := range r.client.Repositories(ctx, nil) {
		if err != nil {
			r.t.Fatal(err)
		}
		for tp, err := range r.client.Tags(ctx, repo, nil) {
			if err != nil {
				r.t.Fatal(err)
			}
			m, err := r.client.GetManifest(ctx, repo, tp.Name, nil)
			if err != nil {
				r.t.Fatal(err)
			}
			out[repo+":"+tp.Name] = tp.Digest.String() + " " + m.Digest.String() + " " + string(m.Bytes)
		}
		for mp, err := range r.client.Manifests(ctx, repo, nil) {
			if err != nil {
				r.t.Fatal(err)
			}
			m, err := r.client.GetManifest(ctx, repo, mp.Digest.String(), nil)
			if err != nil {
				r.t.Fatal(err)
			}
			out[repo+"@"+mp.Digest.String()] = string(m.Bytes)
		}
	}
	return out
}

// deleted lists what the registry keeps soft-deleted in repo, through
// the library: "tag repo:tag digest" and "manifest repo@digest", sorted.
func (r *purgeRegistry) deleted(repo string) []string {
	r.t.Helper()
	ctx := context.Background()
	var out []string
	for dt, err := range r.client.DeletedTags(ctx, repo, nil) {
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, "tag "+repo+":"+dt.Name+" "+dt.Digest.String())
	}
	for dm, err := range r.client.DeletedManifests(ctx, repo, nil) {
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, "manifest "+repo+"@"+dm.Digest.String())
	}
	slices.Sort(out)
	return out
}

// undoReport is the part of purge's --output json report these tests read.
type undoReport struct {
	Registry string       `json:"registry"`
	Deleted  []purge.Item `json:"deleted"`
	Recovery *struct {
		Restorable int       `json:"restorable"`
		Deleted    int       `json:"deleted"`
		Until      time.Time `json:"until"`
		Detail     string    `json:"detail"`
	} `json:"recovery"`
}

func (rep undoReport) deletedLines() []string {
	var out []string
	for _, it := range rep.Deleted {
		if it.Kind == purge.KindTag {
			out = append(out, "tag "+it.Ref()+" "+it.Digest.String())
		} else {
			out = append(out, "manifest "+it.Repository+"@"+it.Digest.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestPurgeUndo: on a registry with soft delete, purge's report says its
// deletions can be restored and until when; the registry lists exactly
// what it deleted; purge --undo REPORT restores all of it, and every tag
// and manifest reads back as before the purge, byte for byte.
func TestPurgeUndo(t *testing.T) {
	const retention = 7 * purge.Day
	r := newPurgeRegistry(t, &emulator.Options{SoftDeleteRetention: retention})
	populatePurge(r)
	before := r.snapshot()
	deletedAt := r.daysAgo(0).now // the registry's clock during the purge (it sends 100 ns precision)

	out, errOut, code := runPurgeCLI(t, "", "purge", r.srv.Host, "--filter", "app:v.*", "--filter", "app:sig-.*", "--ago", "30d",
		"--untagged", "-o", "json")
	if code != 0 || errOut != "" {
		t.Fatalf("purge: exit %d, stderr %q", code, errOut)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(report, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	var rep undoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(rep.Deleted) != 16 { // 7 tags, 8 manifests, 1 referrer: see TestPurgeDryRunThenRun
		t.Fatalf("deleted %d items, want 16:\n%s", len(rep.Deleted), out)
	}
	if rc := rep.Recovery; rc == nil || rc.Restorable != 16 || rc.Deleted != 16 || rc.Until.Sub(deletedAt.Add(retention)).Abs() > time.Microsecond ||
		!strings.Contains(rc.Detail, "all 16 deletions can be restored until "+deletedAt.Add(retention).UTC().Format(time.RFC3339)) {
		t.Errorf("recovery %+v, want all 16 restorable until %v", rc, deletedAt.Add(retention))
	}
	if got, want := r.deleted("app"), rep.deletedLines(); !slices.Equal(got, want) {
		t.Errorf("the registry lists as deleted\n%s\nthe purge deleted\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(r.snapshot()) >= len(before) {
		t.Fatal("the purge deleted nothing visible")
	}

	out, errOut, code = runPurgeCLI(t, "", "purge", "--undo", report)
	if code != 0 {
		t.Fatalf("undo: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 16 || !strings.Contains(errOut, r.srv.Host+": restored 7 tags, 8 untagged manifests and 1 referrer\n") {
		t.Errorf("undo printed %d lines:\n%s\nstderr:\n%s", len(lines), out, errOut)
	}
	for _, it := range rep.Deleted {
		want := fmt.Sprintf("%s\t%s\trestored", it.Kind, it.Ref())
		if it.Kind == purge.KindTag {
			want += " onto " + it.Digest.String()
		}
		if !slices.Contains(lines, want) {
			t.Errorf("undo did not print %q", want)
		}
	}
	after := r.snapshot()
	if len(after) != len(before) {
		t.Errorf("%d tags and manifests before the purge, %d after the undo", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: before the purge %.90q, after the undo %.90q", k, v, after[k])
		}
	}
	if got := r.deleted("app"); len(got) != 0 {
		t.Errorf("still listed as deleted after the undo: %v", got)
	}

	// Again, from stdin, as JSON: everything is back already.
	raw, _ := os.ReadFile(report)
	out, errOut, code = runPurgeCLI(t, string(raw), "purge", r.srv.Host, "--undo", "-", "-o", "json")
	var again struct {
		Registry string          `json:"registry"`
		Restored []purge.Item    `json:"restored"`
		Skipped  []purge.Outcome `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(out), &again); err != nil || code != 0 || errOut != "" {
		t.Fatalf("undo again: exit %d, %v, stderr %q:\n%s", code, err, errOut, out)
	}
	if again.Registry != r.srv.Host || len(again.Restored) != 0 || len(again.Skipped) != 16 {
		t.Errorf("undo again: registry %q, restored %d, skipped %d; want none restored, 16 skipped", again.Registry, len(again.Restored), len(again.Skipped))
	}
}

// TestPurgeUndoTagInUse: a tag pushed onto another image since the purge
// stays there and the undo says so and fails, unless --force.
func TestPurgeUndoTagInUse(t *testing.T) {
	r := newPurgeRegistry(t, &emulator.Options{SoftDeleteRetention: 7 * purge.Day})
	old := r.daysAgo(50).image("app", "old", "v1")
	other := r.daysAgo(50).image("app", "other", "v2")
	r.daysAgo(0) // deleted now, so that the retention has not run out at the undo
	out, errOut, code := runPurgeCLI(t, "", "purge", r.srv.Host, "--filter", "app:.*", "--ago", "30d", "-o", "json")
	if code != 0 {
		t.Fatalf("purge: exit %d, stderr %s", code, errOut)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(report, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	now := r.daysAgo(0).image("app", "new", "v1")

	out, errOut, code = runPurgeCLI(t, "", "purge", "--undo", report)
	if code != 1 || out != "tag\tapp:v2\trestored onto "+other.Digest.String()+"\n" ||
		!strings.Contains(errOut, "not restored tag app:v1: in use: the tag now points at "+now.Digest.String()+"; --force moves it back\n") ||
		!strings.Contains(errOut, "acrctl: 1 deletion could not be restored (listed above)") {
		t.Fatalf("undo: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if got := r.tagDigest("app", "v1"); got != now.Digest.String() {
		t.Fatalf("v1 -> %s, want it left at %s", got, now.Digest)
	}
	out, errOut, code = runPurgeCLI(t, "", "purge", "--undo", report, "--force")
	if code != 0 || out != "tag\tapp:v1\trestored onto "+old.Digest.String()+"\n" ||
		!strings.Contains(errOut, "skipped tag app:v2: already points at") {
		t.Fatalf("undo --force: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if got := r.tagDigest("app", "v1"); got != old.Digest.String() {
		t.Errorf("v1 -> %s, want it moved back to %s", got, old.Digest)
	}
}

func (r *purgeRegistry) tagDigest(repo, tag string) string {
	r.t.Helper()
	tp, err := r.client.GetTagProperties(context.Background(), repo, tag)
	if err != nil {
		r.t.Fatal(err)
	}
	return tp.Digest.String()
}

// TestPurgeUndoSummary: the text summary says whether the deletions can
// be restored: until when with soft delete, final without.
func TestPurgeUndoSummary(t *testing.T) {
	for _, soft := range []bool{true, false} {
		t.Run(fmt.Sprint("soft delete ", soft), func(t *testing.T) {
			opts := &emulator.Options{}
			if soft {
				opts.SoftDeleteRetention = 7 * purge.Day
			}
			r := newPurgeRegistry(t, opts)
			r.daysAgo(50).image("app", "a", "v1")
			at := r.daysAgo(0).now
			_, errOut, code := runPurgeCLI(t, "", "purge", r.srv.Host, "--filter", "app:.*", "--ago", "30d")
			want := "restore: the deletion can be restored until " + at.Add(7*purge.Day).UTC().Format(time.RFC3339) + " (acrctl manifest restore"
			if !soft {
				want = "restore: the deletions are final"
			}
			if code != 0 || !strings.Contains(errOut, want) {
				t.Errorf("exit %d, stderr:\n%s\nwant %q", code, errOut, want)
			}
		})
	}
}

// TestPurgeUndoUsage: --undo takes no purge flags, at most the report's
// host, and a report of a real run.
func TestPurgeUndoUsage(t *testing.T) {
	r := newPurgeRegistry(t, nil)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"registry":"`+r.srv.Host+`","dryRun":false,"deleted":[],"repositories":[]}`)
	dry := write("dry.json", `{"registry":"`+r.srv.Host+`","dryRun":true,"deleted":[],"repositories":[]}`)
	other := write("other.json", `{"items":[]}`)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"purge", "--undo", good, "--filter", "a:b"}, 2, "takes no --filter"},
		{[]string{"purge", "--undo", good, "--ago", "1d"}, 2, "takes no --ago"},
		{[]string{"purge", "--undo", good, "--dry-run"}, 2, "takes no --dry-run"},
		{[]string{"purge", "--undo", good, "a", "b"}, 2, "at most one registry host"},
		{[]string{"purge", "--undo", good, "elsewhere.azurecr.io"}, 2, "not elsewhere.azurecr.io"},
		{[]string{"purge", r.srv.Host, "--filter", "a:b", "--ago", "1d", "--force"}, 2, "--force goes with --undo"},
		{[]string{"purge", "--undo", dry}, 1, "dry run, which deleted nothing"},
		{[]string{"purge", "--undo", other}, 1, "not the --output json report of acrctl purge"},
		{[]string{"purge", "--undo", filepath.Join(dir, "missing.json")}, 1, "fix: give the file that acrctl purge --output json wrote"},
		{[]string{"purge", "--undo", "-", "-u", "x", "-p", "-"}, 2, "both read stdin"},
	} {
		_, errOut, code := runPurgeCLI(t, "", tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	out, errOut, code := runPurgeCLI(t, "", "purge", "--undo", good)
	if code != 0 || out != "" || errOut != r.srv.Host+": restored 0 tags, 0 untagged manifests and 0 referrers\n" {
		t.Errorf("empty report: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestPurgeConnectsAsEveryCommand: purge takes the shared connection flags
// (--ca-file, -v before the subcommand, --password-stdin) and explains an
// https registry addressed over http (it printed a bare 400 and could not
// reach a registry with its own CA).
func TestPurgeConnectsAsEveryCommand(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := acrtest.NewTLSServer(t, &emulator.Options{Users: map[string]string{"admin": "pw"}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.HTTP.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	acrctl(t, "", "push", srv.Host+"/app:v1", file, "--ca-file", ca, "-u", "admin", "-p", "pw").ok(t)
	r := acrctl(t, "pw\n", "-v", "purge", srv.Host, "--filter", "app:.*", "--ago", "0", "--dry-run",
		"--ca-file", ca, "-u", "admin", "--password-stdin").ok(t)
	if !strings.Contains(r.stderr, "https://"+srv.Host) {
		t.Errorf("-v logged no https exchange: %q", r.stderr)
	}
	acrctl(t, "", "purge", srv.Host, "--filter", "app:.*", "--ago", "0", "--dry-run", "-u", "admin", "-p", "pw").
		fails(t, 1, "speaks https", "--ca-file")
}

// TestPurgeRepositoryNotExamined: a repository the credential may not read
// is reported as not examined, not as a failed deletion.
func TestPurgeRepositoryNotExamined(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"ci": "c"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {{Repository: "app", Actions: []string{"content/read", "metadata/read"}}}}})
	r := acrctl(t, "", "purge", srv.Host, "--filter", "apple:.*", "--ago", "0", "--dry-run", "-u", "ci", "-p", "c")
	if r.code != 1 || !strings.Contains(r.stderr, "acrctl: 1 repository could not be examined (listed above)") ||
		strings.Contains(r.stderr, "planned deletions") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestPurgeKeepAsACRPurge: --keep keeps the newest of the tags that would
// go, as acr purge's does, so a schedule ported from an ACR task deletes
// no more than it did there: with three builds from yesterday and five
// older than --ago, --keep 2 keeps yesterday's three and two old ones.
func TestPurgeKeepAsACRPurge(t *testing.T) {
	r := newPurgeRegistry(t, nil)
	for i := 1; i <= 5; i++ {
		r.daysAgo(50-i).image("app", fmt.Sprint(i), fmt.Sprintf("build-%d", i))
	}
	for i := 6; i <= 8; i++ {
		r.daysAgo(1).image("app", fmt.Sprint(i), fmt.Sprintf("build-%d", i))
	}
	out, errOut, code := runPurgeCLI(t, "", "purge", r.srv.Host, "--filter", "app:build-.*", "--ago", "30d", "--keep", "2", "-o", "json")
	if code != 0 || errOut != "" {
		t.Fatalf("purge: exit %d, stderr %q", code, errOut)
	}
	var rep undoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	var gone []string
	for _, it := range rep.Deleted {
		gone = append(gone, it.Tag)
	}
	if want := []string{"build-1", "build-2", "build-3"}; !slices.Equal(gone, want) {
		t.Errorf("deleted %v, want %v", gone, want)
	}
	if got, want := r.tags("app"), []string{"build-4", "build-5", "build-6", "build-7", "build-8"}; !slices.Equal(got, want) {
		t.Errorf("tags left: %v, want %v", got, want)
	}
}

// TestPurgeDryRunRefused: a dry run as a credential that may not delete
// (an ACR scope map without content/delete) says which deletions the
// registry would refuse and how to grant them, and exits 1 as the real
// run would; nothing is deleted.
func TestPurgeDryRunRefused(t *testing.T) {
	r := newPurgeRegistry(t, &emulator.Options{Users: map[string]string{"admin": "s3cret", "ci": "c1-pass"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {{Repository: "app", Actions: []string{"content/read", "metadata/read"}}}}})
	admin, err := acr.NewClient(r.srv.URL, acr.BasicCredential("admin", "s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.client = admin
	r.daysAgo(50).image("app", "a", "v1")
	before := r.snapshot()
	_, errOut, code := runPurgeCLI(t, "", "purge", r.srv.Host, "--filter", "app:.*", "--ago", "30d", "--dry-run", "-u", "ci", "-p", "c1-pass")
	if code != 1 || !strings.Contains(errOut, "would fail tag app:v1: ") || !strings.Contains(errOut, "content/delete") ||
		!strings.Contains(errOut, "the registry would refuse 1 of the planned deletions") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	if after := r.snapshot(); len(after) != len(before) {
		t.Errorf("the dry run changed the registry: %d objects before, %d after", len(before), len(after))
	}
}

// TestPurgeMissingRepository: a repository that a filter names literally
// and the registry does not hold (a typing mistake in a scheduled job) is
// exit 3 with the name and where the names are listed, after the rest of
// the run; a pattern that matches no repository is no error.
func TestPurgeMissingRepository(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	acrctl(t, "", "push", srv.Host+"/app:v1", file).ok(t)
	r := acrctl(t, "", "purge", srv.Host, "--filter", "ap:.*", "--filter", "app:v1", "--ago", "0")
	last := r.stderr[strings.LastIndex(strings.TrimRight(r.stderr, "\n"), "\n")+1:]
	if r.code != 3 || !strings.HasPrefix(last, "acrctl: "+srv.Host+" holds no repository ap, which --filter names") ||
		!strings.Contains(last, "acrctl repo list "+srv.Host) {
		t.Errorf("exit %d, last line %q; want 3 naming ap and how to list the repositories", r.code, last)
	}
	if !strings.Contains(r.stdout, "app:v1") {
		t.Errorf("the rest of the run was not done: stdout %q", r.stdout)
	}
	acrctl(t, "", "purge", srv.Host, "--filter", "zz.*:.*", "--ago", "0").ok(t)
	// With a pattern beside it (the catalog is listed), the literal name
	// is still checked.
	r = acrctl(t, "", "purge", srv.Host, "--filter", "ap:.*", "--filter", "zz.*:.*", "--ago", "0", "--dry-run")
	if r.code != 3 || !strings.Contains(r.stderr, "holds no repository ap") {
		t.Errorf("a missing literal repository beside a pattern: exit %d, stderr %q; want 3 naming ap", r.code, r.stderr)
	}
}
