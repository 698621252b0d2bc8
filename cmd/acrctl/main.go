// Command acrctl manages Azure Container Registry and any OCI registry from
// the terminal, and serves a local ACR-compatible registry.
package main

import (
	"os"
)

func main() {
	ctx, stop := interruptContext(os.Stderr)
	var code int
	switch {
	case isHelperProgram(os.Args[0]):
		code = credentialHelper(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "credential-helper":
		// Hidden: the helper for a PATH without the symlink.
		code = credentialHelper(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	default:
		code = run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	}
	os.Exit(stop(code))
}
