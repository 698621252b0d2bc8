package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/transfer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

// endpoint is a copy source or destination: a registry reference or an
// OCI image layout directory (oci:DIR[:TAG|@DIGEST]).
type endpoint struct {
	target transfer.Target
	ref    string   // tag or digest within the target; may be empty
	name   string   // as the user wrote it
	s      *session // nil for a layout
	dir    string   // the layout's directory
}

// fileArgs parses push's and attach's FILE[:MEDIATYPE] arguments and
// checks that each names a file or directory, before anything is sent.
func fileArgs(args []string) ([]transfer.File, error) {
	var files []transfer.File
	for _, a := range args {
		fa := parseFileArg(a)
		if fa.Path == "-" {
			return nil, usageError{errors.New("- (stdin) is not a file: push and attach send files and directories; save the content to a file, or upload one blob from stdin with acrctl blob put HOST/REPO -")}
		}
		if _, err := os.Stat(fa.Path); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("%s: %v; fix: check the path (nothing was pushed)", fa.Path, err)
		}
		files = append(files, fa)
	}
	return files, nil
}

// connectionLost reports whether err is a connection to a registry that
// was refused, reset or cut short: a registry that is not there, or went
// away during a transfer.
func connectionLost(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// notTagged completes the error of a transfer to a registry that lost its
// connection: the tag goes up last, so it was not moved, and running the
// command again sends only what the registry does not hold yet.
func notTagged(err error, ref, command string) error {
	return fmt.Errorf("%w; %s was not tagged: run the %s again once the registry answers (the blobs it holds already are not sent again)", err, ref, command)
}

// explainCopy turns an error of a copy into one that names the problem and the
// fix, by the session of the registry it came from.
func explainCopy(err error, eps ...endpoint) error {
	for _, ep := range eps {
		if ep.s != nil && strings.Contains(err.Error(), "://"+ep.s.host+"/") {
			return ep.s.explain(err)
		}
	}
	if errors.Is(err, acr.ErrNotFound) {
		// Not a registry's answer: an OCI layout without the tag or digest.
		return absentError{fmt.Errorf("%w; fix: check the tag or digest", err)}
	}
	return err
}

// digestAlgPrefix matches the algorithm part of a digest (ALG:), by the
// OCI image spec's grammar, so that oci:DIR@ALG:HEX names a digest while
// other @s in a directory's name stay in it.
var digestAlgPrefix = regexp.MustCompile(`^[a-z0-9]+([+._-][a-z0-9]+)*:`)

// openEndpoint parses and opens a copy argument.
func openEndpoint(cmd *cobra.Command, o *remoteOptions, arg string, create bool) (endpoint, error) {
	if rest, ok := strings.CutPrefix(arg, "oci:"); ok {
		dir, tag := rest, ""
		if i := strings.LastIndexByte(rest, '@'); i > 0 && digestAlgPrefix.MatchString(rest[i+1:]) {
			// oci:DIR@ALG:HEX, as a registry reference names a digest.
			d, err := parseDigest("the digest of "+arg+":", rest[i+1:])
			if err != nil {
				return endpoint{}, err
			}
			dir, tag = rest[:i], d.String()
		} else if i := strings.LastIndexByte(rest, ':'); i > 0 && !strings.ContainsAny(rest[i+1:], "/\\") {
			dir, tag = rest[:i], rest[i+1:]
		}
		if dir == "" {
			return endpoint{}, usageError{fmt.Errorf("%q: give a directory: oci:DIR[:TAG|@DIGEST]", arg)}
		}
		if !create {
			if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
				return endpoint{}, fmt.Errorf("%s is not an OCI image layout (no oci-layout file in %s); fix: check the path", arg, dir)
			}
		} else if fi, err := os.Stat(dir); err == nil {
			if !fi.IsDir() {
				return endpoint{}, usageError{fmt.Errorf("%s: %s is a file, and an OCI image layout is a directory; fix: name a directory (one that does not exist is created)", arg, dir)}
			}
			if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
				if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
					return endpoint{}, fmt.Errorf("%s: %s is not empty and not an OCI image layout (no oci-layout file), so nothing is written into it; fix: name an empty or new directory, or an existing layout", arg, dir)
				}
			}
		}
		l, err := transfer.OpenLayout(dir)
		if err != nil {
			return endpoint{}, err
		}
		return endpoint{target: l, ref: tag, name: arg, dir: dir}, nil
	}
	ref, err := parseRef(arg, refAny)
	if err != nil {
		return endpoint{}, err
	}
	s, err := o.connectRef(cmd, ref)
	if err != nil {
		return endpoint{}, err
	}
	return endpoint{target: transfer.Repository(s.client, ref.Repository), ref: ref.TagOrDigest(), name: arg, s: s}, nil
}

