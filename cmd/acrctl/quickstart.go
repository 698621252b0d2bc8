package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

type quickstartFlags struct {
	data        string
	addr        string
	user        string
	keepRunning bool
	verbose     bool
}

func newQuickstartCmd() *cobra.Command {
	var f quickstartFlags
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Start a local registry and walk through the client library, verifying each step",
		Long: `Start the local ACR-compatible registry in this process (in a temporary directory unless
--data is given; a generated admin user; anonymous pull on) and walk through the
scenarios of the Azure Container Registry SDK samples with the acr library: upload
images, list repositories, list tags newest first without credentials, lock a tag and
see a delete refused, delete all but the newest three images, download an image and
verify every digest, delete a manifest and a blob.

Each step names the library calls it makes and the acrctl commands that do the same,
then prints what it did and what it verified; the command exits 0 only when every step
verified. With --keep-running the registry keeps serving afterwards, until Ctrl-C,
and the command prints how to point acrctl at it.`,
		Example: `  acrctl quickstart
  acrctl quickstart --keep-running --addr 127.0.0.1:5000
  acrctl quickstart --data ./registry --user admin:s3cret --keep-running`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return quickstart(cmd.Context(), cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "", "keep the registry's data in this directory (default: a temporary one, removed at exit)")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:0", "loopback address to listen on (port 0 picks a free one)")
	fl.StringVar(&f.user, "user", "", "registry user NAME:PASSWORD (default: admin with a generated password)")
	fl.BoolVar(&f.keepRunning, "keep-running", false, "keep serving after the tour, until Ctrl-C")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print each HTTP exchange of the tour on stderr")
	return cmd
}

// quickstartRepo is the repository of the tour, as in the SDK samples.
const quickstartRepo = "library/hello-world"

