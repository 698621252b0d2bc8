// Package spec is the vocabulary shared by the client and the local registry:
// media types, header names, OCI error codes, the grammar of repository
// names, tags and digests, and parsers for the protocol's small header
// formats. It holds no policy; both sides read the same grammar from here
// and are tested separately against the specs.
package spec