// byteProgress sums byte progress over many pieces for one progress line.
// Its total is the one given, or, when pieces turn up that it did not
// count (referrers, found while copying), the sum of all pieces seen.
type byteProgress struct {
	mu       sync.Mutex
	per      map[string]int64
	sum      int64
	set      func(int64)
	done     int
	bar      *progressBar
	base     int64 // the total given; -1 until then
	seenSize int64 // sizes of the pieces seen
}

func newByteProgress(bar *progressBar) *byteProgress {
	return &byteProgress{per: map[string]int64{}, set: bar.Set, bar: bar, base: -1}
}

// total records the bytes the whole transfer accounts for.
func (b *byteProgress) total(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.base = n
	b.bar.SetTotal(max(n, b.seenSize))
}

// callback returns update, or nil when no line is drawn: a transfer
// without a progress callback can hand files to the kernel whole (see
// acr's fileBody) instead of counting their bytes through a buffer.
func (b *byteProgress) callback() func(transfer.Progress) {
	if b.bar == nil {
		return nil
	}
	return b.update
}

func (b *byteProgress) update(p transfer.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := p.Desc.Digest.String()
	if _, ok := b.per[k]; !ok {
		b.per[k] = 0
		b.seenSize += p.Desc.Size
		if b.base >= 0 && b.seenSize > b.base {
			b.bar.SetTotal(b.seenSize)
		}
	}
	if p.Bytes > b.per[k] {
		b.sum += p.Bytes - b.per[k]
		b.per[k] = p.Bytes
	}
	if p.Done {
		b.done++
	}
	b.set(b.sum)
}

// parsePlatform reads OS/ARCH[/VARIANT].
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		return ocispec.Platform{}, usageError{fmt.Errorf("--platform %q: want OS/ARCH[/VARIANT], such as linux/arm64", s)}
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// pushedJSON is what push, copy and attach print with --output json. The
// repository is imageName, as in every acrctl command and in ACR's API.
type pushedJSON struct {
	Registry     string   `json:"registry,omitempty"`
	Repository   string   `json:"imageName,omitempty"`
	Layout       string   `json:"layout,omitempty"`
	Digest       string   `json:"digest"`
	MediaType    string   `json:"mediaType"`
	ArtifactType string   `json:"artifactType,omitempty"`
	Size         int64    `json:"size"`
	Tags         []string `json:"tags"`
	Subject      string   `json:"subject,omitempty"`
}

// printPushed prints the manifest a command wrote: its digest, or with
// --output json its properties.
func printPushed(cmd *cobra.Command, out outputFormat, j pushedJSON, desc ocispec.Descriptor, tag string) error {
	if !out.json() {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), desc.Digest)
		return err
	}
	j.Digest, j.MediaType, j.Size, j.ArtifactType = desc.Digest.String(), desc.MediaType, desc.Size, desc.ArtifactType
	j.Tags = []string{}
	if tag != "" && !strings.Contains(tag, ":") {
		j.Tags = append(j.Tags, tag)
	}
	return writeJSON(cmd.OutOrStdout(), j)
}

// endpointJSON names where an endpoint is, for pushedJSON.
func endpointJSON(ep endpoint, arg string) pushedJSON {
	if ep.s == nil {
		return pushedJSON{Layout: ep.dir}
	}
	if ref, err := parseRef(arg, refAny); err == nil {
		return pushedJSON{Registry: ref.Registry, Repository: ref.Repository}
	}
	return pushedJSON{}
}

