package emulator_test

// TestOfficialGoSDK drives the registry with the official Azure SDK for Go,
// github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry
// v0.2.3, unchanged and in process, and checks what every call returns
// against what ACR answers (../shared/docs/acr-recordings; G, J, N and P
// name the Go, JavaScript, .NET and Python recordings as its README does).
//
// Coverage of the SDK's exported API, listed from its source in the module
// cache (go doc -all .../azcontainerregistry):
//
//	Client (sdk_client_test.go; lock refusals in sdk_locks_test.go,
//	  anonymous reads and refused writes in sdk_auth_test.go):
//	  DeleteManifest, DeleteRepository, DeleteTag, GetManifest (Accept
//	  options), GetManifestProperties, GetRepositoryProperties,
//	  GetTagProperties, NewListManifestsPager (every orderby incl. none,
//	  MaxNum, Last), NewListRepositoriesPager (MaxNum, Last),
//	  NewListTagsPager (every orderby, MaxNum, Last, Digest),
//	  UpdateManifestProperties, UpdateRepositoryProperties,
//	  UpdateTagProperties, UploadManifest (both ContentTypes, by tag and by
//	  digest, and an index).
//	BlobClient (sdk_blob_test.go): CancelUpload, CheckBlobExists,
//	  CheckChunkExists, CompleteUpload, DeleteBlob, GetBlob (also through
//	  a storage redirect), GetChunk, GetUploadStatus, MountBlob (a real mount
//	  and the fallback to an upload session), StartUpload, UploadChunk
//	  (several chunks, with and without ranges, a refused range).
//	AuthenticationClient (sdk_auth_test.go):
//	  ExchangeAADAccessTokenForACRRefreshToken,
//	  ExchangeACRRefreshTokenForACRAccessToken (both TokenGrantTypes), with
//	  the tokens then used for requests; anonymous access.
//	Functions: NewClient, NewBlobClient, NewAuthenticationClient (with
//	  ClientOptions.Cloud and ServiceName for national clouds),
//	  NewBlobDigestCalculator, NewDigestValidationReader and
//	  DigestValidationReader.Read (ErrMismatchedHash,
//	  ErrDigestAlgNotSupported), PossibleArtifactManifestOrderByValues,
//	  PossibleArtifactTagOrderByValues, PossibleContentTypeValues,
//	  PossibleArtifactArchitectureValues,
//	  PossibleArtifactOperatingSystemValues, PossibleTokenGrantTypeValues.
//	Seed README samples translated to this SDK: sdk_samples_test.go.
//
// Not driven against the server: PossiblePostContentSchemaGrantTypeValues
// beyond access_token (the other two grant types exchange Entra ID refresh
// tokens, deprecated, which an offline registry cannot check), and the
// models' MarshalJSON/UnmarshalJSON, which every call above runs.
//
// Each area runs against its own server, so the areas are independent;
// inside an area the subtests run in order and build on each other.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestOfficialGoSDK runs the areas listed at the top of this file, each
// against its own server.
func TestOfficialGoSDK(t *testing.T) {
	for _, area := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"Client", sdkClientArea},
		{"BlobClient", sdkBlobArea},
		{"BlobRedirect", sdkBlobRedirectArea},
		{"AuthenticationClient", sdkAuthArea},
		{"Anonymous", sdkAnonymousArea},
		{"Locks", sdkLocksArea},
		{"Samples", sdkSamplesArea},
	} {
		t.Run(area.name, func(t *testing.T) {
			t.Parallel()
			area.run(t)
		})
	}
}

// sdkAADToken is the Entra ID token the test servers accept.
const sdkAADToken = "aad-secret"

// sdkAudience is the scope the SDK asks Entra ID for by default.
const sdkAudience = "https://containerregistry.azure.net/.default"

// sdkCredential stands in for an Entra ID credential: it hands out a fixed
// token that the registry is configured to accept, and records what the
// SDK asked for.
type sdkCredential struct {
	token  string
	mu     sync.Mutex
	calls  int
	scopes []string
}

var _ azcore.TokenCredential = (*sdkCredential)(nil)

func (c *sdkCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.scopes = append(c.scopes, strings.Join(o.Scopes, " "))
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *sdkCredential) seen() (calls int, scopes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, slices.Clone(c.scopes)
}

