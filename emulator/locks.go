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
// message names the object, the flag that refused it and how to lift it.
func disallowed(op, object, flag string) error {
	kind, _, _ := strings.Cut(object, " ")
	acrctl, az := "repo", "acr repository update"
	switch kind {
	case "tag":
		acrctl = "tag"
	case "manifest":
		acrctl, az = "manifest", "acr manifest update-metadata"
	}
	return newError(http.StatusMethodNotAllowed, errorCodeDisallowed,
		"The operation is disallowed on this registry, repository or image: cannot %s %s because its %s is false; "+
			"set it to true first: PATCH its /acr/v1 properties with {\"%s\":true} (acrctl %s update REF --%s true, or az %s --%s true)",
		op, object, flag, flag, acrctl, flagOption(flag), az, flagOption(flag))
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
	if !a.WriteEnabled {
		return disallowed("delete", object, "writeEnabled")
	}
	if !a.DeleteEnabled {
		return disallowed("delete", object, "deleteEnabled")
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