func newCopyCmd() *cobra.Command {
	o := &remoteOptions{}
	var platforms []string
	var referrers, noProgress bool
	var concurrency int
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy an image or artifact, with everything it references, between registries and OCI layouts",
		Long: `Copy the graph that SRC names (an index, its manifests, their configs and layers, and with
--referrers their signatures and SBOMs) to DST. SRC and DST are registry references
HOST[:PORT]/REPO[:TAG|@DIGEST] or OCI image layout directories oci:DIR[:TAG|@DIGEST] (without
either, the layout's only manifest; copied by digest into a layout, a manifest is listed
in its index.json untagged). Blobs move in parallel, each once; what DST already has is skipped; blobs within one registry are
mounted rather than moved; the tag is set last, so an interrupted copy never leaves a tag
pointing at a partial image. On a terminal a progress line shows the bytes done of the
total, with a percentage (not with --no-progress or -v). It prints the digest of what it
copied, or with --output json its digest, media type, size and tags.

Each registry gets the credentials stored for it (acrctl login, docker login). --username
with --password or --password-stdin serves a copy within one registry; between two it is
refused, since it would send one registry's password to the other: log in to each instead
(in a pipeline that keeps no state, export DOCKER_CONFIG="$(mktemp -d)" first). The TLS
flags (--ca-file, --insecure, --plain-http) apply to both registries: between a loopback TLS
registry and a plain http one, trust the TLS one's certificate through certs.d instead (see
acrctl serve --help), or copy in two steps through a layout.`,
		Example: `  acrctl copy docker.io/library/alpine:3.20 myregistry.azurecr.io/alpine:3.20
  acrctl copy myregistry.azurecr.io/app:v1 oci:./app-layout:v1 --referrers
  acrctl copy oci:./app-layout:v1 localhost:5000/app:v1
  acrctl copy myregistry.azurecr.io/app:v1 localhost:5000/app:v1-arm --platform linux/arm64
  acrctl copy localhost:5000/app:v1 localhost:5000/app:stable --output json`,
		Args: exactArgs(2, "a source and a destination (registry references or oci:DIR[:TAG|@DIGEST])"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if concurrency < 0 || concurrency > 64 {
				return usageError{fmt.Errorf("--concurrency %d: want 1 to 64 blobs in flight (0 for the default, 8)", concurrency)}
			}
			var plats []ocispec.Platform
			for _, p := range platforms {
				pl, err := parsePlatform(p)
				if err != nil {
					return err
				}
				plats = append(plats, pl)
			}
			src, err := openEndpoint(cmd, o, args[0], false)
			if err != nil {
				return err
			}
			_, srcLayout := src.target.(*transfer.Layout)
			if src.ref == "" && !srcLayout {
				return usageError{fmt.Errorf("%q names no tag or digest; give one, such as %s:latest", args[0], args[0])}
			}
			// A layout this copy creates is removed again if the copy
			// fails: a typo must not leave an empty layout behind.
			newLayout := ""
			if d, ok := strings.CutPrefix(args[1], "oci:"); ok {
				if d, _, _ = strings.Cut(d, ":"); d != "" {
					if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
						newLayout = d
					}
				}
			}
			dst, err := openEndpoint(cmd, o, args[1], true)
			if err != nil {
				return err
			}
			dstRef := dst.ref
			if dstRef == "" {
				dstRef = src.ref
			}
			if dstRef == "" {
				return usageError{fmt.Errorf("%q names no tag; give the destination one, such as %s:latest", args[1], args[1])}
			}
			show := showProgress(cmd.ErrOrStderr(), noProgress, o.verbose)
			bar := startProgress(cmd.ErrOrStderr(), show, "Copying", -1)
			bp := newByteProgress(bar)
			if show {
				// Reading the manifests twice costs little beside the
				// blobs; without them the line has no total.
				if n, err := transfer.GraphSize(cmd.Context(), src.target, src.ref, plats); err == nil {
					bp.total(n)
				}
			}
			desc, err := transfer.Copy(cmd.Context(), src.target, src.ref, dst.target, dstRef,
				&transfer.CopyOptions{Platforms: plats, Referrers: referrers, Concurrency: concurrency, Progress: bp.callback()})
			bar.Finish(err == nil)
			if err != nil {
				if newLayout != "" {
					os.RemoveAll(newLayout)
				}
				if cmd.Context().Err() != nil {
					// Ctrl-C: the broken transfer's own chain says nothing more.
					return fmt.Errorf("copy %s to %s: interrupted; %s was not tagged; run the copy again to finish it", src.name, dst.name, args[1])
				}
				explained := explainCopy(err, src, dst)
				if dst.s != nil && dstRef != "" && !strings.Contains(dstRef, ":") && connectionLost(err) {
					explained = notTagged(explained, dst.name, "copy")
				}
				return fmt.Errorf("copy %s to %s: %w", src.name, dst.name, explained)
			}
			return printPushed(cmd, out, endpointJSON(dst, args[1]), desc, dstRef)
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringArrayVar(&platforms, "platform", nil, "copy only this platform of an index, OS/ARCH[/VARIANT] (repeatable)")
	cmd.Flags().BoolVar(&referrers, "referrers", false, "also copy referrers (signatures, SBOMs), recursively")
	cmd.Flags().IntVar(&concurrency, "concurrency", 0, "blobs in flight at once (default 8)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress line")
	addOutputFlag(cmd, &out)
	return cmd
}

