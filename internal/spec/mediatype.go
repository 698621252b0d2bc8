package spec

import (
	"errors"
	"fmt"
	"strings"
)

// Manifest media types understood by both the client and the registry.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIEmptyJSON   = "application/vnd.oci.empty.v1+json"
	// MediaTypeOCIArtifact is the artifact manifest of the OCI 1.1 release
	// candidates ({"mediaType", "artifactType", "blobs", "subject"}),
	// dropped from OCI 1.1 final but stored and served by ACR, which holds
	// such manifests pushed by oras 1.0 and notation's early releases.
	MediaTypeOCIArtifact = "application/vnd.oci.artifact.manifest.v1+json"
)

// Header names with protocol meaning.
const (
	HeaderContentDigest  = "Docker-Content-Digest"
	HeaderUploadUUID     = "Docker-Upload-UUID"
	HeaderAPIVersion     = "Docker-Distribution-Api-Version"
	HeaderSubject        = "OCI-Subject"
	HeaderFiltersApplied = "OCI-Filters-Applied"
	HeaderChunkMinLength = "OCI-Chunk-Min-Length"
)

// MaxManifestSize is the largest manifest the registry accepts and the client
// reads: 4 MiB, ACR's limit.
const MaxManifestSize = 4 << 20

// IsIndex reports whether mediaType is an image index or manifest list.
func IsIndex(mediaType string) bool {
	return mediaType == MediaTypeOCIIndex || mediaType == MediaTypeDockerList
}

// IsManifest reports whether mediaType is a manifest of any type the
// client and the registry understand: an image manifest, an index or list,
// or an OCI artifact manifest.
func IsManifest(mediaType string) bool {
	return IsImageManifest(mediaType) || IsIndex(mediaType) || mediaType == MediaTypeOCIArtifact
}

// IsImageManifest reports whether mediaType is an OCI or Docker v2 image manifest.
func IsImageManifest(mediaType string) bool {
	return mediaType == MediaTypeOCIManifest || mediaType == MediaTypeDockerManifest
}

// IsNonDistributable reports whether a layer media type is one of the
// non-distributable (foreign) layer types, which registries need not hold.
func IsNonDistributable(mediaType string) bool {
	switch mediaType {
	case "application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
		return true
	}
	return false
}

// isMediaType matches the media type grammar of the OCI image spec's JSON
// schemas (defs-descriptor.json, "mediaType"), RFC 6838 section 4.2's
// restricted names: TYPE/SUBTYPE, without parameters, that is
// ^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$.
// It is matched by hand: compiling that expression took 0.5 ms and 290 KB
// at every start of every program linking this package.
func isMediaType(mt string) bool {
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && isRestrictedName(typ) && isRestrictedName(sub)
}

// isRestrictedName reports whether s is an RFC 6838 restricted name of 1 to
// 127 characters.
func isRestrictedName(s string) bool {
	if len(s) == 0 || len(s) > 127 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("!#$&^_.+-", rune(c)) {
			return false
		}
	}
	return true
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ErrInvalidMediaType reports a media type that does not follow the OCI
// image spec's grammar.
var ErrInvalidMediaType = errors.New("invalid media type")

// ValidateMediaType checks a media type (or artifact type) against the OCI
// image spec's grammar, as clients such as oras check --artifact-type.
func ValidateMediaType(mt string) error {
	if !isMediaType(mt) {
		return fmt.Errorf("%w %q: want TYPE/SUBTYPE of letters, digits and !#$&^_.+-, such as application/vnd.example.docs+json (RFC 6838)", ErrInvalidMediaType, truncate(mt))
	}
	return nil
}
