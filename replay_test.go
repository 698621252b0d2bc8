package acr_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
)

// TestReplayACRRecordings drives the client against ACR's own answers: the 199
// HTTP exchanges that the Azure SDKs' live tests recorded against the
// service (testdata/acr-recordings). Each case is one recording file. A
// TLS test server answers the client with the file's recorded responses
// (status, headers, body), with the registry and storage hosts rewritten to
// the test servers and each access token it hands out made unique (ACR
// mints a new one for every token request), and fails the case on any
// request the recording does not hold.
//
// Matching. A request is served the first unused exchange of the case's
// file (then of its borrow list) that has the same method and path (path
// segments compared unescaped, query compared as a set) and was sent in
// the same authentication state: a request without Authorization only gets
// an exchange recorded without a token, and a request with a token only
// gets one recorded with a token for the same scopes (the scopes of the
// last token request before it in its file), or a refusal its token earns
// too (the insufficient_scope rule below). Recorded request headers and
// bodies must match too: Content-Type, Content-Range, Range, the form
// fields of token requests (grant, service, scopes, the refresh token the
// case handed out, the Entra ID token and tenant), upload bytes, JSON
// bodies; a manifest GET's Accept must take the media type ACR answered.
// Token requests must carry no Authorization. The client may skip
// exchanges; each case lists the exact sequence it must be served, and
// the table replayLeftOut names every exchange that no case serves, and
// why.
//
// Where the client may differ from the SDK that recorded, these rules
// allow it, and nothing else does:
//
//   - api-version: the client sends no api-version=2021-07-01. ACR does not
//     need it: its own next-page links omit it and were followed (e.g.
//     NewListTagsPager entries 4 and 5).
//   - page size: the client always sends n. A recorded request without n
//     matches when its answer has no Link and at most n items: ACR would
//     have answered the same page.
//   - anonymous tokens: the client asks GET /oauth2/token?service=&scope=
//     (the Docker token protocol, as docker pulls anonymously from ACR);
//     the SDKs POST grant_type=password with an empty refresh token. Served
//     the recorded POST's answer; service and scope must match.
//   - /v2/ token: for GET /v2/ the client asks a token without scope; the
//     Go SDK asked registry:catalog:* (its default when the challenge
//     names no scope). /v2/ checks authentication only, and only /v2/
//     accepts that token in place of the catalog one.
//   - Content-Range: a single-chunk PATCH from byte 0 carries one
//     (0-27) where the SDK sent none; ACR's answer (Range: 0-27) is the
//     same.
//   - Range: a HEAD without Range matches a recorded HEAD with Range that
//     ACR answered 200 with the whole length; ranges compare after their end
//     is cut to the blob's size (RFC 9110 section 14.1.1, as ACR's
//     Content-Range shows).
//   - challenges: a recorded 401 to a request without a token matches
//     whatever its Range, and a body where the recorded request had none
//     (the Go SDK sends first attempts without one); served again (a listed
//     repeat) it matches whatever its query too: ACR challenges before it
//     reads any of them.
//   - token forms: the client adds client_id=acrgo (the Docker token spec
//     asks for it), and its exchange leaves out the deprecated refresh_token
//     field that one Go SDK test sent.
//   - token repeats: a token request whose scopes a token already served in
//     the case covers gets that token's answer again, as a new token (the
//     client asks again after an insufficient_scope refusal, and asks a
//     pull token after a pull,push one: both harmless).
//   - token supersets: a token request whose scopes cover the recorded
//     ones (actions merged per resource) gets the recorded answer, and its
//     token stands for the recorded one. ACR grants each asked action that
//     the identity holds and answers 200 whatever it leaves out (it gave
//     the anonymous user a token for metadata_write, which it then refused:
//     Test_authenticationPolicy_anonymousAccess entries 4 and 5), so the
//     token holds at least the recorded token's rights. The client's
//     upload cancel asks delete,pull,push after ACR's challenge for delete
//     (its hint and the challenge), where the Go SDK asked delete
//     (TestBlobClient_GetUploadStatus entry 6, StartUpload entry 5).
//   - insufficient_scope: a recorded 401 whose challenge says
//     error="insufficient_scope" for scope C answers a request with a
//     token the replay knows lacks C: one not asked for C (ACR grants no
//     action it was not asked for: the Go SDK's pull,push token was refused
//     delete, StartUpload entry 4, though its identity could delete, entry
//     6), or minted for a token exchange whose token, asked for C, the
//     recording shows refused for C (the identity lacks it). ACR's refusal
//     names the missing scope, not the token's: anonymousAccess entries 3
//     (a catalog token) and 5 (a metadata_write token) are the same answer.
//     Every other request, and a token that may hold C, is not served it.
//   - storage: the .NET recording holds ACR's 307 but not storage's
//     answer; the storage server answers the redirected GET, which must
//     carry no Authorization, with the blob recovered from the recorded
//     upload (a synthetic answer).
//   - per case, and listed there: borrowed exchanges (ACR's answer to the
//     same request in another file of the same SDK, host and day), repeats
//     of an identical GET, the ACR-API probe (synthetic), and the
//     best-effort cancel of an upload session the recording never deleted:
//     a DELETE of the session, without a token or with one the replay
//     handed out, gets a synthetic 404 (ACR would refuse the pull,push token
//     for lacking delete; the client ignores the answer either way).
//
// Coverage counts the exchanges served as recorded (possibly borrowed or
// repeated); synthetic answers do not count. After the cases,
// the exchanges that none served must be exactly those of replayLeftOut.
func TestReplayACRRecordings(t *testing.T) {
	rec := loadReplayRecordings(t)
	if len(rec.all) != 199 {
		t.Fatalf("exchanges.jsonl holds %d exchanges, want 199", len(rec.all))
	}
	covered := map[int]bool{}
	for _, c := range replayCases {
		t.Run(c.name, func(t *testing.T) {
			if rec.byFile[c.file] == nil {
				t.Fatalf("no recording %s", c.file)
			}
			s := &replayServer{c: &c, rec: rec, used: map[int]bool{}, tokens: map[string]replayMinted{}, refresh: map[string]bool{}}
			s.reg = httptest.NewTLSServer(http.HandlerFunc(s.serveRegistry))
			s.sto = httptest.NewTLSServer(http.HandlerFunc(s.serveStorage))
			defer func() { // also after a Fatal in run
				s.reg.Close()
				s.sto.Close()
				s.mu.Lock()
				defer s.mu.Unlock()
				for _, msg := range s.errs {
					t.Error(msg)
				}
				if got := strings.Join(s.log, " "); got != c.serves {
					t.Errorf("served  %s\nwant    %s", got, c.serves)
				}
				for _, h := range s.storage {
					if h.Get("Authorization") != "" {
						t.Errorf("the storage request carried Authorization")
					}
				}
				for id := range s.used {
					covered[id] = true
				}
			}()
			c.run(&replayEnv{t: t, ctx: t.Context(), srv: s})
		})
	}
	left := map[int]string{}
	for _, l := range replayLeftOut {
		file := rec.byFile[l.file]
		if l.index >= len(file) || l.why == "" {
			t.Fatalf("replayLeftOut: no exchange %s entry %d, or no reason", l.file, l.index)
		}
		left[file[l.index].id] = l.why
	}
	for _, e := range rec.all {
		switch _, out := left[e.id]; {
		case covered[e.id] && out:
			t.Errorf("%v is served, but replayLeftOut lists it", e)
		case !covered[e.id] && !out:
			t.Errorf("%v is not served, and replayLeftOut does not say why", e)
		}
	}
	t.Logf("replay covered %d of %d exchanges", len(covered), len(rec.all))
}