// parseFileArg splits FILE[:MEDIATYPE]; a media type always contains '/'.
func parseFileArg(s string) transfer.File {
	if i := strings.LastIndexByte(s, ':'); i > 0 && strings.Contains(s[i+1:], "/") {
		return transfer.File{Path: s[:i], MediaType: s[i+1:]}
	}
	return transfer.File{Path: s}
}

// checkMediaTypes checks the types given on the command line before
// anything is sent, as oras checks --artifact-type.
func checkMediaTypes(artifactType string, config transfer.File, files []transfer.File) error {
	if artifactType != "" {
		if err := transfer.ValidateMediaType(artifactType); err != nil {
			return usageError{fmt.Errorf("--artifact-type: %w", err)}
		}
	}
	if config.MediaType != "" {
		if err := transfer.ValidateMediaType(config.MediaType); err != nil {
			return usageError{fmt.Errorf("--config %s: %w", config.Path, err)}
		}
	}
	for _, f := range files {
		if f.MediaType != "" {
			if err := transfer.ValidateMediaType(f.MediaType); err != nil {
				return usageError{fmt.Errorf("%s: %w", f.Path, err)}
			}
		}
	}
	return nil
}

func parseAnnotations(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--annotation %q: want KEY=VALUE", kv)}
		}
		if old, dup := m[k]; dup {
			return nil, usageError{fmt.Errorf("--annotation %s is given twice (%q, then %q): give each key once", k, old, v)}
		}
		m[k] = v
	}
	return m, nil
}

func newPushCmd() *cobra.Command {
	o := &remoteOptions{}
	var artifactType, config string
	var annotations []string
	var noProgress bool
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "push REF FILE[:MEDIATYPE]|DIR...",
		Short: "Push files and directories as an OCI artifact",
		Long: `Push files as one OCI artifact: an image manifest with a layer per file, each titled with
its file name (org.opencontainers.image.title) so that pull restores it. A directory is
packed as oras packs one: a tar+gzip layer titled with the directory's name and annotated
io.deis.oras.content.unpack=true, which acrctl pull and oras pull unpack. On a terminal a
progress line shows the bytes done of the total, with a percentage (not with --no-progress
or -v). It prints the manifest's digest, or with --output json its digest, media type, size
and tags.`,
		Example: `  acrctl push localhost:5000/docs:v1 README.md guide.pdf:application/pdf --artifact-type application/vnd.example.docs
  acrctl push localhost:5000/site:v1 ./public
  acrctl push myregistry.azurecr.io/models/bert:v2 model.onnx --annotation org.opencontainers.image.source=https://example.com
  acrctl push localhost:5000/docs:v2 README.md --output json`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTag)
			if err != nil {
				return err
			}
			ann, err := parseAnnotations(annotations)
			if err != nil {
				return err
			}
			files, err := fileArgs(args[1:])
			if err != nil {
				return err
			}
			cf := parseFileArg(config)
			if err := checkMediaTypes(artifactType, cf, files); err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			bar := startProgress(cmd.ErrOrStderr(), showProgress(cmd.ErrOrStderr(), noProgress, o.verbose), "Pushing", -1)
			bp := newByteProgress(bar)
			desc, err := transfer.PushFiles(cmd.Context(), transfer.Repository(s.client, ref.Repository), ref.Tag, files,
				&transfer.PushOptions{ArtifactType: artifactType, Annotations: ann, Config: cf.Path, ConfigMediaType: cf.MediaType,
					Progress: bp.callback(), Total: bp.total})
			bar.Finish(err == nil)
			if err != nil {
				if errors.Is(err, acr.ErrLocked) {
					return lockRefusal(cmd.Context(), s, ref, lockWrite, err)
				}
				if cmd.Context().Err() != nil {
					return fmt.Errorf("interrupted; %s was not tagged; run the push again to finish it", ref)
				}
				if connectionLost(err) && ref.Tag != "" {
					return notTagged(s.explain(err), ref.String(), "push")
				}
				return s.explain(err)
			}
			return printPushed(cmd, out, pushedJSON{Registry: ref.Registry, Repository: ref.Repository}, desc, ref.Tag)
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&artifactType, "artifact-type", "", "the artifact's type, such as application/vnd.example.docs")
	cmd.Flags().StringArrayVar(&annotations, "annotation", nil, "manifest annotation KEY=VALUE (repeatable)")
	cmd.Flags().StringVar(&config, "config", "", "config file FILE[:MEDIATYPE] (default: the empty JSON object)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress line")
	addOutputFlag(cmd, &out)
	return cmd
}