// sdkClock returns times that advance a millisecond per call from the
// moment it was made, so update times order writes deterministically,
// and tokens stay valid by the SDK's real clock. It is safe for the
// server's concurrent handlers.
func sdkClock() func() time.Time {
	base := time.Now().UTC()
	var n atomic.Int64
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

// sdkEnv is a registry and the SDK's clients for it, authenticated with
// Entra ID.
type sdkEnv struct {
	srv    *acrtest.Server
	cred   *sdkCredential
	client *azcontainerregistry.Client
	blobs  *azcontainerregistry.BlobClient
}

// newSDKEnv starts a registry with opts plus the Entra ID token and a
// deterministic clock, over TLS when tls is set.
func newSDKEnv(t *testing.T, tls bool, opts emulator.Options) *sdkEnv {
	t.Helper()
	opts.AADTokens = append(opts.AADTokens, sdkAADToken)
	if opts.Now == nil {
		opts.Now = sdkClock()
	}
	e := &sdkEnv{cred: &sdkCredential{token: sdkAADToken}}
	if tls {
		e.srv = acrtest.NewTLSServer(t, &opts)
	} else {
		e.srv = acrtest.NewServer(t, &opts)
	}
	if strings.HasPrefix(e.srv.URL, "https://") != tls {
		t.Fatalf("got server URL %s, want TLS %v", e.srv.URL, tls)
	}
	e.client, e.blobs = e.clients(t, e.cred)
	return e
}

// clientOptions are the SDK's options for this server: its transport
// trusts the server's certificate.
func (e *sdkEnv) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Transport: e.srv.HTTP.Client()}
}

// clients returns a Client and a BlobClient with cred; a nil cred gives
// anonymous clients.
func (e *sdkEnv) clients(t *testing.T, cred azcore.TokenCredential) (*azcontainerregistry.Client, *azcontainerregistry.BlobClient) {
	t.Helper()
	client, err := azcontainerregistry.NewClient(e.srv.URL, cred, &azcontainerregistry.ClientOptions{ClientOptions: e.clientOptions()})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	blobs, err := azcontainerregistry.NewBlobClient(e.srv.URL, cred, &azcontainerregistry.BlobClientOptions{ClientOptions: e.clientOptions()})
	if err != nil {
		t.Fatalf("NewBlobClient: %v", err)
	}
	return client, blobs
}

// pushBlob uploads data in chunks of at most chunk bytes (0: one chunk
// without a range) and checks every answer of the upload protocol as ACR
// gives it (G TestBlobClient_CompleteUpload_uploadByChunk).
func (e *sdkEnv) pushBlob(t *testing.T, blobs *azcontainerregistry.BlobClient, repo string, data []byte, chunk int) string {
	t.Helper()
	ctx := t.Context()
	start, err := blobs.StartUpload(ctx, repo, nil)
	if err != nil {
		t.Fatalf("StartUpload %s: %v", repo, err)
	}
	if start.Location == nil || !strings.HasPrefix(*start.Location, "/v2/"+repo+"/blobs/uploads/") {
		t.Fatalf("StartUpload %s: got Location %v, want a relative /v2/%s/blobs/uploads/ URL", repo, sdkStr(start.Location), repo)
	}
	if sdkStr(start.Range) != "0-0" || sdkStr(start.DockerUploadUUID) == "" {
		t.Fatalf("StartUpload %s: got Range %q, Docker-Upload-UUID %q; want 0-0 and a UUID", repo, sdkStr(start.Range), sdkStr(start.DockerUploadUUID))
	}
	calc := azcontainerregistry.NewBlobDigestCalculator()
	location := *start.Location
	if chunk <= 0 {
		chunk = len(data)
	}
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		var opts *azcontainerregistry.BlobClientUploadChunkOptions
		if chunk < len(data) {
			opts = &azcontainerregistry.BlobClientUploadChunkOptions{RangeStart: to.Ptr(int32(off)), RangeEnd: to.Ptr(int32(end - 1))}
		}
		up, err := blobs.UploadChunk(ctx, location, bytes.NewReader(data[off:end]), calc, opts)
		if err != nil {
			t.Fatalf("UploadChunk %s [%d,%d): %v", repo, off, end, err)
		}
		if want := "0-" + strconv.Itoa(end-1); sdkStr(up.Range) != want {
			t.Errorf("UploadChunk %s [%d,%d): got Range %q, want %q", repo, off, end, sdkStr(up.Range), want)
		}
		if sdkStr(up.DockerUploadUUID) != *start.DockerUploadUUID {
			t.Errorf("UploadChunk %s: got Docker-Upload-UUID %q, want %q", repo, sdkStr(up.DockerUploadUUID), *start.DockerUploadUUID)
		}
		location = *up.Location
	}
	done, err := blobs.CompleteUpload(ctx, location, calc, nil)
	if err != nil {
		t.Fatalf("CompleteUpload %s: %v", repo, err)
	}
	d := digest.FromBytes(data).String()
	if sdkStr(done.DockerContentDigest) != d {
		t.Fatalf("CompleteUpload %s: got digest %q, want %q", repo, sdkStr(done.DockerContentDigest), d)
	}
	if want := "/v2/" + repo + "/blobs/" + d; sdkStr(done.Location) != want {
		t.Errorf("CompleteUpload %s: got Location %q, want %q", repo, sdkStr(done.Location), want)
	}
	return d
}

