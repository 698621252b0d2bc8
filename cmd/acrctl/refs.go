package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

// refKind says what a command's reference argument must name.
type refKind int

const (
	refRepo        refKind = iota // HOST/REPO
	refTag                        // HOST/REPO:TAG
	refTagOrDigest                // HOST/REPO:TAG or HOST/REPO@DIGEST
	refDigest                     // HOST/REPO@DIGEST
	refAny                        // any of the above
)

// parseRef parses a command's reference argument and checks that it names
// what the command needs; every failure is a usage error.
func parseRef(arg string, kind refKind) (acr.Reference, error) {
	if err := refuseUserinfo(arg); err != nil {
		return acr.Reference{}, err
	}
	if strings.Contains(arg, "://") {
		return acr.Reference{}, usageError{fmt.Errorf("%q: give the reference without a scheme, as HOST[:PORT]/REPO[:TAG|@DIGEST] (%s)", arg, schemeHint(arg))}
	}
	r, err := acr.ParseReference(arg)
	if err != nil {
		return acr.Reference{}, usageError{err}
	}
	base := r.Registry + "/" + r.Repository
	switch kind {
	case refRepo:
		if r.Tag != "" || r.Digest != "" {
			return r, usageError{fmt.Errorf("%q names a tag or digest; this command takes a repository: %s", arg, base)}
		}
	case refTag:
		if r.Digest != "" {
			return r, usageError{fmt.Errorf("%q names a digest; this command takes a tag: %s:TAG", arg, base)}
		}
		if r.Tag == "" {
			return r, usageError{fmt.Errorf("%q names no tag; give one: %s:TAG", arg, base)}
		}
	case refTagOrDigest:
		if r.Tag == "" && r.Digest == "" {
			return r, usageError{fmt.Errorf("%q names no tag or digest; give one: %s:TAG or %s@sha256:HEX", arg, base, base)}
		}
	case refDigest:
		if r.Digest == "" {
			return r, usageError{fmt.Errorf("%q names no digest; blobs are addressed by digest: %s@sha256:HEX", arg, base)}
		}
	}
	return r, nil
}

// schemeHint says how to get the scheme arg asked for without writing it.
func schemeHint(arg string) string {
	if strings.HasPrefix(strings.ToLower(arg), "https://") {
		return "acrctl uses https, except for loopback hosts; for a loopback TLS registry pass --ca-file CERT.pem or --insecure"
	}
	return "use --plain-http for an http registry"
}

// parseHost parses a registry argument: HOST[:PORT], as references begin.
func parseHost(arg string) (string, error) {
	if err := refuseUserinfo(arg); err != nil {
		return "", err
	}
	h := strings.TrimSuffix(arg, "/")
	if strings.Contains(h, "://") {
		return "", usageError{fmt.Errorf("%q: give the registry as HOST[:PORT] without a scheme (%s)", arg, schemeHint(arg))}
	}
	if h == "" || strings.Contains(h, "/") {
		return "", usageError{fmt.Errorf("%q is not a registry host: give HOST[:PORT], such as myregistry.azurecr.io", arg)}
	}
	if _, err := acr.ParseReference(h + "/x"); err != nil {
		return "", usageError{fmt.Errorf("%q is not a registry host: give HOST[:PORT], such as myregistry.azurecr.io or localhost:5000", arg)}
	}
	return h, nil
}

// refuseUserinfo refuses a registry address that carries a user name or
// password (USER:PASSWORD@HOST), which shell history and process lists
// would keep, without quoting it.
func refuseUserinfo(arg string) error {
	host := arg
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+len("://"):]
	}
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	at := strings.LastIndexByte(host, '@')
	if at < 0 {
		return nil
	}
	return usageError{fmt.Errorf("the registry address holds a user name or password (REDACTED%s): credentials do not go in the address, where shell history and process lists keep them; use --username with --password-stdin, or acrctl login", host[at:])}
}

// parseDigest validates a --digest value.
func parseDigest(flag, s string) (digest.Digest, error) {
	if s == "" {
		return "", nil
	}
	d, err := digest.Parse(s)
	if err != nil {
		return "", usageError{fmt.Errorf("%s %q is not a digest such as sha256:<64 hex digits>: %v", flag, s, err)}
	}
	return d, nil
}

// exactArgs is cobra.ExactArgs with a message that shows the expected
// arguments, as a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return usageError{fmt.Errorf("%s takes %s, got %d argument(s) (see '%s --help')", cmd.CommandPath(), what, len(args), cmd.CommandPath())}
	}
}

// noArgsGroup makes a command group refuse unknown subcommands with a usage
// error instead of printing help and succeeding.
func noArgsGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	return usageError{fmt.Errorf("unknown command %q for %q (see '%s --help')", args[0], cmd.CommandPath(), cmd.CommandPath())}
}

var errNothingToUpdate = errors.New("nothing to update: pass at least one of --delete-enabled, --write-enabled, --list-enabled, --read-enabled, --lock, --unlock")