func newPullCmd() *cobra.Command {
	o := &remoteOptions{}
	var dir, platform string
	var keepOld, noProgress bool
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Pull the files of an OCI artifact into a directory",
		Long: `Pull the layers of an artifact that carry file names (org.opencontainers.image.title) into
a directory; a layer oras marks for unpacking (io.deis.oras.content.unpack=true, as push DIR
and oras push DIR make) is unpacked into a directory of its name. For an index, --platform
picks the manifest. Every destination is checked before the first file is written: names
that are absolute, contain '..' or would leave the directory through a link, links in a
directory that point outside it, and directories in the way are refused. Existing files are
replaced, as oras does, unless --keep-old-files. Files get the modes the umask allows;
each is verified before it is renamed into place. An image none of whose layers has a file
name (a container image) is refused, with nothing written: acrctl copy REF oci:DIR fetches
it whole. On a terminal a progress line shows the bytes done of the total, with a
percentage (not with --no-progress or -v).`,
		Example: `  acrctl pull localhost:5000/docs:v1 --output-dir ./docs
  acrctl pull localhost:5000/tools:v1 --platform linux/arm64
  acrctl pull localhost:5000/site:v1 --keep-old-files --output json`,
		Args: exactArgs(1, "a reference HOST/REPO:TAG or HOST/REPO@DIGEST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			var plat *ocispec.Platform
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				plat = &p
			}
			if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
				return usageError{fmt.Errorf("--output-dir %s is a file, not a directory; fix: name a directory (one that does not exist is created)", dir)}
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			bar := startProgress(cmd.ErrOrStderr(), showProgress(cmd.ErrOrStderr(), noProgress, o.verbose), "Pulling", -1)
			bp := newByteProgress(bar)
			written, err := transfer.PullFiles(cmd.Context(), transfer.Repository(s.client, ref.Repository), ref.TagOrDigest(), dir,
				&transfer.PullOptions{Platform: plat, KeepOldFiles: keepOld, Progress: bp.callback(), Total: bp.total})
			bar.Finish(err == nil)
			if out.v == "json" {
				if err != nil {
					return explainPull(s, args[0], err)
				}
				if written == nil {
					written = []string{}
				}
				return writeJSON(cmd.OutOrStdout(), struct {
					Registry   string   `json:"registry"`
					Repository string   `json:"imageName"`
					Reference  string   `json:"reference"`
					Files      []string `json:"files"`
				}{ref.Registry, ref.Repository, ref.TagOrDigest(), written})
			}
			for _, p := range written {
				fmt.Fprintln(cmd.OutOrStdout(), printable(p))
			}
			if err != nil {
				return explainPull(s, args[0], err)
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&dir, "output-dir", ".", "directory to write the files into")
	out.hint = "-o is the output format, as everywhere in acrctl; write the files into a directory with --output-dir DIR"
	addOutputFlag(cmd, &out)
	cmd.Flags().StringVar(&platform, "platform", "", "the platform to pull from an index, OS/ARCH[/VARIANT]")
	cmd.Flags().BoolVarP(&keepOld, "keep-old-files", "k", false, "refuse to replace existing files (as oras pull -k); by default they are replaced")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress line")
	return cmd
}