func quickstart(ctx context.Context, cmd *cobra.Command, f quickstartFlags) error {
	out := cmd.OutOrStdout()
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil || !isLoopbackHost(host) {
		return usageError{fmt.Errorf("--addr %q: want a loopback HOST:PORT such as 127.0.0.1:5000 (the tour sends credentials over plain http)", f.addr)}
	}
	user, pass := "admin", ""
	if f.user != "" {
		var ok bool
		user, pass, ok = strings.Cut(f.user, ":")
		if !ok || user == "" || pass == "" {
			return usageError{fmt.Errorf("--user %q: want NAME:PASSWORD, both non-empty", redactUser(f.user))}
		}
	} else {
		b := make([]byte, 18)
		rand.Read(b)
		pass = base64.RawURLEncoding.EncodeToString(b)
	}

	dir := f.data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "acrctl-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "registry")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	srv, err := emulator.New(&emulator.Options{Dir: dir, Users: map[string]string{user: pass}, AnonymousPull: true})
	if err != nil {
		return fmt.Errorf("start the local registry in %s: %w", dir, err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pick another --addr, or port 0 for a free one)", f.addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	go hs.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	reg := ln.Addr().String()

	var logger *slog.Logger
	if f.verbose {
		logger = verboseLogger(cmd.ErrOrStderr())
	}
	opts := &acr.ClientOptions{UserAgent: "acrctl-quickstart", Logger: logger}
	client, err := acr.NewClient(reg, acr.BasicCredential(user, pass), opts)
	if err != nil {
		return err
	}
	anon, err := acr.NewClient(reg, nil, opts)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "Started a local registry at http://%s\n", reg)
	fmt.Fprintf(out, "  data in %s\n", dir)
	fmt.Fprintf(out, "  authentication on: user %q; anonymous pull allowed\n", user)
	fmt.Fprintf(out, "The tour follows the Azure Container Registry SDK samples with the acr library;\n")
	fmt.Fprintf(out, "each step names the library calls it makes and the acrctl commands that do the same.\n")

	t := &tour{w: out, ctx: ctx, client: client, anon: anon, reg: reg}
	if err := t.cleanEarlierRun(); err != nil {
		return err
	}
	// Each step names the library calls it makes and the acrctl commands
	// that do the same from a shell.
	self, base := selfName(), reg+"/"+quickstartRepo
	steps := []struct {
		title string
		lib   string
		cli   []string
		run   func() (string, error)
	}{
		{"Upload images: config and layers with UploadBlob, manifests with SetImage",
			"client.UploadBlob, client.SetImage, client.ResolveDigest",
			[]string{"blob put " + base + " FILE", "copy oci:DIR:v1 " + base + ":v1"}, t.upload},
		{"List repositories", "client.Repositories", []string{"repo list " + reg}, t.listRepositories},
		{"List tags newest first, with anonymous access",
			"client.Tags with TagsOptions{Order: acr.OrderLastUpdatedDesc}, then TagsOptions{Digest: ...}; client.DeleteTag",
			[]string{"tag list " + base + " --order time-desc", "tag list " + base + " --digest " + "DIGEST"}, t.listTagsAnonymously},
		{"Lock a tag (CanWrite=false, CanDelete=false) and try to delete it",
			"client.UpdateTagProperties, client.DeleteTag (acr.ErrLocked), client.GetTagProperties",
			[]string{"tag update " + base + ":latest --lock", "tag delete " + base + ":latest", "tag update " + base + ":latest --unlock"}, t.lockTag},
		{"Delete images older than the newest three",
			"client.Manifests with ManifestsOptions{Order: acr.OrderLastUpdatedDesc}, client.DeleteTag, client.DeleteManifest",
			[]string{"manifest list " + base + " --order time-desc", "manifest delete " + base + "@DIGEST --yes"}, t.deleteOldImages},
		{"Download image :latest and verify every digest", "client.GetManifest, Manifest.Image, client.DownloadBlobTo",
			[]string{"manifest get " + base + ":latest", "blob get " + base + "@DIGEST --output-file FILE"}, t.download},
		{"Delete a manifest", "client.DeleteManifest, client.GetManifest, client.ResolveDigest (acr.ErrNotFound)",
			[]string{"manifest delete " + base + ":v3 --yes"}, t.deleteManifest},
		{"Delete blobs: the layers of the deleted manifest", "client.DeleteBlob, client.BlobExists",
			[]string{"blob delete " + base + "@DIGEST", "blob exists " + base + "@DIGEST"}, t.deleteBlobs},
	}
	for i, s := range steps {
		fmt.Fprintf(out, "\n[%d/%d] %s\n", i+1, len(steps), s.title)
		fmt.Fprintf(out, "      library: %s\n", s.lib)
		for _, c := range s.cli {
			fmt.Fprintf(out, "      acrctl:  %s %s\n", self, c)
		}
		verified, err := s.run()
		if err != nil {
			if ctx.Err() != nil {
				return errors.New("interrupted")
			}
			fmt.Fprintf(out, "      FAILED: %v\n", err)
			return fmt.Errorf("quickstart step %d (%s) failed: %w", i+1, s.title, err)
		}
		fmt.Fprintf(out, "      ok: %s\n", verified)
	}
	fmt.Fprintf(out, "\nAll %d steps verified.\n", len(steps))

	if !f.keepRunning {
		fmt.Fprintf(out, "The registry stops with this command. To keep it serving and point\nacrctl at it, run:\n  %s quickstart --keep-running\n", selfName())
		return nil
	}
	passNote := "the password given to --user"
	if f.user == "" {
		pf, err := os.CreateTemp("", "acrctl-quickstart-password-")
		if err != nil {
			return err
		}
		defer os.Remove(pf.Name())
		pf.WriteString(pass + "\n")
		pf.Close()
		passNote = pf.Name()
	}
	fmt.Fprintf(out, "\nThe registry keeps serving at %s until Ctrl-C. From another terminal:\n", reg)
	fmt.Fprintf(out, "  # anonymous pull is on:\n")
	fmt.Fprintf(out, "  %s tag list %s/%s --order time-desc\n", self, reg, quickstartRepo)
	fmt.Fprintf(out, "  # log in (the credentials go to docker's config.json), then any command:\n")
	fmt.Fprintf(out, "  %s login %s -u %s --password-stdin < %s\n", self, reg, user, passNote)
	fmt.Fprintf(out, "  %s repo list %s\n", self, reg)
	fmt.Fprintf(out, "  %s manifest get %s/%s:latest --pretty\n", self, reg, quickstartRepo)
	fmt.Fprintf(out, "  %s blob put %s/%s ./some-file\n", self, reg, quickstartRepo)
	fmt.Fprintf(out, "  # when done, before or after Ctrl-C, remove the stored credentials:\n")
	fmt.Fprintf(out, "  %s logout %s\n", self, reg)
	<-ctx.Done()
	fmt.Fprintln(cmd.ErrOrStderr(), "stopped")
	return nil
}

