package emulator

import (
	"net/http"
	"strings"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
)

// errorCodeDisallowed is the code ACR returns, with status 405, when a lock
// flag refuses an operation.
const errorCodeDisallowed spec.ErrorCode = "REGISTRY_DISALLOWED_OPERATION"

// disallowed builds ACR's refusal for an operation a lock forbids. The
// message names the object, every flag that refuses it (so that lifting
// them all takes one step, not one refusal per flag) and how to lift them.
func disallowed(op, object string, flags ...string) error {
	kind, _, _ := strings.Cut(object, " ")
	acrctl, az := "repo", "acr repository update"
	switch kind {
	case "tag":
		acrctl = "tag"
	case "manifest":
		acrctl, az = "manifest", "acr manifest update-metadata"
	}
	var body, opts []string
	for _, f := range flags {
		body = append(body, `"`+f+`":true`)
		opts = append(opts, "--"+flagOption(f)+" true")
	}
	names, verb, them := flags[0], "is", "it"
	if len(flags) > 1 {
		names, verb, them = strings.Join(flags, " and "), "are", "them"
	}
	return newError(http.StatusMethodNotAllowed, errorCodeDisallowed,
		"The operation is disallowed on this registry, repository or image: cannot %s %s because its %s %s false; "+
			"set %s to true first: PATCH its /acr/v1 properties with {%s} (acrctl %s update REF %s, or az %s %s)",
		op, object, names, verb, them, strings.Join(body, ","), acrctl, strings.Join(opts, " "), az, strings.Join(opts, " "))
}

func flagOption(flag string) string {
	switch flag {
	case "deleteEnabled":
		return "delete-enabled"
	case "writeEnabled":
		return "write-enabled"
	case "readEnabled":
		return "read-enabled"
	}
	return "list-enabled"
}

// checkDelete reports whether attributes allow deleting an object. ACR's
// writeEnabled=false locks an object against both change and deletion;
// deleteEnabled=false against deletion only.
func checkDelete(a store.Attributes, object string) error {
	var flags []string
	if !a.WriteEnabled {
		flags = append(flags, "writeEnabled")
	}
	if !a.DeleteEnabled {
		flags = append(flags, "deleteEnabled")
	}
	if flags != nil {
		return disallowed("delete", object, flags...)
	}
	return nil
}

// checkWrite reports whether attributes allow changing an object.
func checkWrite(a store.Attributes, op, object string) error {
	if !a.WriteEnabled {
		return disallowed(op, object, "writeEnabled")
	}
	return nil
}

// checkRead reports whether attributes allow pulling an object.
func checkRead(a store.Attributes, object string) error {
	if !a.ReadEnabled {
		return disallowed("read", object, "readEnabled")
	}
	return nil
}
