package spec

// ErrorCode is an error code of the OCI distribution spec (section "Error
// Codes") or one that ACR adds. Both sides exchange them in
// {"errors":[{"code":...,"message":...,"detail":...}]} bodies.
type ErrorCode string

// Error codes from the OCI distribution spec v1.1 and ACR.
const (
	ErrorCodeBlobUnknown         ErrorCode = "BLOB_UNKNOWN"
	ErrorCodeBlobUploadInvalid   ErrorCode = "BLOB_UPLOAD_INVALID"
	ErrorCodeBlobUploadUnknown   ErrorCode = "BLOB_UPLOAD_UNKNOWN"
	ErrorCodeDigestInvalid       ErrorCode = "DIGEST_INVALID"
	ErrorCodeManifestBlobUnknown ErrorCode = "MANIFEST_BLOB_UNKNOWN"
	ErrorCodeManifestInvalid     ErrorCode = "MANIFEST_INVALID"
	ErrorCodeManifestUnknown     ErrorCode = "MANIFEST_UNKNOWN"
	ErrorCodeNameInvalid         ErrorCode = "NAME_INVALID"
	ErrorCodeNameUnknown         ErrorCode = "NAME_UNKNOWN"
	ErrorCodeSizeInvalid         ErrorCode = "SIZE_INVALID"
	ErrorCodeTagInvalid          ErrorCode = "TAG_INVALID"
	ErrorCodeUnauthorized        ErrorCode = "UNAUTHORIZED"
	ErrorCodeDenied              ErrorCode = "DENIED"
	ErrorCodeUnsupported         ErrorCode = "UNSUPPORTED"
	ErrorCodeTooManyRequests     ErrorCode = "TOOMANYREQUESTS"
	ErrorCodeRangeInvalid        ErrorCode = "RANGE_INVALID"
	// ErrorCodeTagUnknown is ACR's code for a tag that /acr/v1 does not
	// know (not in the OCI list).
	ErrorCodeTagUnknown ErrorCode = "TAG_UNKNOWN"
	// ErrorCodeBlobUploadRangeInvalid is ACR's code for a malformed
	// Content-Range on an upload chunk (not in the OCI list).
	ErrorCodeBlobUploadRangeInvalid ErrorCode = "BLOB_UPLOAD_RANGE_INVALID"
	// ErrorCodeMethodUnknown is docker distribution's code for a method and
	// path it has no endpoint for (not in the OCI list; the registry of
	// go-containerregistry answers it too).
	ErrorCodeMethodUnknown ErrorCode = "METHOD_UNKNOWN"
)

// ErrorInfo is one entry of an error body.
type ErrorInfo struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	Detail  any       `json:"detail,omitempty"`
}

// ErrorBody is the JSON body of an error response.
type ErrorBody struct {
	Errors []ErrorInfo `json:"errors"`
}