// selfName is how the user runs acrctl: through go run in a checkout, or
// the installed binary.
func selfName() string {
	if strings.Contains(os.Args[0], "go-build") {
		return "go run ./cmd/acrctl"
	}
	return "acrctl"
}

// tour holds the state the quickstart steps share.
type tour struct {
	w            io.Writer
	ctx          context.Context
	client, anon *acr.Client
	reg          string

	images  map[string]image // by tag
	deleted image            // the image whose manifest step 7 deletes
}

// image is what the tour uploaded for one tag.
type image struct {
	manifest ocispec.Manifest
	desc     ocispec.Descriptor
	blobs    map[digest.Digest][]byte
}

func (t *tour) say(format string, args ...any) { fmt.Fprintf(t.w, "      "+format+"\n", args...) }

// short abbreviates a digest for display.
func short(d digest.Digest) string {
	if len(d.Encoded()) < 12 {
		return d.String()
	}
	return string(d.Algorithm()) + ":" + d.Encoded()[:12]
}

// cleanEarlierRun removes the tour's repository when --data holds one from
// an earlier run, unlocking what that run may have left locked.
func (t *tour) cleanEarlierRun() error {
	if _, err := t.client.GetRepositoryProperties(t.ctx, quickstartRepo); errors.Is(err, acr.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("check for an earlier run's %s: %w", quickstartRepo, err)
	}
	open := acr.PermissionsUpdate{CanWrite: ptr(true), CanDelete: ptr(true)}
	if _, err := t.client.UpdateRepositoryProperties(t.ctx, quickstartRepo, open); err != nil {
		return err
	}
	for tag, err := range t.client.Tags(t.ctx, quickstartRepo, nil) {
		if err != nil {
			return err
		}
		if !tag.Permissions.CanWrite || !tag.Permissions.CanDelete {
			if _, err := t.client.UpdateTagProperties(t.ctx, quickstartRepo, tag.Name, open); err != nil {
				return err
			}
		}
	}
	for m, err := range t.client.Manifests(t.ctx, quickstartRepo, nil) {
		if err != nil {
			return err
		}
		if !m.Permissions.CanWrite || !m.Permissions.CanDelete {
			if _, err := t.client.UpdateManifestProperties(t.ctx, quickstartRepo, m.Digest.String(), open); err != nil {
				return err
			}
		}
	}
	if _, err := t.client.DeleteRepository(t.ctx, quickstartRepo); err != nil {
		return fmt.Errorf("remove an earlier run's %s: %w", quickstartRepo, err)
	}
	fmt.Fprintf(t.w, "Removed %s, left by an earlier run in the data directory.\n", quickstartRepo)
	return nil
}

// layerTar builds a small, reproducible tar layer holding one file.
func layerTar(name, content string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
	tw.Write([]byte(content))
	tw.Close()
	return buf.Bytes()
}