// Probe modes: how the client's ACR-API probe (GET /acr/v1/_catalog?n=1)
// is answered. The replay's hosts are not ACR's domains, but the client
// sends its /acr/v1 calls straight away and learns from their answers, as
// the SDKs (which know they talk to ACR) do; it probes only when an answer
// leaves the question open, which no recording does.
const (
	replayProbeNone     = iota // the client must not probe
	replayProbeSynth           // a synthetic 200 {"repositories":[]}: ACR API present, and no challenge learnt, so the recorded flow follows as the SDK saw it
	replayProbeAbsent          // a synthetic plain 404 to the first /acr/v1 request: the client takes the registry for one without /acr/v1
	replayProbeRecorded        // the probe is a recorded request of the file
)

type replayCase struct {
	name    string
	file    string // the recording's base name
	aad     string // the Entra ID token the fake credential hands out
	probe   int
	clients int   // clients the case creates, each probing once; 0 means 1
	borrow  []int // exchanges of other files the case may serve
	repeat  []int // exchanges that may be served again to an identical request
	cancel  int   // a DELETE of the upload session this exchange's Location names gets a synthetic 404
	// loginServer names the registry, to the case's clients, by an ACR
	// login server (replayLoginServer) instead of 127.0.0.1, so that they
	// know it for ACR from the start, as clients of the real one do.
	loginServer bool
	serves      string // the exact sequence served: exchange ids (exchanges.jsonl line numbers from 0), "Nb" borrowed, "Nr" repeated, probe, probe404, cancel, storage
	run         func(e *replayEnv)
}

// Digests that the recordings use.
const (
	replayAlpineConfig = "sha256:042a816809aac8d0f7d7cacac7965782ee2ecac3f21bcf9f24b1de1a7387b769" // 1472 bytes
	replayAlpineIndex  = "sha256:f271e74b17ced29b915d351685fd4644785c6d1559dd1f2d4189a5e851ef753a" // alpine:3.17.1
	replayLayer        = "sha256:654b93f61054e4ce90ed203bb8d556a6200d5f906cf3eca0620738d6dc18cbed" // 28 bytes (js, net)
	replayConfig       = "sha256:d25b42d3dbad5361ed2d909624d899e7254a822c9a632b582ebd3a44f9b0dbc8" // 171 bytes (js)
)

var errReplaySource = errors.New("replay: the source failed")

// replayFailingReader yields data, then fails: an upload that stops there.
func replayFailingReader(data []byte) io.Reader {
	return io.MultiReader(bytes.NewReader(data), replayReaderFunc(func([]byte) (int, error) { return 0, errReplaySource }))
}

type replayReaderFunc func([]byte) (int, error)

func (f replayReaderFunc) Read(p []byte) (int, error) { return f(p) }

// replayUploadByChunks downloads alpine's config and uploads it to
// hello-world in two chunks, as the Go SDK's chunked-upload tests did.
func replayUploadByChunks(e *replayEnv) {
	c := e.client(e.entra(), nil)
	data := e.download(c, "alpine", replayAlpineConfig)
	var progress []int64
	desc, err := c.UploadBlob(e.ctx, "hello-world", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: 736,
		Progress: func(n int64) { progress = append(progress, n) }})
	if err != nil || desc.Digest != replayAlpineConfig || desc.Size != 1472 || !slices.Equal(progress, []int64{736, 1472}) {
		e.t.Errorf("UploadBlob = %+v, progress %v, %v; want %s, 1472 bytes in chunks 736, 1472", desc, progress, err, replayAlpineConfig)
	}
}

// replayCancelledUpload opens an upload session and fails the source
// before any byte is sent: the client cancels the session.
func replayCancelledUpload(e *replayEnv) {
	c := e.client(e.entra(), nil)
	if _, err := c.UploadBlob(e.ctx, "hello-world", replayFailingReader(nil), nil); !errors.Is(err, errReplaySource) {
		e.t.Errorf("UploadBlob with a failing source: %v; want %v", err, errReplaySource)
	}
}

// replayAllPermissions is ACR's default: every changeableAttribute true.
var replayAllPermissions = acr.Permissions{CanDelete: true, CanWrite: true, CanList: true, CanRead: true}

