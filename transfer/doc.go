// Package transfer copies whole images and artifacts, with everything they
// reference, between registries and OCI image layout directories.
//
// A [Target] is a place content lives: a repository in a registry
// ([Repository], through package acr) or an OCI image layout on disk
// ([Layout], the format oras, crane, skopeo and containerd read and write).
// [Copy] walks a graph from its root: index → manifests → config and
// layers, and optionally the referrers (signatures, SBOMs) of every
// manifest, recursively. It copies blobs in parallel, each digest once,
// skips what the destination already has, mounts across repositories of
// one registry instead of moving bytes, pushes each manifest only after
// everything it references, and tags the root last: a cancelled copy never
// leaves a tag pointing at a partial graph.
//
// [PushFiles] and [PullFiles] move plain files as an OCI artifact, one
// layer per file named by its org.opencontainers.image.title annotation;
// PullFiles refuses names that would leave the output directory.
package transfer