// uploadBlob uploads content and checks the descriptor the library returns
// against the digest computed here.
func (t *tour) uploadBlob(content []byte, mediaType string) (ocispec.Descriptor, error) {
	desc, err := t.client.UploadBlob(t.ctx, quickstartRepo, bytes.NewReader(content), &acr.UploadBlobOptions{MediaType: mediaType})
	if err != nil {
		return desc, err
	}
	if want := digest.FromBytes(content); desc.Digest != want || desc.Size != int64(len(content)) {
		return desc, fmt.Errorf("uploaded %s (%d bytes) but UploadBlob returned %s (%d bytes)", want, len(content), desc.Digest, desc.Size)
	}
	return desc, nil
}

func (t *tour) upload() (string, error) {
	t.images = map[string]image{}
	blobs := 0
	for i := 1; i <= 5; i++ {
		tag := fmt.Sprintf("v%d", i)
		img := image{blobs: map[digest.Digest][]byte{}}
		var layers []ocispec.Descriptor
		var diffIDs []digest.Digest
		for k := 1; k <= 2; k++ {
			content := layerTar(fmt.Sprintf("hello/layer%d.txt", k), fmt.Sprintf("Hello from %s:%s, layer %d\n", quickstartRepo, tag, k))
			d, err := t.uploadBlob(content, ocispec.MediaTypeImageLayer)
			if err != nil {
				return "", err
			}
			img.blobs[d.Digest] = content
			layers = append(layers, d)
			diffIDs = append(diffIDs, d.Digest)
		}
		config, _ := json.Marshal(ocispec.Image{
			Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
			Config:   ocispec.ImageConfig{Labels: map[string]string{"org.opencontainers.image.version": tag}},
			RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
		})
		cd, err := t.uploadBlob(config, ocispec.MediaTypeImageConfig)
		if err != nil {
			return "", err
		}
		img.blobs[cd.Digest] = config
		blobs += 1 + len(layers)
		img.manifest = ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: layers}
		desc, err := t.client.SetImage(t.ctx, quickstartRepo, img.manifest, &acr.SetManifestOptions{Tag: tag})
		if err != nil {
			return "", err
		}
		raw, _ := json.Marshal(img.manifest)
		if want := digest.FromBytes(raw); desc.Digest != want {
			return "", fmt.Errorf("pushed manifest %s but SetImage returned %s", want, desc.Digest)
		}
		img.desc = desc
		t.images[tag] = img
		t.say("%s:%-6s  %s  config + %d layers", quickstartRepo, tag, short(desc.Digest), len(layers))
	}
	latest := t.images["v5"]
	if _, err := t.client.SetImage(t.ctx, quickstartRepo, latest.manifest, &acr.SetManifestOptions{Tag: "latest"}); err != nil {
		return "", err
	}
	t.images["latest"] = latest
	t.say("%s:%-6s  %s  the same image as v5", quickstartRepo, "latest", short(latest.desc.Digest))
	for tag, img := range t.images {
		d, err := t.client.ResolveDigest(t.ctx, quickstartRepo, tag)
		if err != nil {
			return "", err
		}
		if d != img.desc.Digest {
			return "", fmt.Errorf("tag %s resolves to %s, want %s", tag, d, img.desc.Digest)
		}
	}
	return fmt.Sprintf("%d blobs, 5 manifests, 6 tags; every digest matches the content", blobs), nil
}

func (t *tour) listRepositories() (string, error) {
	var names []string
	for name, err := range t.client.Repositories(t.ctx, nil) {
		if err != nil {
			return "", err
		}
		names = append(names, name)
		t.say("%s", name)
	}
	if !slices.Contains(names, quickstartRepo) {
		return "", fmt.Errorf("the listing %v lacks %s", names, quickstartRepo)
	}
	return fmt.Sprintf("the listing holds %s", quickstartRepo), nil
}