// sdkImage is an image pushed with the SDK.
type sdkImage struct {
	repo, tag    string
	mediaType    azcontainerregistry.ContentType
	arch, os     string
	config       []byte
	layers       [][]byte
	manifest     []byte
	digest       string
	configDigest string
	layerDigests []string
}

// size is what ACR reports as the image size: config and layers.
func (im sdkImage) size() int64 {
	n := int64(len(im.config))
	for _, l := range im.layers {
		n += int64(len(l))
	}
	return n
}

// Media types of the two manifest formats the SDK names.
var sdkConfigType = map[azcontainerregistry.ContentType]string{
	azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON:           ocispec.MediaTypeImageConfig,
	azcontainerregistry.ContentTypeApplicationVndDockerDistributionManifestV2JSON: "application/vnd.docker.container.image.v1+json",
}

var sdkLayerType = map[azcontainerregistry.ContentType]string{
	azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON:           ocispec.MediaTypeImageLayerGzip,
	azcontainerregistry.ContentTypeApplicationVndDockerDistributionManifestV2JSON: "application/vnd.docker.image.rootfs.diff.tar.gzip",
}

// pushImage uploads a config for arch/os, the layers, and a manifest of
// mediaType under ref (a tag or "" for by digest), and checks
// UploadManifest's answer (J …can_upload_oci_manifest_with_tag: 201, the
// digest, and a relative Location by digest even for a tag).
func (e *sdkEnv) pushImage(t *testing.T, repo, ref, arch, os string, mediaType azcontainerregistry.ContentType, layers ...string) sdkImage {
	t.Helper()
	im := sdkImage{repo: repo, tag: ref, mediaType: mediaType, arch: arch, os: os,
		config: []byte(`{"architecture":"` + arch + `","os":"` + os + `","rootfs":{"type":"layers","diff_ids":[]},"comment":"` + repo + ":" + ref + `"}`)}
	im.configDigest = e.pushBlob(t, e.blobs, repo, im.config, 0)
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: string(mediaType),
		Config: ocispec.Descriptor{MediaType: sdkConfigType[mediaType], Digest: digest.Digest(im.configDigest), Size: int64(len(im.config))}}
	for _, l := range layers {
		data := []byte(l)
		d := e.pushBlob(t, e.blobs, repo, data, 7)
		im.layers = append(im.layers, data)
		im.layerDigests = append(im.layerDigests, d)
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: sdkLayerType[mediaType], Digest: digest.Digest(d), Size: int64(len(data))})
	}
	var err error
	if im.manifest, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	im.digest = digest.FromBytes(im.manifest).String()
	if ref == "" {
		ref = im.digest
	}
	e.uploadManifest(t, repo, ref, mediaType, im.manifest)
	return im
}

// uploadManifest puts a manifest with the SDK and checks the answer.
func (e *sdkEnv) uploadManifest(t *testing.T, repo, ref string, mediaType azcontainerregistry.ContentType, manifest []byte) {
	t.Helper()
	d := digest.FromBytes(manifest).String()
	resp, err := e.client.UploadManifest(t.Context(), repo, ref, mediaType, streaming.NopCloser(bytes.NewReader(manifest)), nil)
	if err != nil {
		t.Fatalf("UploadManifest %s:%s: %v", repo, ref, err)
	}
	if sdkStr(resp.DockerContentDigest) != d {
		t.Errorf("UploadManifest %s:%s: got digest %q, want %q", repo, ref, sdkStr(resp.DockerContentDigest), d)
	}
	if want := "/v2/" + repo + "/manifests/" + d; sdkStr(resp.Location) != want {
		t.Errorf("UploadManifest %s:%s: got Location %q, want %q", repo, ref, sdkStr(resp.Location), want)
	}
	if resp.ContentLength == nil || *resp.ContentLength != 0 {
		t.Errorf("UploadManifest %s:%s: got Content-Length %v, want 0", repo, ref, resp.ContentLength)
	}
}

// sdkErrorBody is an OCI error body, as ACR sends it.
type sdkErrorBody struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

