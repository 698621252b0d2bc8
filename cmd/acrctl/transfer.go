package main

import (
	"fmt"
	"strings"
	"sync"

	"github.com/acrgo/acr/transfer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

// endpoint is a copy source or destination: a registry reference or an
// OCI image layout directory (oci:DIR[:TAG]).
type endpoint struct {
	target transfer.Target
	ref    string   // tag or digest within the target; may be empty
	name   string   // as the user wrote it
	s      *session // nil for a layout
}

// explainCopy turns an error of a copy into one that names the problem and the
// fix, by the session of the registry it came from.
func explainCopy(err error, eps ...endpoint) error {
	for _, ep := range eps {
		if ep.s != nil && strings.Contains(err.Error(), "://"+ep.s.host+"/") {
			return ep.s.explain(err)
		}
	}
	return err
}

// openEndpoint parses and opens a copy argument.
func openEndpoint(cmd *cobra.Command, o *remoteOptions, arg string, create bool) (endpoint, error) {
	if rest, ok := strings.CutPrefix(arg, "oci:"); ok {
		dir, tag := rest, ""
		if i := strings.LastIndexByte(rest, ':'); i > 0 && !strings.ContainsAny(rest[i+1:], "/\\") {
			dir, tag = rest[:i], rest[i+1:]
		}
		if dir == "" {
			return endpoint{}, usageError{fmt.Errorf("%q: give a directory: oci:DIR[:TAG]", arg)}
		}
		l, err := transfer.OpenLayout(dir)
		if err != nil {
			return endpoint{}, err
		}
		return endpoint{target: l, ref: tag, name: arg}, nil
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
type byteProgress struct {
	mu   sync.Mutex
	per  map[string]int64
	sum  int64
	set  func(int64)
	done int
}

func newByteProgress(set func(int64)) *byteProgress {
	return &byteProgress{per: map[string]int64{}, set: set}
}

func (b *byteProgress) update(p transfer.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := p.Desc.Digest.String()
	if p.Bytes > b.per[k] {
		b.sum += p.Bytes - b.per[k]
		b.per[k] = p.Bytes
	}
	if p.Done {
		b.done++
	}
	b.set(b.sum)
}

func newCopyCmd() *cobra.Command {
	o := &remoteOptions{}
	var platforms []string
	var referrers, noProgress bool
	var concurrency int
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy an image or artifact, with everything it references, between registries and OCI layouts",
		Long: `Copy the graph that SRC names (an index, its manifests, their configs and layers, and with
--referrers their signatures and SBOMs) to DST. SRC and DST are registry references
HOST[:PORT]/REPO[:TAG|@DIGEST] or OCI image layout directories oci:DIR[:TAG] (without a tag,
the layout's only manifest). Blobs move in
parallel, each once; what DST already has is skipped; blobs within one registry are
mounted rather than moved; the tag is set last, so an interrupted copy never leaves a tag
pointing at a partial image.`,
		Example: `  acrctl copy docker.io/library/alpine:3.20 myregistry.azurecr.io/alpine:3.20
  acrctl copy myregistry.azurecr.io/app:v1 oci:./app-layout:v1 --referrers
  acrctl copy oci:./app-layout:v1 localhost:5000/app:v1
  acrctl copy myregistry.azurecr.io/app:v1 localhost:5000/app:v1-arm --platform linux/arm64`,
		Args: exactArgs(2, "a source and a destination (registry references or oci:DIR[:TAG])"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var plats []ocispec.Platform
			for _, p := range platforms {
				os, arch, ok := strings.Cut(p, "/")
				if !ok || os == "" || arch == "" {
					return usageError{fmt.Errorf("--platform %q: want OS/ARCH[/VARIANT], such as linux/arm64", p)}
				}
				pl := ocispec.Platform{OS: os, Architecture: arch}
				if a, v, ok := strings.Cut(arch, "/"); ok {
					pl.Architecture, pl.Variant = a, v
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
			bar := startProgress(cmd.ErrOrStderr(), showProgress(cmd.ErrOrStderr(), noProgress, o.verbose), "Copying", -1)
			bp := newByteProgress(bar.Set)
			desc, err := transfer.Copy(cmd.Context(), src.target, src.ref, dst.target, dstRef,
				&transfer.CopyOptions{Platforms: plats, Referrers: referrers, Concurrency: concurrency, Progress: bp.update})
			bar.Finish(err == nil)
			if err != nil {
				return fmt.Errorf("copy %s to %s: %w", src.name, dst.name, explainCopy(err, src, dst))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", desc.Digest)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringArrayVar(&platforms, "platform", nil, "copy only this platform of an index, OS/ARCH[/VARIANT] (repeatable)")
	cmd.Flags().BoolVar(&referrers, "referrers", false, "also copy referrers (signatures, SBOMs), recursively")
	cmd.Flags().IntVar(&concurrency, "concurrency", 0, "blobs in flight at once (default 8)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress line")
	return cmd
}

// parseFileArg splits FILE[:MEDIATYPE]; a media type always contains '/'.
func parseFileArg(s string) transfer.File {
	if i := strings.LastIndexByte(s, ':'); i > 0 && strings.Contains(s[i+1:], "/") {
		return transfer.File{Path: s[:i], MediaType: s[i+1:]}
	}
	return transfer.File{Path: s}
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
		m[k] = v
	}
	return m, nil
}

func newPushCmd() *cobra.Command {
	o := &remoteOptions{}
	var artifactType, config string
	var annotations []string
	var noProgress bool
	cmd := &cobra.Command{
		Use:   "push REF FILE[:MEDIATYPE]...",
		Short: "Push files as an OCI artifact",
		Long: `Push files as one OCI artifact: an image manifest with a layer per file, each titled with
its file name (org.opencontainers.image.title) so that pull restores it.`,
		Example: `  acrctl push localhost:5000/docs:v1 README.md guide.pdf:application/pdf --artifact-type application/vnd.example.docs
  acrctl push myregistry.azurecr.io/models/bert:v2 model.onnx --annotation org.opencontainers.image.source=https://example.com`,
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
			var files []transfer.File
			for _, a := range args[1:] {
				files = append(files, parseFileArg(a))
			}
			cf := parseFileArg(config)
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			bar := startProgress(cmd.ErrOrStderr(), showProgress(cmd.ErrOrStderr(), noProgress, o.verbose), "Pushing", -1)
			bp := newByteProgress(bar.Set)
			desc, err := transfer.PushFiles(cmd.Context(), transfer.Repository(s.client, ref.Repository), ref.Tag, files,
				&transfer.PushOptions{ArtifactType: artifactType, Annotations: ann, Config: cf.Path, ConfigMediaType: cf.MediaType, Progress: bp.update})
			bar.Finish(err == nil)
			if err != nil {
				return s.explain(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), desc.Digest)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&artifactType, "artifact-type", "", "the artifact's type, such as application/vnd.example.docs")
	cmd.Flags().StringArrayVar(&annotations, "annotation", nil, "manifest annotation KEY=VALUE (repeatable)")
	cmd.Flags().StringVar(&config, "config", "", "config file FILE[:MEDIATYPE] (default: the empty JSON object)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "do not draw a progress line")
	return cmd
}

func newPullCmd() *cobra.Command {
	o := &remoteOptions{}
	var dir string
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Pull the files of an OCI artifact into a directory",
		Long: `Pull the layers of an artifact that carry file names (org.opencontainers.image.title) into
a directory. Names that are absolute, contain '..' or would leave the directory through a
link are refused; each file is verified before it is renamed into place.`,
		Example: `  acrctl pull localhost:5000/docs:v1 -o ./docs`,
		Args:    exactArgs(1, "a reference HOST/REPO:TAG or HOST/REPO@DIGEST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTagOrDigest)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			written, err := transfer.PullFiles(cmd.Context(), transfer.Repository(s.client, ref.Repository), ref.TagOrDigest(), dir)
			if err != nil {
				return s.explain(err)
			}
			for _, p := range written {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&dir, "output-dir", "o", ".", "directory to write the files into")
	return cmd
}

func newAttachCmd() *cobra.Command {
	o := &remoteOptions{}
	var artifactType string
	var annotations []string
	cmd := &cobra.Command{
		Use:   "attach REF FILE[:MEDIATYPE]... --artifact-type T",
		Short: "Attach files to an image as a referrer (a signature, an SBOM)",
		Example: `  acrctl attach localhost:5000/app:v1 sbom.spdx.json --artifact-type application/spdx+json
  acrctl attach myregistry.azurecr.io/app@sha256:... sig.json --artifact-type application/vnd.example.signature`,
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
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			repo := transfer.Repository(s.client, ref.Repository)
			subject, err := repo.Resolve(cmd.Context(), ref.TagOrDigest())
			if err != nil {
				return s.explain(err)
			}
			var files []transfer.File
			for _, a := range args[1:] {
				files = append(files, parseFileArg(a))
			}
			desc, err := transfer.PushFiles(cmd.Context(), repo, "", files,
				&transfer.PushOptions{ArtifactType: artifactType, Annotations: ann, Subject: &subject})
			if err != nil {
				return s.explain(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), desc.Digest)
			return nil
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&artifactType, "artifact-type", "", "the attachment's type (required)")
	cmd.Flags().StringArrayVar(&annotations, "annotation", nil, "manifest annotation KEY=VALUE (repeatable)")
	return cmd
}