// explainPull says how to get past an index or an existing file.
func explainPull(s *session, arg string, err error) error {
	var pe *transfer.PlatformError
	if errors.As(err, &pe) {
		var names []string
		for _, p := range pe.Platforms {
			names = append(names, transfer.PlatformString(p))
		}
		if len(names) == 0 {
			byDigest := "acrctl manifest get " + arg + " lists its manifests"
			if ref, perr := parseRef(arg, refTagOrDigest); perr == nil && len(pe.NoPlatform) > 0 {
				byDigest = fmt.Sprintf("acrctl pull %s/%s@%s", ref.Registry, ref.Repository, pe.NoPlatform[0])
				if len(pe.NoPlatform) > 1 {
					byDigest += fmt.Sprintf(" (the first of its %d; acrctl manifest get %s lists them)", len(pe.NoPlatform), arg)
				}
			}
			return fmt.Errorf("%s is an index whose manifests name no platform, so --platform cannot pick one; fix: pull a manifest by digest: %s", arg, byDigest)
		}
		example := names[0]
		if pe.Want == nil {
			return fmt.Errorf("%s is an index of %d platforms (%s); fix: pick one with --platform, such as acrctl pull %s --platform %s",
				arg, len(names), strings.Join(names, ", "), arg, example)
		}
		return fmt.Errorf("%s has no manifest for %s; fix: --platform one of %s", arg, transfer.PlatformString(*pe.Want), strings.Join(names, ", "))
	}
	if errors.Is(err, acr.ErrLocked) {
		if ref, perr := parseRef(arg, refTagOrDigest); perr == nil {
			return lockRefusal(context.Background(), s, ref, lockRead, err)
		}
	}
	var nf *transfer.NoFilesError
	if errors.As(err, &nf) {
		return fmt.Errorf("%s has no files to pull: the %d layer(s) of %s have no file name (%s), as in a container image; nothing was written; fix: acrctl copy %s oci:DIR fetches it whole into an OCI layout",
			arg, nf.Layers, nf.Manifest, ocispec.AnnotationTitle, arg)
	}
	var ee *transfer.ExistsError
	if errors.As(err, &ee) {
		if ee.Dir {
			return fmt.Errorf("%s is a directory where the artifact has a file; nothing was written; fix: move it, or pull into another directory with --output-dir", ee.Path)
		}
		if ee.Link {
			return fmt.Errorf("%s is a symbolic link where the artifact has a file, and pull neither follows nor replaces links; nothing was written; fix: remove it, or pull into another directory with --output-dir", ee.Path)
		}
		return fmt.Errorf("%s exists; nothing was written; fix: remove it, pull into another directory with --output-dir, or leave out --keep-old-files to replace it", ee.Path)
	}
	return s.explain(err)
}

func newAttachCmd() *cobra.Command {
	o := &remoteOptions{}
	var artifactType string
	var annotations []string
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "attach REF FILE[:MEDIATYPE]... --artifact-type T",
		Short: "Attach files to an image as a referrer (a signature, an SBOM)",
		Example: `  acrctl attach localhost:5000/app:v1 sbom.spdx.json --artifact-type application/spdx+json
  acrctl attach myregistry.azurecr.io/app@sha256:... sig.json --artifact-type application/vnd.example.signature
  acrctl attach localhost:5000/app:v1 sbom.spdx.json --artifact-type application/spdx+json --output json`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if artifactType == "" {
				return usageError{fmt.Errorf("--artifact-type is required: it tells clients what the attachment is, such as application/spdx+json")}
			}
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			ann, err := parseAnnotations(annotations)
			if err != nil {
				return err
			}
			files, err := fileArgs(args[1:])
			if err != nil {
				return err
			}
			if err := checkMediaTypes(artifactType, transfer.File{}, files); err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			repo := transfer.Repository(s.client, ref.Repository)
			subject, err := repo.Resolve(cmd.Context(), ref.TagOrDigest())
			if err != nil {
				return s.explain(err)
			}
			desc, err := transfer.PushFiles(cmd.Context(), repo, "", files,
				&transfer.PushOptions{ArtifactType: artifactType, Annotations: ann, Subject: &subject})
			if err != nil {
				return s.explain(err)
			}
			return printPushed(cmd, out, pushedJSON{Registry: ref.Registry, Repository: ref.Repository, Subject: subject.Digest.String()}, desc, "")
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&artifactType, "artifact-type", "", "the attachment's type (required)")
	cmd.Flags().StringArrayVar(&annotations, "annotation", nil, "manifest annotation KEY=VALUE (repeatable)")
	addOutputFlag(cmd, &out)
	return cmd
}