// sdkWantError checks that err is the SDK's *azcore.ResponseError with
// status and, unless code is "", an OCI body whose first error has code.
// It returns the body's first error message and detail ("" without).
func sdkWantError(t *testing.T, what string, err error, status int, code string) (message, detail string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("%s: got error %v, want an *azcore.ResponseError with status %d %s", what, err, status, code)
		return "", ""
	}
	if re.StatusCode != status {
		t.Errorf("%s: got status %d, want %d (%s)", what, re.StatusCode, status, sdkBody(re.RawResponse))
	}
	body := sdkBody(re.RawResponse)
	var eb sdkErrorBody
	if json.Unmarshal([]byte(body), &eb) != nil || len(eb.Errors) == 0 {
		if code != "" {
			t.Errorf("%s: got body %q, want an OCI error with code %s", what, body, code)
		}
		return "", ""
	}
	if eb.Errors[0].Code != code && code != "" {
		t.Errorf("%s: got code %s, want %s (%s)", what, eb.Errors[0].Code, code, body)
	}
	return eb.Errors[0].Message, string(eb.Errors[0].Detail)
}

// sdkRawOf is the response behind an SDK error, or nil.
func sdkRawOf(err error) *http.Response {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.RawResponse
	}
	return nil
}

// sdkBody is the (buffered) body of a response the SDK received.
func sdkBody(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	b, err := runtime.Payload(resp)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// sdkWantCaptured checks a response the SDK accepted without an error
// although it may be a 404 (the SDK's deletes accept 404), by status and
// OCI error code.
func sdkWantCaptured(t *testing.T, what string, resp *http.Response, status int, code string) {
	t.Helper()
	if resp == nil {
		t.Errorf("%s: no response captured", what)
		return
	}
	if resp.StatusCode != status {
		t.Errorf("%s: got status %d, want %d (%s)", what, resp.StatusCode, status, sdkBody(resp))
	}
	if code == "" {
		return
	}
	var eb sdkErrorBody
	if json.Unmarshal([]byte(sdkBody(resp)), &eb) != nil || len(eb.Errors) == 0 || eb.Errors[0].Code != code {
		t.Errorf("%s: got body %q, want an OCI error with code %s", what, sdkBody(resp), code)
	}
}

// sdkPages runs a pager to its end and returns its pages, each fetched
// with ctx (which may capture responses).
func sdkPages[T any](t *testing.T, what string, pager *runtime.Pager[T], ctx context.Context) []T {
	t.Helper()
	var pages []T
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("%s: page %d: %v", what, len(pages)+1, err)
		}
		pages = append(pages, page)
		if len(pages) > 100 {
			t.Fatalf("%s: more than 100 pages; the Link header does not end", what)
		}
	}
	return pages
}

// sdkPagerError runs a pager's first page and returns its error.
func sdkPagerError[T any](pager *runtime.Pager[T], ctx context.Context) error {
	if !pager.More() {
		return errors.New("the pager has no page")
	}
	_, err := pager.NextPage(ctx)
	return err
}

// sdkStr dereferences an optional string for messages and comparisons.
func sdkStr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// sdkStrs dereferences a list of optional strings.
func sdkStrs(ss []*string) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, sdkStr(s))
	}
	return out
}

// sdkReadAll reads and closes a body the SDK returned.
func sdkReadAll(t *testing.T, what string, r io.ReadCloser) []byte {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: no body", what)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", what, err)
	}
	return b
}

// sdkValidated reads r through the SDK's DigestValidationReader for d.
func sdkValidated(t *testing.T, what, d string, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	vr, err := azcontainerregistry.NewDigestValidationReader(d, r)
	if err != nil {
		t.Fatalf("%s: NewDigestValidationReader(%s): %v", what, d, err)
	}
	b, err := io.ReadAll(vr)
	if err != nil {
		t.Fatalf("%s: the body does not match its digest %s: %v", what, d, err)
	}
	return b
}

// sdkAttrs checks changeable attributes: delete, write, read, list.
func sdkAttrs(t *testing.T, what string, canDelete, canWrite, canRead, canList *bool, want [4]bool) {
	t.Helper()
	got := [4]bool{}
	for i, p := range []*bool{canDelete, canWrite, canRead, canList} {
		if p == nil {
			t.Errorf("%s: changeable attribute %d is missing", what, i)
			continue
		}
		got[i] = *p
	}
	if got != want {
		t.Errorf("%s: got changeable attributes (delete, write, read, list) %v, want %v", what, got, want)
	}
}

// sdkTimes checks that created and updated times are set and ordered.
func sdkTimes(t *testing.T, what string, created, updated *time.Time) {
	t.Helper()
	if created == nil || updated == nil || created.IsZero() || updated.IsZero() {
		t.Errorf("%s: got created %v, updated %v; want both set", what, created, updated)
		return
	}
	if updated.Before(*created) {
		t.Errorf("%s: updated %v is before created %v", what, updated, created)
	}
}