func (t *tour) listTagsAnonymously() (string, error) {
	var got []string
	for tag, err := range t.anon.Tags(t.ctx, quickstartRepo, &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}) {
		if err != nil {
			return "", err
		}
		got = append(got, tag.Name)
		t.say("%-8s %s  %s", tag.Name, short(tag.Digest), tag.LastUpdatedOn.UTC().Format("15:04:05.000"))
	}
	want := []string{"latest", "v5", "v4", "v3", "v2", "v1"}
	if !slices.Equal(got, want) {
		return "", fmt.Errorf("anonymous listing newest first gave %v, want %v", got, want)
	}
	var aliases []string
	for tag, err := range t.anon.Tags(t.ctx, quickstartRepo, &acr.TagsOptions{Digest: t.images["latest"].desc.Digest}) {
		if err != nil {
			return "", err
		}
		aliases = append(aliases, t.reg+"/"+quickstartRepo+":"+tag.Name)
	}
	t.say("%s:latest has the following aliases:", quickstartRepo)
	for _, a := range aliases {
		t.say("    %s", a)
	}
	if len(aliases) != 2 {
		return "", fmt.Errorf("latest has aliases %v, want latest and v5", aliases)
	}
	err := t.anon.DeleteTag(t.ctx, quickstartRepo, "v1")
	if !errors.Is(err, acr.ErrUnauthorized) {
		return "", fmt.Errorf("an anonymous delete was not refused as unauthorized: %v", err)
	}
	t.say("anonymous DeleteTag(v1) refused (acr.ErrUnauthorized): pull only")
	return "6 tags, newest first, without credentials", nil
}

func (t *tour) lockTag() (string, error) {
	p, err := t.client.UpdateTagProperties(t.ctx, quickstartRepo, "latest", acr.PermissionsUpdate{CanWrite: ptr(false), CanDelete: ptr(false)})
	if err != nil {
		return "", err
	}
	if p.Permissions.CanWrite || p.Permissions.CanDelete {
		return "", fmt.Errorf("after locking, latest has CanWrite=%t CanDelete=%t", p.Permissions.CanWrite, p.Permissions.CanDelete)
	}
	t.say("latest: CanWrite=false CanDelete=false")
	err = t.client.DeleteTag(t.ctx, quickstartRepo, "latest")
	if !errors.Is(err, acr.ErrLocked) {
		return "", fmt.Errorf("deleting the locked tag gave %v, want an error matching acr.ErrLocked", err)
	}
	var re *acr.ResponseError
	if errors.As(err, &re) && len(re.Errors) > 0 {
		t.say("DeleteTag(latest) refused: %d %s", re.StatusCode, re.Errors[0].Code)
	}
	if _, err := t.client.GetTagProperties(t.ctx, quickstartRepo, "latest"); err != nil {
		return "", fmt.Errorf("the locked tag is gone after the refused delete: %w", err)
	}
	if _, err := t.client.UpdateTagProperties(t.ctx, quickstartRepo, "latest", acr.PermissionsUpdate{CanWrite: ptr(true), CanDelete: ptr(true)}); err != nil {
		return "", err
	}
	t.say("unlocked latest again")
	return "the delete was refused (acr.ErrLocked); the tag is still there", nil
}

func (t *tour) deleteOldImages() (string, error) {
	var all []acr.ManifestProperties
	for m, err := range t.client.Manifests(t.ctx, quickstartRepo, &acr.ManifestsOptions{Order: acr.OrderLastUpdatedDesc}) {
		if err != nil {
			return "", err
		}
		all = append(all, m)
	}
	if len(all) < 3 {
		return "", fmt.Errorf("the repository has %d manifests, want 5", len(all))
	}
	for _, m := range all[3:] {
		t.say("Deleting image with digest %s.", short(m.Digest))
		t.say("   Deleting the following tags from the image:")
		for _, tag := range m.Tags {
			t.say("        %s:%s", quickstartRepo, tag)
			if err := t.client.DeleteTag(t.ctx, quickstartRepo, tag); err != nil {
				return "", err
			}
		}
		if _, err := t.client.DeleteManifest(t.ctx, quickstartRepo, m.Digest.String()); err != nil {
			return "", err
		}
	}
	var left []string
	for m, err := range t.client.Manifests(t.ctx, quickstartRepo, &acr.ManifestsOptions{Order: acr.OrderLastUpdatedDesc}) {
		if err != nil {
			return "", err
		}
		left = append(left, strings.Join(m.Tags, "+"))
	}
	if want := []string{"latest+v5", "v4", "v3"}; !slices.Equal(left, want) && !slices.Equal(left, []string{"v5+latest", "v4", "v3"}) {
		return "", fmt.Errorf("after the deletes the manifests are tagged %v, want %v", left, want)
	}
	return fmt.Sprintf("%d images deleted; the newest three remain (%s)", len(all)-3, strings.Join(left, ", ")), nil
}