var replayCases = []replayCase{
	// Go SDK azcontainerregistry v0.2.1, azacrlivetest.azurecr.io, Entra ID.
	{name: "go/CheckChunkExists", file: "TestBlobClient_CheckChunkExists.json", aad: "Sanitized", serves: "2 3 4 5",
		run: func(e *replayEnv) {
			n, ok, err := e.client(e.entra(), nil).BlobExists(e.ctx, "alpine", replayAlpineConfig)
			if err != nil || !ok || n != 1472 {
				e.t.Errorf("BlobExists = %d, %v, %v; want 1472, true", n, ok, err)
			}
		}},
	{name: "go/CompleteUpload_uploadByChunk", file: "TestBlobClient_CompleteUpload_uploadByChunk.json", aad: "Sanitized",
		serves: "6 7 8 9 11 12 13 14 15", run: replayUploadByChunks},
	{name: "go/CompleteUpload_uploadByChunkFailOver", file: "TestBlobClient_CompleteUpload_uploadByChunkFailOver.json", aad: "Sanitized",
		serves: "16 17 18 19 21 22 23 25 26", run: replayUploadByChunks},
	{name: "go/DeleteBlob", file: "TestBlobClient_DeleteBlob.json", aad: "Sanitized", serves: "27 28 29 30",
		run: func(e *replayEnv) {
			if err := e.client(e.entra(), nil).DeleteBlob(e.ctx, "alpine", replayAlpineConfig); err != nil {
				e.t.Errorf("DeleteBlob: %v", err)
			}
		}},
	// DownloadBlob with Offset and Length reads the two chunks the SDK read: 0-999 (206,
	// bytes 0-999/1472) and 1000-1999, which ACR cut to the blob's end
	// (1000-1471/1472).
	{name: "go/GetChunk", file: "TestBlobClient_GetChunk.json", aad: "Sanitized", serves: "32 33 34 35 36",
		run: func(e *replayEnv) {
			c := e.client(e.entra(), nil)
			var all []byte
			for _, x := range []struct {
				id             int
				offset, length int64
			}{{35, 0, 1000}, {36, 1000, 1000}} {
				rc, err := c.DownloadBlob(e.ctx, "alpine", replayAlpineConfig, &acr.DownloadBlobOptions{Offset: x.offset, Length: x.length})
				if err != nil {
					e.t.Fatalf("DownloadBlob(Offset %d, Length %d): %v", x.offset, x.length, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				want, werr := replayResponseBody(e.srv.rec.all[x.id])
				if err != nil || werr != nil || !bytes.Equal(got, want) {
					e.t.Errorf("DownloadBlob(Offset %d, Length %d) = %d bytes, %v; want the %d bytes ACR sent (%v)", x.offset, x.length, len(got), err, len(want), werr)
				}
				all = append(all, got...)
			}
			if len(all) != 1472 || replayDigest(all) != replayAlpineConfig {
				e.t.Errorf("the two ranges make %d bytes hashing to %s; want alpine's config", len(all), replayDigest(all))
			}
		}},
	// DownloadBlobTo in parts of 1,000 bytes: the whole-blob GET that comes
	// first is ACR's answer to that request in uploadByChunkFailOver (same
	// blob and token scope, same day); the second part is the recorded
	// range 1000-1999, which ACR answered as 1000-1471/1472.
	{name: "go/GetChunk-parts", file: "TestBlobClient_GetChunk.json", aad: "Sanitized", borrow: []int{19}, serves: "32 33 34 19b 36",
		run: func(e *replayEnv) {
			c := e.client(e.entra(), nil)
			path := filepath.Join(e.t.TempDir(), "config")
			n, err := downloadFile(e.ctx, c, "alpine", replayAlpineConfig, path, &acr.DownloadBlobToOptions{Parts: 2, PartSize: 1000})
			b, _ := os.ReadFile(path)
			if err != nil || n != 1472 || replayDigest(b) != replayAlpineConfig {
				e.t.Errorf("DownloadBlobTo = %d, %v; file %d bytes %s", n, err, len(b), replayDigest(b))
			}
		}},
	// The client cancels the session with its pull,push token, as the SDK
	// did; ACR asks for delete, and the client asks a token for
	// delete,pull,push (its hint and the challenge), where the SDK asked
	// delete alone: the superset rule.
	{name: "go/GetUploadStatus", file: "TestBlobClient_GetUploadStatus.json", aad: "Sanitized",
		serves: "37 38 39 40 42 43 44", run: replayCancelledUpload},
	// The mount became a plain upload session (202), which the client
	// cancels with a pull,push token for hello-world (the mount's token
	// covers it: a repeat): the recording has no DELETE, so that one gets
	// a synthetic 404.
	{name: "go/MountBlob", file: "TestBlobClient_MountBlob.json", aad: "Sanitized", cancel: 48, serves: "45 46 47 48 47r cancel",
		run: func(e *replayEnv) {
			mounted, err := e.client(e.entra(), nil).MountBlob(e.ctx, "hello-world", "alpine", replayAlpineConfig)
			if err != nil || mounted {
				e.t.Errorf("MountBlob = %v, %v; want false (ACR opened an upload session), nil", mounted, err)
			}
		}},
	{name: "go/StartUpload", file: "TestBlobClient_StartUpload.json", aad: "Sanitized",
		serves: "50 51 52 53 54 55 56", run: replayCancelledUpload},
	// The SDK completed the upload with a wrong digest, which the client
	// cannot send (it hashes the content itself): the replay sends the
	// chunk, then fails the source, and the client cancels the session.
	{name: "go/completeUpload_wrongDigest", file: "TestBlobClient_completeUpload_wrongDigest.json", aad: "Sanitized", cancel: 64,
		serves: "57 58 59 60 62 63 64 cancel",
		run: func(e *replayEnv) {
			c := e.client(e.entra(), nil)
			data := e.download(c, "alpine", replayAlpineConfig)
			_, err := c.UploadBlob(e.ctx, "hello-world", replayFailingReader(data), &acr.UploadBlobOptions{ChunkSize: int64(len(data))})
			if !errors.Is(err, errReplaySource) {
				e.t.Errorf("UploadBlob: %v; want %v", err, errReplaySource)
			}
		}},
	{name: "go/CheckDockerV2Support", file: "TestClient_CheckDockerV2Support.json", aad: "Sanitized", serves: "66 67 68 69",
		run: func(e *replayEnv) {
			if err := e.client(e.entra(), nil).Ping(e.ctx); err != nil {
				e.t.Errorf("Ping: %v", err)
			}
		}},
	// The SDK deleted a manifest by tag; the client does that only on a
	// registry without /acr/v1 (OCI 1.1 DELETE by tag): its first try, ACR's
	// DELETE of the tag, gets the plain 404 that says so.
	{name: "go/DeleteManifest_wrongDigest", file: "TestClient_DeleteManifest_wrongDigest.json", aad: "Sanitized", probe: replayProbeAbsent,
		serves: "probe404 70 71 72 73",
		run: func(e *replayEnv) {
			err := e.client(e.entra(), nil).DeleteTag(e.ctx, "alpine", "error-digest")
			e.wantError(err, acr.ErrNotSupported, http.StatusMethodNotAllowed, "UNSUPPORTED", "A manifest can only be deleted by digest.")
		}},
	{name: "go/DeleteRepository", file: "TestClient_DeleteRepository.json", aad: "Sanitized", serves: "74 75 76 77",
		run: func(e *replayEnv) {
			got, err := e.client(e.entra(), nil).DeleteRepository(e.ctx, "nginx")
			var want struct {
				Manifests []digest.Digest `json:"manifestsDeleted"`
				Tags      []string        `json:"tagsDeleted"`
			}
			e.recorded(77, false, &want)
			if err != nil || len(got.Manifests) != 17 || !slices.Equal(got.Manifests, want.Manifests) || !slices.Equal(got.Tags, []string{"latest"}) {
				e.t.Errorf("DeleteRepository = %+v, %v; want %+v", got, err, want)
			}
		}},
	{name: "go/DeleteTag", file: "TestClient_DeleteTag.json", aad: "Sanitized", serves: "78 79 80 81",
		run: func(e *replayEnv) {
			if err := e.client(e.entra(), nil).DeleteTag(e.ctx, "alpine", "3.14.8"); err != nil {
				e.t.Errorf("DeleteTag: %v", err)
			}
		}},
	{name: "go/GetManifest", file: "TestClient_GetManifest.json", aad: "Sanitized", serves: "82 83 84 85",
		run: func(e *replayEnv) {
			m, err := e.client(e.entra(), nil).GetManifest(e.ctx, "alpine", "3.17.1", nil)
			if err != nil || m.Digest != "sha256:93d5a28ff72d288d69b5997b8ba47396d2cbb62a72b5d87cd3351094b5d578a0" ||
				m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" || len(m.Bytes) != 528 {
				e.t.Fatalf("GetManifest = %s %s %d bytes, %v", m.Digest, m.MediaType, len(m.Bytes), err)
			}
			img, err := m.Image()
			if err != nil || img.Config.Digest != replayAlpineConfig || img.Config.Size != 1472 || len(img.Layers) != 1 || img.Layers[0].Size != 3370628 {
				e.t.Errorf("the manifest decodes to %+v, %v", img, err)
			}
		}},
	{name: "go/GetManifestProperties", file: "TestClient_GetManifestProperties.json", aad: "Sanitized",
		serves: "86 87 88 89 90 91",
		run: func(e *replayEnv) {
			c := e.client(e.entra(), nil)
			created := replayTime(e.t, "2024-01-24T06:16:01.8012938Z")
			for _, ref := range []string{replayAlpineIndex, "3.17.1"} { // the tag is resolved with GET _tags/3.17.1
				p, err := c.GetManifestProperties(e.ctx, "alpine", ref)
				if err != nil || p.Digest != replayAlpineIndex || p.Registry != "azacrlivetest.azurecr.io" || p.Repository != "alpine" ||
					p.Size != 22581618 || p.MediaType != "application/vnd.docker.distribution.manifest.list.v2+json" ||
					!slices.Equal(p.Tags, []string{"3.17.1"}) || !p.CreatedOn.Equal(created) || !p.LastUpdatedOn.Equal(created) ||
					p.Permissions != replayAllPermissions || len(p.RelatedArtifacts) != 7 {
					e.t.Fatalf("GetManifestProperties(%s) = %+v, %v", ref, p, err)
				}
				if a := p.RelatedArtifacts[6]; a.Digest != "sha256:176bc6c6e93528f4b729fae1f8dbd70b73861264dba3a3f64c49c92e1f42a5aa" ||
					a.Architecture != "s390x" || a.OS != "linux" {
					e.t.Errorf("the last related artifact is %+v", a)
				}
			}
		}},
	{name: "go/GetManifest_wrongTag", file: "TestClient_GetManifest_wrongTag.json", aad: "Sanitized", serves: "93 94 95 96",
		run: func(e *replayEnv) {
			_, err := e.client(e.entra(), nil).GetManifest(e.ctx, "alpine", "wrong-tag", nil)
			e.wantError(err, acr.ErrNotFound, http.StatusNotFound, "MANIFEST_UNKNOWN", `manifest tagged by "wrong-tag" is not found`)
			var re *acr.ResponseError
			if errors.As(err, &re) && len(re.Errors) > 0 && string(re.Errors[0].Detail) != `{"Tag":"wrong-tag"}` {
				e.t.Errorf("the error's detail is %s", re.Errors[0].Detail)
			}
		}},
	{name: "go/GetRepositoryProperties", file: "TestClient_GetRepositoryProperties.json", aad: "Sanitized",
		serves: "97 98 99 100",
		run: func(e *replayEnv) {
			p, err := e.client(e.entra(), nil).GetRepositoryProperties(e.ctx, "alpine")
			want := acr.RepositoryProperties{Registry: "azacrlivetest.azurecr.io", Name: "alpine",
				CreatedOn: replayTime(e.t, "2024-01-24T06:16:01.5177424Z"), LastUpdatedOn: replayTime(e.t, "2024-01-24T06:18:29.6664957Z"),
				ManifestCount: 32, TagCount: 3, Permissions: replayAllPermissions}
			if err != nil || !reflect.DeepEqual(p, want) {
				e.t.Errorf("GetRepositoryProperties = %+v, %v; want %+v", p, err, want)
			}
		}},
	{name: "go/GetRepositoryProperties_wrongName", file: "TestClient_GetRepositoryProperties_wrongName.json", aad: "Sanitized",
		serves: "101 102 103 104",
		run: func(e *replayEnv) {
			_, err := e.client(e.entra(), nil).GetRepositoryProperties(e.ctx, "wrong-name")
			e.wantError(err, acr.ErrNotFound, http.StatusNotFound, "NAME_UNKNOWN", `repository "wrong-name" is not found`)
		}},
	{name: "go/GetTagProperties_wrongTag", file: "TestClient_GetTagProperties_wrongTag.json", aad: "Sanitized",
		serves: "105 106 107 108",
		run: func(e *replayEnv) {
			_, err := e.client(e.entra(), nil).GetTagProperties(e.ctx, "alpine", "wrong-tag")
			e.wantError(err, acr.ErrNotFound, http.StatusNotFound, "TAG_UNKNOWN", "the specified tag does not exist")
		}},
	// A listing does not probe: its first page tells that the API is
	// there.
	{name: "go/NewListRepositoriesPager", file: "TestClient_NewListRepositoriesPager.json", aad: "Sanitized",
		serves: "109 110 111 112 113 114",
		run: func(e *replayEnv) {
			var got []string
			for name, err := range e.client(e.entra(), &acr.ClientOptions{PageSize: 1}).Repositories(e.ctx, nil) {
				if err != nil {
					e.t.Fatalf("Repositories: %v", err)
				}
				got = append(got, name)
			}
			if want := []string{"alpine", "hello-world", "ubuntu"}; !slices.Equal(got, want) {
				e.t.Errorf("Repositories = %v; want %v", got, want)
			}
		}},
	// A client with page size 1 pages through the tags as the SDK did; the
	// SDK then listed by time without n, which a second client with the
	// default page size replays: it starts unauthenticated, so it is served
	// the challenge, exchange and token again.
	{name: "go/NewListTagsPager", file: "TestClient_NewListTagsPager.json", aad: "Sanitized", clients: 2,
		repeat: []int{115, 116}, serves: "115 116 117 118 119 120 115r 116r 117r 121 122",
		run: func(e *replayEnv) {
			got, err := replayCollect(e.client(e.entra(), &acr.ClientOptions{PageSize: 1}).Tags(e.ctx, "alpine", nil))
			want := []struct{ name, digest, created string }{
				{"3.15.6", "sha256:cf34c62ee8eb3fe8aa24c1fab45d7e9d12768d945c3f5a6fd6a63d901e898479", "2024-01-24T06:16:24.927259Z"},
				{"3.16.3", "sha256:b95359c2505145f16c6aa384f9cc74eeff78eb36d308ca4fd902eeeb0a0b161b", "2024-01-24T06:16:12.6787894Z"},
				{"3.17.1", replayAlpineIndex, "2024-01-24T06:16:01.7676267Z"},
			}
			if err != nil || len(got) != len(want) {
				e.t.Fatalf("Tags = %+v, %v; want %d tags", got, err, len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.Name != w.name || string(g.Digest) != w.digest || !g.CreatedOn.Equal(replayTime(e.t, w.created)) ||
					!g.LastUpdatedOn.Equal(g.CreatedOn) || g.Registry != "azacrlivetest.azurecr.io" || g.Repository != "alpine" ||
					g.Permissions != replayAllPermissions {
					e.t.Errorf("tag %d = %+v; want %+v", i, g, w)
				}
			}
			c := e.client(e.entra(), nil)
			for _, o := range []struct {
				order acr.Order
				names []string
			}{
				{acr.OrderLastUpdatedDesc, []string{"3.15.6", "3.16.3", "3.17.1"}},
				{acr.OrderLastUpdatedAsc, []string{"3.17.1", "3.16.3", "3.15.6"}},
			} {
				tags, err := replayCollect(c.Tags(e.ctx, "alpine", &acr.TagsOptions{Order: o.order}))
				var names []string
				for _, tp := range tags {
					names = append(names, tp.Name)
				}
				if err != nil || !slices.Equal(names, o.names) {
					e.t.Errorf("Tags in order %v = %v, %v; want %v", o.order, names, err, o.names)
				}
			}
		}},
	{name: "go/UpdateRepositoryProperties_wrongRepository", file: "TestClient_UpdateRepositoryProperties_wrongRepository.json",
		aad: "Sanitized", serves: "123 124 125 126",
		run: func(e *replayEnv) {
			no := false
			_, err := e.client(e.entra(), nil).UpdateRepositoryProperties(e.ctx, "wrong-repository", acr.PermissionsUpdate{CanWrite: &no})
			e.wantError(err, acr.ErrNotFound, http.StatusNotFound, "NAME_UNKNOWN", `repository "wrong-repository" is not found`)
		}},
	{name: "go/UpdateTagProperties", file: "TestClient_UpdateTagProperties.json", aad: "Sanitized",
		serves: "127 128 129 130 131",
		run: func(e *replayEnv) {
			c := e.client(e.entra(), nil)
			for _, write := range []bool{false, true} {
				p, err := c.UpdateTagProperties(e.ctx, "alpine", "3.17.1", acr.PermissionsUpdate{CanWrite: &write})
				want := replayAllPermissions
				want.CanWrite = write
				if err != nil || p.Name != "3.17.1" || p.Digest != replayAlpineIndex || p.Permissions != want {
					e.t.Errorf("UpdateTagProperties(writeEnabled %v) = %+v, %v", write, p, err)
				}
			}
		}},
	// The Go SDK's token exchange tests call /oauth2 directly; the client
	// gets there from a challenge, so GET /v2/ is answered as ACR answered
	// it in CheckDockerV2Support.
	{name: "go/ExchangeAADAccessTokenForACRRefreshToken_fail", file: "Test_authenticationClient_ExchangeAADAccessTokenForACRRefreshToken_fail.json",
		aad: "x." + base64.RawURLEncoding.EncodeToString([]byte(`{"tid":"wrong tenant"}`)) + ".y", borrow: []int{66}, serves: "66b 132",
		run: func(e *replayEnv) {
			_, err := e.client(e.entra(), nil).RefreshToken(e.ctx)
			if !errors.Is(err, acr.ErrUnauthorized) || errors.Is(err, acr.ErrInsufficientScope) || !strings.Contains(err.Error(), "401") {
				e.t.Errorf("RefreshToken with a wrong tenant: %v; want ErrUnauthorized (not insufficient scope) from the exchange's 401", err)
			}
		}},
	{name: "go/ExchangeACRRefreshTokenForACRAccessToken", file: "Test_authenticationClient_ExchangeACRRefreshTokenForACRAccessToken.json",
		aad: "Sanitized", borrow: []int{66, 69}, serves: "66b 133 134 69b 134r",
		run: func(e *replayEnv) {
			tok, err := e.client(e.entra(), nil).AccessToken(e.ctx, "registry:catalog:*")
			e.srv.mu.Lock()
			m, minted := e.srv.tokens[tok.Token]
			e.srv.mu.Unlock()
			if err != nil || !minted || m.e.id != 134 || m.asked != "registry:catalog:*" {
				e.t.Errorf("AccessToken = %q, %v; want a token of exchange 134 asked for registry:catalog:*", tok.Token, err)
			}
		}},
	{name: "go/ExchangeACRRefreshTokenForACRAccessToken_fail", file: "Test_authenticationClient_ExchangeACRRefreshTokenForACRAccessToken_fail.json",
		borrow: []int{66}, serves: "66b 135",
		run: func(e *replayEnv) {
			var rt string
			for _, x := range e.srv.rec.byFile[e.srv.c.file] {
				rt = x.form.Get("refresh_token")
			}
			e.srv.mu.Lock()
			e.srv.refresh[rt] = true // the credential's own refresh token
			e.srv.mu.Unlock()
			_, err := e.client(acr.RefreshTokenCredential(rt), nil).AccessToken(e.ctx, "registry:catalog:*")
			if !errors.Is(err, acr.ErrUnauthorized) || errors.Is(err, acr.ErrInsufficientScope) || !strings.Contains(err.Error(), "401") {
				e.t.Errorf("AccessToken with a refused refresh token: %v; want ErrUnauthorized (not insufficient scope) from the token endpoint's 401", err)
			}
		}},
	// The PATCH goes with a token asked for metadata_write, which ACR
	// refuses (entry 5: anonymous users hold no metadata_write); the client
	// asks again, gets a new token and sends the PATCH once more: both are
	// served the refusals, entries 3 and 5 (the insufficient_scope rule).
	{name: "go/anonymousAccess", file: "Test_authenticationPolicy_anonymousAccess.json",
		serves: "136 137 138 140 139 140r 141",
		run: func(e *replayEnv) {
			c := e.client(nil, nil)
			got, err := replayCollect(c.Repositories(e.ctx, nil))
			if want := []string{"alpine", "hello-world", "nginx", "ubuntu"}; err != nil || !slices.Equal(got, want) {
				e.t.Errorf("anonymous Repositories = %v, %v; want %v", got, err, want)
			}
			yes := true
			_, err = c.UpdateRepositoryProperties(e.ctx, "alpine", acr.PermissionsUpdate{CanDelete: &yes})
			e.wantError(err, acr.ErrUnauthorized, http.StatusUnauthorized, "UNAUTHORIZED",
				"authentication required, visit https://aka.ms/acr/authorization for more information.")
			if !errors.Is(err, acr.ErrInsufficientScope) {
				e.t.Errorf("error %v does not match ErrInsufficientScope (ACR's challenge says insufficient_scope)", err)
			}
		}},

	// JS SDK 1.1.0-beta.4 (host Sanitized.azurecr.io, realm myregistry.azurecr.io).
	{name: "js/list_repositories_with_anonymous_access", file: "recording_should_list_repositories_with_anonymous_access.json",
		serves: "142 143 144",
		run: func(e *replayEnv) {
			got, err := replayCollect(e.client(nil, nil).Repositories(e.ctx, nil))
			if err != nil || !slices.Equal(got, []string{"library/hello-world"}) {
				e.t.Errorf("anonymous Repositories = %v, %v", got, err)
			}
		}},
	{name: "js/throw_error_setting_properties_with_anonymous_access", file: "recording_should_throw_error_setting_properties_with_anonymous_access.json",
		serves: "145 146 147",
		run: func(e *replayEnv) {
			no := false
			_, err := e.client(nil, nil).UpdateRepositoryProperties(e.ctx, "library/hello-world", acr.PermissionsUpdate{CanDelete: &no})
			e.wantError(err, acr.ErrUnauthorized, http.StatusUnauthorized, "UNAUTHORIZED",
				"authentication required, visit https://aka.ms/acr/authorization for more information.")
			if !errors.Is(err, acr.ErrInsufficientScope) {
				e.t.Errorf("error %v does not match ErrInsufficientScope (ACR's challenge says insufficient_scope)", err)
			}
		}},
	// One-chunk uploads (ChunkSize = size: POST, PATCH, PUT, as the SDK
	// sends them), a manifest pushed by tag, read back, deleted by digest:
	// on ACR, known by its host name, DeleteManifest asks nothing about the
	// referrers API before the DELETE.
	{name: "js/can_upload_oci_manifest_with_tag", file: "recording_can_upload_oci_manifest_with_tag.json", aad: "SecretPlaceholder", loginServer: true,
		serves: "148 149 150 151 152 153 154 155 156 157 150r 158 160 161",
		run: func(e *replayEnv) {
			c := e.client(e.entra(), nil)
			for _, d := range []string{replayLayer, replayConfig} {
				data := e.srv.rec.raw[d]
				desc, err := c.UploadBlob(e.ctx, "oci-artifact", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: int64(len(data))})
				if err != nil || string(desc.Digest) != d {
					e.t.Fatalf("UploadBlob = %+v, %v; want %s", desc, err, d)
				}
			}
			var manifest bytes.Buffer
			json.Compact(&manifest, e.srv.rec.all[157].ReqBody)
			const want = "sha256:70e2ffca8e79adc4bd34b67363a972522d75933e435084826d39a19f958579ed"
			if replayDigest(manifest.Bytes()) != want {
				e.t.Fatalf("the recorded manifest does not rebuild to %s", want)
			}
			d, err := c.SetManifest(e.ctx, "oci-artifact", manifest.Bytes(), "application/vnd.oci.image.manifest.v1+json",
				&acr.SetManifestOptions{Tag: "my_artifact"})
			if err != nil || d != want {
				e.t.Fatalf("SetManifest = %s, %v", d, err)
			}
			m, err := c.GetManifest(e.ctx, "oci-artifact", "my_artifact", nil)
			if err != nil || m.Digest != want || !bytes.Equal(m.Bytes, manifest.Bytes()) || m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
				e.t.Fatalf("GetManifest = %s %s, %v", m.Digest, m.MediaType, err)
			}
			if _, err := c.DeleteManifest(e.ctx, "oci-artifact", want); err != nil {
				e.t.Errorf("DeleteManifest: %v", err)
			}
		}},
	{name: "js/deleteblob_nonexistent", file: "recording_deleteblob_should_succeed_when_trying_to_delete_a_nonexistent_blob.json",
		aad: "SecretPlaceholder", serves: "162 163 164 165",
		run: func(e *replayEnv) {
			err := e.client(e.entra(), nil).DeleteBlob(e.ctx, "oci-artifact", "sha256:b76ba664a289336a4af5d4e262d691dbc2940576dca60a71dfe1b6f73b44658a")
			e.wantError(err, acr.ErrNotFound, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
		}},
	// The SDK read two pages; so does the replay, then it stops.
	{name: "js/list_registry_manifests_by_pages", file: "recording_should_list_registry_manifests_by_pages.json", aad: "SecretPlaceholder",
		serves: "166 167 168 169 170",
		run: func(e *replayEnv) {
			var got []acr.ManifestProperties
			for m, err := range e.client(e.entra(), &acr.ClientOptions{PageSize: 1}).Manifests(e.ctx, "library/hello-world", nil) {
				if err != nil {
					e.t.Fatalf("Manifests: %v", err)
				}
				if got = append(got, m); len(got) == 2 {
					break
				}
			}
			want := []acr.ManifestProperties{
				{Digest: "sha256:085e87951950ac62a771af158d4d8275505088897a0e520a8a5bd582343631b0", Size: 5499, Architecture: "unknown", OS: "unknown",
					CreatedOn: replayTime(e.t, "2024-06-20T20:46:29.9724588Z")},
				{Digest: "sha256:1363c810cc39a563c6f315e26951d2ed9e93f3bf929fde8223633ecf81a4a430", Size: 5294, Architecture: "arm", OS: "linux",
					CreatedOn: replayTime(e.t, "2024-06-20T20:46:29.4429418Z")},
			}
			for i := range want {
				w := &want[i]
				w.Registry, w.Repository, w.LastUpdatedOn, w.Permissions = "t4cf8d9b24e50689e.azurecr.io", "library/hello-world", w.CreatedOn, replayAllPermissions
				w.MediaType, w.ConfigMediaType = "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json"
			}
			if !reflect.DeepEqual(got, want) {
				e.t.Errorf("Manifests = %+v\nwant %+v", got, want)
			}
		}},

	// .NET SDK 1.1.0-alpha, tfcc0190a5162cce1.azurecr.io: upload, download
	// through the 307 to storage, delete. The SDK sent every request first
	// without a token; the client keeps its tokens, so fresh clients
	// replay the download's and the delete's first 401s.
	{name: "net/CanGetBlobLocation", file: "CanGetBlobLocation.json", aad: "Sanitized",
		serves: "171 172 173 174 177 180 182 183 storage 185 186",
		run: func(e *replayEnv) {
			c := e.client(e.entra(), nil)
			data := e.srv.rec.raw[replayLayer]
			desc, err := c.UploadBlob(e.ctx, "oci-artifact", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: int64(len(data))})
			if err != nil || desc.Digest != replayLayer {
				e.t.Fatalf("UploadBlob = %+v, %v", desc, err)
			}
			if got := e.download(c, "oci-artifact", replayLayer); !bytes.Equal(got, data) {
				e.t.Errorf("DownloadBlob through storage: %q", got)
			}
			if err := c.DeleteBlob(e.ctx, "oci-artifact", replayLayer); err != nil {
				e.t.Errorf("DeleteBlob: %v", err)
			}
		}},
	{name: "net/CanGetBlobLocation-download", file: "CanGetBlobLocation.json", aad: "Sanitized", serves: "181 172 182 183 storage",
		run: func(e *replayEnv) {
			if got := e.download(e.client(e.entra(), nil), "oci-artifact", replayLayer); !bytes.Equal(got, e.srv.rec.raw[replayLayer]) {
				e.t.Errorf("DownloadBlob through storage: %q", got)
			}
		}},
	{name: "net/CanGetBlobLocation-delete", file: "CanGetBlobLocation.json", aad: "Sanitized", serves: "184 172 185 186",
		run: func(e *replayEnv) {
			if err := e.client(e.entra(), nil).DeleteBlob(e.ctx, "oci-artifact", replayLayer); err != nil {
				e.t.Errorf("DeleteBlob: %v", err)
			}
		}},

	// Python SDK 1.1.0b2, anonymous pull registry (host fake_url.azurecr.io,
	// service yallacrtestsanon.azurecr.io).
	{name: "python/delete_tag", file: "test_anon_access.pyTestContainerRegistryClienttest_delete_tag.json",
		serves: "187 188 189",
		run: func(e *replayEnv) {
			err := e.client(nil, nil).DeleteTag(e.ctx, "library/hello-world", "latest")
			e.wantError(err, acr.ErrUnauthorized, http.StatusUnauthorized, "UNAUTHORIZED",
				"authentication required, visit https://aka.ms/acr/authorization for more information.")
			if !errors.Is(err, acr.ErrInsufficientScope) {
				e.t.Errorf("error %v does not match ErrInsufficientScope (ACR's challenge says insufficient_scope)", err)
			}
		}},
	{name: "python/get_repository_properties", file: "test_anon_access.pyTestContainerRegistryClienttest_get_repository_properties.json",
		serves: "190 191 192",
		run: func(e *replayEnv) {
			p, err := e.client(nil, nil).GetRepositoryProperties(e.ctx, "library/hello-world")
			want := acr.RepositoryProperties{Registry: "yallacrtestsanon.azurecr.io", Name: "library/hello-world",
				CreatedOn: replayTime(e.t, "2023-02-15T08:59:14.3176692Z"), LastUpdatedOn: replayTime(e.t, "2023-02-16T00:56:45.0552676Z"),
				ManifestCount: 15, TagCount: 5, Permissions: replayAllPermissions}
			if err != nil || !reflect.DeepEqual(p, want) {
				e.t.Errorf("GetRepositoryProperties = %+v, %v; want %+v", p, err, want)
			}
		}},
	{name: "python/list_repository_names_by_page", file: "test_anon_access.pyTestContainerRegistryClienttest_list_repository_names_by_page.json",
		serves: "193 194 195 198",
		run: func(e *replayEnv) {
			got, err := replayCollect(e.client(nil, &acr.ClientOptions{PageSize: 2}).Repositories(e.ctx, nil))
			if want := []string{"library/alpine", "library/busybox", "library/hello-world"}; err != nil || !slices.Equal(got, want) {
				e.t.Errorf("Repositories = %v, %v; want %v", got, err, want)
			}
		}},
}

