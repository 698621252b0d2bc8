// Package acr is a client for Azure Container Registry and any OCI
// distribution registry.
//
// One [Client] per registry does everything, with the repository as a
// parameter:
//
//	client, err := acr.NewClient("https://myregistry.azurecr.io", acr.TokenCredential(cred), nil)
//	for name, err := range client.Repositories(ctx, nil) { ... }
//	for tag, err := range client.Tags(ctx, "library/hello", &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}) { ... }
//	_, err = client.UpdateTagProperties(ctx, "library/hello", "v1", acr.Locked())
//
// # Authentication
//
// Pass a [Credential]: [TokenCredential] wraps any azcore.TokenCredential
// (azidentity's DefaultAzureCredential, workload or managed identity) for
// Microsoft Entra ID; [BasicCredential] takes ACR's admin user, repository
// tokens or any registry's user name and password; [RefreshTokenCredential]
// an ACR refresh token; [DockerConfigCredential] whatever docker login
// stored; nil or [AnonymousCredential] pulls anonymously. The client
// answers each registry challenge itself, caches access tokens per (host,
// scope) until they expire, renews ACR refresh tokens before they expire,
// and never sends credentials to another origin or over plain http to a
// host that is not loopback. National clouds: set [ClientOptions.Audience]
// to [AudienceAzureChina] or [AudienceAzureGovernment].
//
// # Listing
//
// Listings are iterators (iter.Seq2[T, error]) that fetch page by page and
// follow the registry's Link headers; iteration stops after the first
// error, which is yielded. Each takes its page size and a continuation
// point: [ListOptions] (or the same fields of [TagsOptions] and
// [ManifestsOptions]), whose Last is the name, tag or digest of the last
// item a stopped listing received. A caller that reads a whole listing sets
// ReadAhead, so that the next page is requested while it handles the
// current one. [Client.TagNames] lists tag names only, the fastest way to
// list tags.
//
// # Blobs and manifests
//
// One verb family per direction. Upload with [Client.UploadBlob] (streamed,
// hashed while sent, chunked, resumed after dropped connections; with a
// known descriptor in [UploadBlobOptions] it is sent as it is), or drive a
// session yourself with [Client.StartUpload] and resume it, from this
// process or another, with [Client.ResumeUpload]. Download with
// [Client.DownloadBlob], a reader that verifies the digest as it is read
// ([DownloadBlobOptions] for a byte range or progress), or
// [Client.DownloadBlobTo], which writes to an io.Writer while it hashes
// and, with [DownloadBlobToOptions].Resume, continues a file that an
// earlier run left unfinished.
// Manifests go up with [Client.SetManifest], [Client.SetImage] and
// [Client.SetIndex] and come back, verified, with [Client.GetManifest].
//
// # ACR and other registries
//
// Repository, tag and manifest properties, lock flags and ordering use
// ACR's /acr/v1 API. On hosts that are not ACR's own domains the client
// finds out once per Client whether the registry serves it: the first
// call's answer tells. On other registries
// Repositories and Tags fall back to the OCI catalog and tag list,
// DeleteTag to the OCI 1.1 delete by tag, and the rest returns
// [ErrNotSupported].
//
// # Errors
//
// Registry refusals are *[ResponseError] values carrying the status, the
// OCI error codes and the request id, and so are its token endpoint's (a
// wrong password: URL is then the endpoint's); match categories with
// errors.Is and [ErrNotFound], [ErrUnauthorized], [ErrInsufficientScope]
// (the credential was accepted but lacks a right), [ErrForbidden],
// [ErrLocked] (a lock flag refused the operation), [ErrTagInUse],
// [ErrDigestMismatch] or [ErrUploadSessionLost]; a registry without ACR's
// API answers [ErrNotSupported] for what needs it. Invalid names, tags and
// digests fail with [ErrInvalidReference] before any request is sent.
//
// No request has a time limit of its own beyond connecting (30 seconds)
// and the TLS handshake (10 seconds), since a blob may take hours: bound
// calls with a context deadline where a registry that stops answering
// must not stall the caller.
//
// # Tracing
//
// Set [ClientOptions.TracingProvider] (for OpenTelemetry, the Azure SDK's
// azotel.NewTracingProvider) for a span per operation, such as
// "Client.GetManifest", and per HTTP attempt, after the Azure SDK's tracing
// conventions; packages transfer and purge add a span per operation, such
// as "transfer.Copy", above the client's.
//
// # Testing
//
// Package acrtest runs an ACR-compatible registry in process:
//
//	srv := acrtest.NewServer(t, nil)
//	client, _ := acr.NewClient(srv.URL, nil, nil)
package acr