func (t *tour) download() (string, error) {
	dir, err := os.MkdirTemp("", "acrctl-quickstart-download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	m, err := t.client.GetManifest(t.ctx, quickstartRepo, "latest", nil)
	if err != nil {
		return "", err
	}
	want := t.images["latest"]
	if m.Digest != want.desc.Digest || digest.FromBytes(m.Bytes) != m.Digest {
		return "", fmt.Errorf("the manifest of latest is %s and hashes to %s, want %s", m.Digest, digest.FromBytes(m.Bytes), want.desc.Digest)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), m.Bytes, 0o644); err != nil {
		return "", err
	}
	t.say("manifest.json  %s  %d bytes", short(m.Digest), len(m.Bytes))
	img, err := m.Image()
	if err != nil {
		return "", err
	}
	files := []struct {
		name string
		desc ocispec.Descriptor
	}{{"config.json", img.Config}}
	for _, l := range img.Layers {
		files = append(files, struct {
			name string
			desc ocispec.Descriptor
		}{l.Digest.Encoded(), l})
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		n, err := downloadToFile(t.ctx, t.client, quickstartRepo, f.desc.Digest, path, 0, nil)
		if err != nil {
			return "", err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if got := digest.FromBytes(data); got != f.desc.Digest || n != f.desc.Size || !bytes.Equal(data, want.blobs[f.desc.Digest]) {
			return "", fmt.Errorf("%s hashes to %s (%d bytes), want %s (%d bytes) as uploaded", f.name, got, n, f.desc.Digest, f.desc.Size)
		}
		name := f.name
		if len(name) > 16 {
			name = name[:12] + "…"
		}
		t.say("%-13s  %s  %d bytes", name, short(f.desc.Digest), n)
	}
	return fmt.Sprintf("%d files; each hashes to its digest and equals what was uploaded", len(files)+1), nil
}

func (t *tour) deleteManifest() (string, error) {
	m, err := t.client.GetManifest(t.ctx, quickstartRepo, "v3", nil)
	if err != nil {
		return "", err
	}
	t.deleted = t.images["v3"]
	if _, err := t.client.DeleteManifest(t.ctx, quickstartRepo, m.Digest.String()); err != nil {
		return "", err
	}
	t.say("deleted %s@%s (tag v3)", quickstartRepo, short(m.Digest))
	if _, err := t.client.GetManifest(t.ctx, quickstartRepo, m.Digest.String(), nil); !errors.Is(err, acr.ErrNotFound) {
		return "", fmt.Errorf("the deleted manifest still answers: %v", err)
	}
	if _, err := t.client.ResolveDigest(t.ctx, quickstartRepo, "v3"); !errors.Is(err, acr.ErrNotFound) {
		return "", fmt.Errorf("tag v3 still resolves after its manifest was deleted: %v", err)
	}
	return "the manifest and tag v3 are gone (acr.ErrNotFound)", nil
}

func (t *tour) deleteBlobs() (string, error) {
	for _, l := range t.deleted.manifest.Layers {
		if err := t.client.DeleteBlob(t.ctx, quickstartRepo, l.Digest); err != nil {
			return "", err
		}
		t.say("deleted blob %s", short(l.Digest))
		if _, ok, err := t.client.BlobExists(t.ctx, quickstartRepo, l.Digest); err != nil || ok {
			return "", fmt.Errorf("blob %s still exists after its delete (err %v)", l.Digest, err)
		}
	}
	return fmt.Sprintf("%d layers deleted; BlobExists reports them gone", len(t.deleted.manifest.Layers)), nil
}