func replayCollect[T any](seq func(func(T, error) bool)) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// replayLeftOut names every exchange that no case serves as recorded, and
// why. The test fails when a listed exchange is served, or one not listed
// is not.
var replayLeftOut = []struct {
	file  string
	index int
	why   string
}{
	{"TestBlobClient_CancelUpload_fail.json", 0, "DELETE /wrong%20location: the client takes no upload URL from callers (sessions stay inside UploadBlob)"},
	{"TestBlobClient_CheckBlobExists_fail.json", 0, "HEAD of digest \"wrong digest\": the client refuses it before any request (ErrInvalidReference)"},
	{"TestBlobClient_CompleteUpload_uploadByChunk.json", 4, "POST with the pull token, refused insufficient_scope: the client fetches the pull,push token before the POST"},
	{"TestBlobClient_CompleteUpload_uploadByChunkFailOver.json", 4, "POST with the pull token, refused insufficient_scope: the client fetches the pull,push token before the POST"},
	{"TestBlobClient_CompleteUpload_uploadByChunkFailOver.json", 8, "PATCH with Content-Range -1--1 (416): the client never sends an invalid range"},
	{"TestBlobClient_GetBlob_fail.json", 0, "GET of digest \"wrong digest\": refused before any request (ErrInvalidReference)"},
	{"TestBlobClient_GetUploadStatus.json", 4, "GET of the upload session: the client asks a session for its offset only after a dropped connection or before resending a chunk"},
	{"TestBlobClient_MountBlob_fail.json", 0, "mount into \"wrong name\" from \"wrong from\": refused before any request (ErrInvalidReference)"},
	{"TestBlobClient_completeUpload_wrongDigest.json", 4, "POST with the pull token, refused insufficient_scope: the client fetches the pull,push token before the POST"},
	{"TestBlobClient_completeUpload_wrongDigest.json", 8, "PUT with digest sha256:00000000 (400 DIGEST_INVALID): the client hashes the content itself and refuses malformed digests"},
	{"TestClient_GetManifestProperties_wrongDigest.json", 0, "\"wrong-digest\" is a tag to the client, which resolves it with GET _tags/wrong-digest first"},
	{"recording_can_upload_oci_manifest_with_tag.json", 11, "DELETE with the pull,push token (insufficient_scope): the client fetches the delete token first"},
	{"CanGetBlobLocation.json", 4, "PATCH without a token (401): the client sends the session's token"},
	{"CanGetBlobLocation.json", 5, "a second pull,push token: the client keeps the first"},
	{"CanGetBlobLocation.json", 7, "PUT without a token (401): the client sends the session's token"},
	{"CanGetBlobLocation.json", 8, "a third pull,push token: the client keeps the first"},
	{"test_anon_access.pyTestContainerRegistryClienttest_list_repository_names_by_page.json", 3, "the next page without a token (401): the client sends its catalog token"},
	{"test_anon_access.pyTestContainerRegistryClienttest_list_repository_names_by_page.json", 4, "the token for that retry: the client has one"},
}
