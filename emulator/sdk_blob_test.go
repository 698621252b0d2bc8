package emulator_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// sdkBlobData is a blob of 2,472 bytes, which the tests upload and read in
// chunks of 1,000 as the SDK's live tests do with theirs of 1,472
// (G TestBlobClient_CompleteUpload_uploadByChunk, TestBlobClient_GetChunk).
func sdkBlobData() []byte {
	b := make([]byte, 2472)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// sdkGUID is the form of ACR's upload ids.
var sdkGUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// sdkBlobArea covers the BlobClient's methods.
func sdkBlobArea(t *testing.T) {
	e := newSDKEnv(t, false, emulator.Options{})
	ctx := t.Context()
	const repo = "library/blobs"
	data := sdkBlobData()
	d := digest.FromBytes(data).String()
	notFound := digest.FromString("nothing here").String()

	t.Run("StartUpload UploadChunk GetUploadStatus CompleteUpload", func(t *testing.T) {
		start, err := e.blobs.StartUpload(ctx, repo, nil)
		if err != nil {
			t.Fatalf("StartUpload: %v", err)
		}
		// ACR's Location is relative, with the repository decoded, and
		// the session starts at Range 0-0 (G TestBlobClient_StartUpload).
		uuid := sdkStr(start.DockerUploadUUID)
		if loc := sdkStr(start.Location); !strings.HasPrefix(loc, "/v2/"+repo+"/blobs/uploads/") || uuid == "" || sdkStr(start.Range) != "0-0" {
			t.Fatalf("StartUpload: got Location %s, UUID %q, Range %s", loc, uuid, sdkStr(start.Range))
		}
		status := func(location, want string) {
			t.Helper()
			st, err := e.blobs.GetUploadStatus(ctx, location, nil)
			if err != nil {
				t.Fatalf("GetUploadStatus: %v", err)
			}
			if sdkStr(st.Range) != want || sdkStr(st.DockerUploadUUID) != uuid {
				t.Errorf("GetUploadStatus: got Range %s, UUID %s; want %s, %s", sdkStr(st.Range), sdkStr(st.DockerUploadUUID), want, uuid)
			}
		}
		// ACR's upload ids are GUIDs: the JavaScript and .NET recordings
		// keep them (J …can_upload_oci_manifest_with_tag:
		// 7cf7f612-f89f-463a-9ed5-fd3b7abc3fd4, N CanGetBlobLocation), and
		// the Go ones inside _state.
		if !sdkGUID.MatchString(uuid) {
			t.Errorf("StartUpload: got Docker-Upload-UUID %q, want a GUID such as 7cf7f612-f89f-463a-9ed5-fd3b7abc3fd4", uuid)
		}
		status(*start.Location, "0-0")
		calc := azcontainerregistry.NewBlobDigestCalculator()
		location := *start.Location
		for _, c := range []struct {
			start, end int
			wantRange  string
		}{{0, 1000, "0-999"}, {1000, 2000, "0-1999"}, {2000, 2472, "0-2471"}} {
			up, err := e.blobs.UploadChunk(ctx, location, bytes.NewReader(data[c.start:c.end]), calc,
				&azcontainerregistry.BlobClientUploadChunkOptions{RangeStart: to.Ptr(int32(c.start)), RangeEnd: to.Ptr(int32(c.end - 1))})
			if err != nil {
				t.Fatalf("UploadChunk %d-%d: %v", c.start, c.end-1, err)
			}
			if sdkStr(up.Range) != c.wantRange || sdkStr(up.DockerUploadUUID) != uuid || !strings.HasPrefix(sdkStr(up.Location), "/v2/"+repo+"/blobs/uploads/") {
				t.Errorf("UploadChunk %d-%d: got Range %s, UUID %s, Location %s", c.start, c.end-1, sdkStr(up.Range), sdkStr(up.DockerUploadUUID), sdkStr(up.Location))
			}
			location = *up.Location
			status(location, c.wantRange)
		}
		done, err := e.blobs.CompleteUpload(ctx, location, calc, nil)
		if err != nil {
			t.Fatalf("CompleteUpload: %v", err)
		}
		if sdkStr(done.DockerContentDigest) != d || sdkStr(done.Location) != "/v2/"+repo+"/blobs/"+d {
			t.Errorf("CompleteUpload: got digest %s, Location %s; want %s, /v2/%s/blobs/%s", sdkStr(done.DockerContentDigest), sdkStr(done.Location), d, repo, d)
		}
		if done.Range != nil {
			t.Errorf("CompleteUpload: got Range %s; ACR's 201 has none (G TestBlobClient_CompleteUpload_uploadByChunk)", *done.Range)
		}
		_, err = e.blobs.GetUploadStatus(ctx, location, nil)
		sdkWantError(t, "GetUploadStatus of a completed upload", err, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	})

	t.Run("UploadChunk without ranges", func(t *testing.T) {
		// J and N upload without Content-Range; ACR accepts it.
		other := bytes.Repeat([]byte("streamed "), 100)
		if got := e.pushBlob(t, e.blobs, repo, other, 0); got != digest.FromBytes(other).String() {
			t.Errorf("got %s", got)
		}
		start, err := e.blobs.StartUpload(ctx, repo, nil)
		if err != nil {
			t.Fatal(err)
		}
		calc := azcontainerregistry.NewBlobDigestCalculator()
		location := *start.Location
		for i, want := range []string{"0-449", "0-899"} {
			up, err := e.blobs.UploadChunk(ctx, location, bytes.NewReader(other[i*450:(i+1)*450]), calc, nil)
			if err != nil {
				t.Fatalf("UploadChunk %d: %v", i, err)
			}
			if sdkStr(up.Range) != want {
				t.Errorf("UploadChunk %d without a range: got Range %s, want %s", i, sdkStr(up.Range), want)
			}
			location = *up.Location
		}
		if done, err := e.blobs.CompleteUpload(ctx, location, calc, nil); err != nil || sdkStr(done.DockerContentDigest) != digest.FromBytes(other).String() {
			t.Errorf("CompleteUpload: %v %s", err, sdkStr(done.DockerContentDigest))
		}
	})

	t.Run("UploadChunk refused range", func(t *testing.T) {
		// G TestBlobClient_CompleteUpload_uploadByChunkFailOver: the
		// SDK sends Content-Range -1--1, ACR answers 416 and the session
		// survives; the calculator forgets the refused chunk.
		start, err := e.blobs.StartUpload(ctx, repo, nil)
		if err != nil {
			t.Fatal(err)
		}
		calc := azcontainerregistry.NewBlobDigestCalculator()
		up, err := e.blobs.UploadChunk(ctx, *start.Location, bytes.NewReader(data[:1000]), calc,
			&azcontainerregistry.BlobClientUploadChunkOptions{RangeStart: to.Ptr[int32](0), RangeEnd: to.Ptr[int32](999)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.blobs.UploadChunk(ctx, *up.Location, bytes.NewReader(data[1000:]), calc,
			&azcontainerregistry.BlobClientUploadChunkOptions{RangeStart: to.Ptr[int32](-1), RangeEnd: to.Ptr[int32](-1)})
		msg, detail := sdkWantError(t, "UploadChunk -1--1", err, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_RANGE_INVALID")
		if msg != "blob upload range invalid" || detail != `{"Range":"-1--1","Reason":"the Content-Range header format is invalid"}` {
			t.Errorf("UploadChunk -1--1: got message %q, detail %s; want ACR's", msg, detail)
		}
		_, err = e.blobs.UploadChunk(ctx, *up.Location, bytes.NewReader(data[1000:]), calc,
			&azcontainerregistry.BlobClientUploadChunkOptions{RangeStart: to.Ptr[int32](5), RangeEnd: to.Ptr[int32](1476)})
		sdkWantError(t, "UploadChunk at an offset that is not the session's", err, http.StatusRequestedRangeNotSatisfiable, "")
		up, err = e.blobs.UploadChunk(ctx, *up.Location, bytes.NewReader(data[1000:]), calc,
			&azcontainerregistry.BlobClientUploadChunkOptions{RangeStart: to.Ptr[int32](1000), RangeEnd: to.Ptr[int32](2471)})
		if err != nil {
			t.Fatalf("UploadChunk after the refusal: %v", err)
		}
		if sdkStr(up.Range) != "0-2471" {
			t.Errorf("UploadChunk after the refusal: got Range %s, want 0-2471", sdkStr(up.Range))
		}
		done, err := e.blobs.CompleteUpload(ctx, *up.Location, calc, nil)
		if err != nil || sdkStr(done.DockerContentDigest) != d {
			t.Errorf("CompleteUpload after the refusal: %v, digest %s, want %s", err, sdkStr(done.DockerContentDigest), d)
		}
	})

	t.Run("CompleteUpload wrong digest", func(t *testing.T) {
		// G TestBlobClient_completeUpload_wrongDigest: 400 DIGEST_INVALID.
		start, err := e.blobs.StartUpload(ctx, repo, nil)
		if err != nil {
			t.Fatal(err)
		}
		up, err := e.blobs.UploadChunk(ctx, *start.Location, strings.NewReader("some bytes"), azcontainerregistry.NewBlobDigestCalculator(), nil)
		if err != nil {
			t.Fatal(err)
		}
		// A fresh calculator has hashed nothing: its digest is the empty blob's.
		_, err = e.blobs.CompleteUpload(ctx, *up.Location, azcontainerregistry.NewBlobDigestCalculator(), nil)
		sdkWantError(t, "CompleteUpload with another blob's digest", err, http.StatusBadRequest, "DIGEST_INVALID")
		_, err = e.blobs.CheckBlobExists(ctx, repo, digest.FromBytes(nil).String(), nil)
		sdkWantError(t, "CheckBlobExists of the refused blob", err, http.StatusNotFound, "")
	})

	t.Run("CancelUpload", func(t *testing.T) {
		start, err := e.blobs.StartUpload(ctx, repo, nil)
		if err != nil {
			t.Fatal(err)
		}
		up, err := e.blobs.UploadChunk(ctx, *start.Location, bytes.NewReader(data[:100]), azcontainerregistry.NewBlobDigestCalculator(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var raw *http.Response
		if _, err := e.blobs.CancelUpload(policy.WithCaptureResponse(ctx, &raw), *up.Location, nil); err != nil {
			t.Fatalf("CancelUpload: %v", err)
		}
		if got := raw.Header.Get("Docker-Upload-Uuid"); got != sdkStr(start.DockerUploadUUID) {
			t.Errorf("CancelUpload: got Docker-Upload-Uuid %q, want %s (G TestBlobClient_StartUpload)", got, sdkStr(start.DockerUploadUUID))
		}
		_, err = e.blobs.GetUploadStatus(ctx, *up.Location, nil)
		sdkWantError(t, "GetUploadStatus of a cancelled upload", err, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		_, err = e.blobs.UploadChunk(ctx, *up.Location, bytes.NewReader(data[100:200]), azcontainerregistry.NewBlobDigestCalculator(), nil)
		sdkWantError(t, "UploadChunk to a cancelled upload", err, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		// G TestBlobClient_CancelUpload_fail: DELETE /wrong%20location is
		// outside the registry's paths.
		_, err = e.blobs.CancelUpload(ctx, "wrong location", nil)
		sdkWantError(t, "CancelUpload wrong location", err, http.StatusNotFound, "")
		if resp := sdkRawOf(err); resp != nil && (sdkBody(resp) != "Not found" || resp.Header.Get("Content-Type") != "application/octet-stream") {
			t.Errorf("CancelUpload wrong location: got %s %q, want application/octet-stream \"Not found\"", resp.Header.Get("Content-Type"), sdkBody(resp))
		}
	})

	t.Run("CheckBlobExists", func(t *testing.T) {
		resp, err := e.blobs.CheckBlobExists(ctx, repo, d, nil)
		if err != nil {
			t.Fatalf("CheckBlobExists: %v", err)
		}
		if resp.ContentLength == nil || *resp.ContentLength != int64(len(data)) || sdkStr(resp.DockerContentDigest) != d {
			t.Errorf("CheckBlobExists: got length %v, digest %s; want %d, %s", resp.ContentLength, sdkStr(resp.DockerContentDigest), len(data), d)
		}
		_, err = e.blobs.CheckBlobExists(ctx, repo, notFound, nil)
		sdkWantError(t, "CheckBlobExists of an unknown digest", err, http.StatusNotFound, "")
		// G TestBlobClient_CheckBlobExists_fail.
		_, err = e.blobs.CheckBlobExists(ctx, repo, "wrong digest", nil)
		sdkWantError(t, "CheckBlobExists wrong digest", err, http.StatusNotFound, "")
	})

	t.Run("CheckChunkExists", func(t *testing.T) {
		// ACR answers HEAD itself and ignores Range: 200 with the whole
		// length (G TestBlobClient_CheckChunkExists).
		resp, err := e.blobs.CheckChunkExists(ctx, repo, d, "bytes=0-299", nil)
		if err != nil {
			t.Fatalf("CheckChunkExists: %v", err)
		}
		if resp.ContentLength == nil || *resp.ContentLength != int64(len(data)) || resp.ContentRange != nil {
			t.Errorf("CheckChunkExists bytes=0-299: got length %v, Content-Range %s; want %d and none", resp.ContentLength, sdkStr(resp.ContentRange), len(data))
		}
		_, err = e.blobs.CheckChunkExists(ctx, repo, notFound, "bytes=0-299", nil)
		sdkWantError(t, "CheckChunkExists of an unknown digest", err, http.StatusNotFound, "")
	})

	t.Run("GetBlob", func(t *testing.T) {
		resp, err := e.blobs.GetBlob(ctx, repo, d, nil)
		if err != nil {
			t.Fatalf("GetBlob: %v", err)
		}
		if resp.ContentLength == nil || *resp.ContentLength != int64(len(data)) || sdkStr(resp.DockerContentDigest) != d {
			t.Errorf("GetBlob: got length %v, digest %s", resp.ContentLength, sdkStr(resp.DockerContentDigest))
		}
		if got := sdkValidated(t, "GetBlob", d, resp.BlobData); !bytes.Equal(got, data) {
			t.Error("GetBlob returned other bytes")
		}
		_, err = e.blobs.GetBlob(ctx, repo, notFound, nil)
		sdkWantError(t, "GetBlob of an unknown digest", err, http.StatusNotFound, "BLOB_UNKNOWN")
		_, err = e.blobs.GetBlob(ctx, repo, "wrong digest", nil)
		sdkWantError(t, "GetBlob wrong digest", err, http.StatusNotFound, "")
		sdkWantRouter404(t, "GetBlob wrong digest", err)
	})

	t.Run("GetChunk", func(t *testing.T) {
		var parts []io.Reader
		for _, c := range []struct {
			rng, wantRange string
			n              int64
		}{
			{"bytes=0-999", "bytes 0-999/2472", 1000},
			{"bytes=1000-1999", "bytes 1000-1999/2472", 1000},
			{"bytes=2000-2999", "bytes 2000-2471/2472", 472},
		} {
			resp, err := e.blobs.GetChunk(ctx, repo, d, c.rng, nil)
			if err != nil {
				t.Fatalf("GetChunk %s: %v", c.rng, err)
			}
			if sdkStr(resp.ContentRange) != c.wantRange || resp.ContentLength == nil || *resp.ContentLength != c.n {
				t.Errorf("GetChunk %s: got Content-Range %s, length %v; want %s, %d", c.rng, sdkStr(resp.ContentRange), resp.ContentLength, c.wantRange, c.n)
			}
			parts = append(parts, bytes.NewReader(sdkReadAll(t, "GetChunk", resp.ChunkData)))
		}
		if got := sdkValidated(t, "GetChunk pieces", d, io.NopCloser(io.MultiReader(parts...))); !bytes.Equal(got, data) {
			t.Error("the chunks do not make up the blob")
		}
		_, err := e.blobs.GetChunk(ctx, repo, notFound, "bytes=0-9", nil)
		sdkWantError(t, "GetChunk of an unknown digest", err, http.StatusNotFound, "BLOB_UNKNOWN")
	})

	t.Run("MountBlob", func(t *testing.T) {
		const source, target = "mount/source", "mount/target"
		small := []byte("a blob to mount")
		sd := e.pushBlob(t, e.blobs, source, small, 0)
		_, err := e.blobs.CheckBlobExists(ctx, target, sd, nil)
		sdkWantError(t, "CheckBlobExists in the target before the mount", err, http.StatusNotFound, "")
		resp, err := e.blobs.MountBlob(ctx, target, source, sd, nil)
		if err != nil {
			t.Fatalf("MountBlob: %v", err)
		}
		if sdkStr(resp.DockerContentDigest) != sd || sdkStr(resp.Location) != "/v2/"+target+"/blobs/"+sd {
			t.Errorf("MountBlob: got digest %s, Location %s; want %s, /v2/%s/blobs/%s", sdkStr(resp.DockerContentDigest), sdkStr(resp.Location), sd, target, sd)
		}
		if ex, err := e.blobs.CheckBlobExists(ctx, target, sd, nil); err != nil || *ex.ContentLength != int64(len(small)) {
			t.Fatalf("CheckBlobExists in the target after the mount: %v", err)
		}
		got, err := e.blobs.GetBlob(ctx, target, sd, nil)
		if err != nil {
			t.Fatalf("GetBlob from the target: %v", err)
		}
		if b := sdkValidated(t, "GetBlob mounted", sd, got.BlobData); !bytes.Equal(b, small) {
			t.Error("the mounted blob reads other bytes")
		}
		// A blob the source does not have: ACR falls back to an upload
		// session (202, as G TestBlobClient_MountBlob recorded).
		resp, err = e.blobs.MountBlob(ctx, target, source, notFound, nil)
		if err != nil {
			t.Fatalf("MountBlob of a blob the source lacks: %v", err)
		}
		if !strings.HasPrefix(sdkStr(resp.Location), "/v2/"+target+"/blobs/uploads/") || sdkStr(resp.DockerUploadUUID) == "" {
			t.Errorf("MountBlob fallback: got Location %s, UUID %s; want an upload session", sdkStr(resp.Location), sdkStr(resp.DockerUploadUUID))
		} else {
			if st, err := e.blobs.GetUploadStatus(ctx, *resp.Location, nil); err != nil || sdkStr(st.Range) != "0-0" {
				t.Errorf("GetUploadStatus of the fallback session: %v, Range %s", err, sdkStr(st.Range))
			}
			if _, err := e.blobs.CancelUpload(ctx, *resp.Location, nil); err != nil {
				t.Errorf("CancelUpload of the fallback session: %v", err)
			}
		}
		// G TestBlobClient_MountBlob_fail.
		_, err = e.blobs.MountBlob(ctx, "wrong name", "wrong from", "wrong mount", nil)
		sdkWantError(t, "MountBlob wrong name", err, http.StatusNotFound, "")
		sdkWantRouter404(t, "MountBlob wrong name", err)
	})

	t.Run("DeleteBlob", func(t *testing.T) {
		const source, target = "mount/source", "mount/target"
		sd := digest.FromString("a blob to mount").String()
		resp, err := e.blobs.DeleteBlob(ctx, target, sd, nil)
		if err != nil {
			t.Fatalf("DeleteBlob: %v", err)
		}
		// ACR's 202 carries no Docker-Content-Digest, so the SDK returns
		// none (G TestBlobClient_DeleteBlob, N CanGetBlobLocation: an
		// empty body and Content-Length 0, no digest).
		if resp.DockerContentDigest != nil {
			t.Errorf("DeleteBlob: got Docker-Content-Digest %s; ACR sends none", *resp.DockerContentDigest)
		}
		_, err = e.blobs.CheckBlobExists(ctx, target, sd, nil)
		sdkWantError(t, "CheckBlobExists after DeleteBlob", err, http.StatusNotFound, "")
		_, err = e.blobs.GetBlob(ctx, target, sd, nil)
		sdkWantError(t, "GetBlob after DeleteBlob", err, http.StatusNotFound, "BLOB_UNKNOWN")
		if _, err := e.blobs.CheckBlobExists(ctx, source, sd, nil); err != nil {
			t.Errorf("the source lost the blob deleted from the target: %v", err)
		}
		// J …deleteblob_should_succeed_when_trying_to_delete_a_nonexistent_blob.
		_, err = e.blobs.DeleteBlob(ctx, target, sd, nil)
		msg, _ := sdkWantError(t, "DeleteBlob again", err, http.StatusNotFound, "BLOB_UNKNOWN")
		if msg != "blob unknown to registry" {
			t.Errorf("DeleteBlob again: got message %q, want ACR's", msg)
		}
	})
}

// sdkBlobRedirectArea reads blobs through a redirect to a storage server,
// as ACR redirects GETs to Azure Storage (N CanGetBlobLocation,
// G TestBlobClient_GetChunk). The storage server is named localhost while
// the registry is 127.0.0.1, two hosts as on Azure, so that Go's HTTP
// client leaves the registry's Authorization header behind.
func sdkBlobRedirectArea(t *testing.T) {
	var reg atomic.Pointer[emulator.Server]
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := reg.Load(); s != nil {
			s.StorageHandler().ServeHTTP(w, r)
			return
		}
		http.Error(w, "the registry is not running", http.StatusServiceUnavailable)
	}))
	t.Cleanup(storage.Close)
	_, port, err := net.SplitHostPort(storage.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	e := newSDKEnv(t, false, emulator.Options{BlobStorageURL: "http://localhost:" + port})
	reg.Store(e.srv.Registry)
	ctx := t.Context()
	const repo = "redirected"
	data := sdkBlobData()
	d := e.pushBlob(t, e.blobs, repo, data, 1000)

	var raw *http.Response
	resp, err := e.blobs.GetBlob(policy.WithCaptureResponse(ctx, &raw), repo, d, nil)
	if err != nil {
		t.Fatalf("GetBlob through the redirect: %v", err)
	}
	if got := sdkValidated(t, "GetBlob redirected", d, resp.BlobData); !bytes.Equal(got, data) {
		t.Error("GetBlob through the redirect read other bytes")
	}
	if raw.Request.URL.Hostname() != "localhost" || raw.Request.Header.Get("Authorization") != "" {
		t.Errorf("GetBlob ended at %s with Authorization %q; want the storage server, without", raw.Request.URL.Host, raw.Request.Header.Get("Authorization"))
	}
	chunk, err := e.blobs.GetChunk(ctx, repo, d, "bytes=1000-1999", nil)
	if err != nil {
		t.Fatalf("GetChunk through the redirect: %v", err)
	}
	if got := sdkReadAll(t, "GetChunk", chunk.ChunkData); !bytes.Equal(got, data[1000:2000]) || sdkStr(chunk.ContentRange) != "bytes 1000-1999/2472" {
		t.Errorf("GetChunk through the redirect: got %d bytes, Content-Range %s", len(got), sdkStr(chunk.ContentRange))
	}
	// HEAD is answered by the registry itself, with the digest.
	ex, err := e.blobs.CheckBlobExists(ctx, repo, d, nil)
	if err != nil || sdkStr(ex.DockerContentDigest) != d || *ex.ContentLength != int64(len(data)) {
		t.Errorf("CheckBlobExists with redirects on: %v, %+v", err, ex)
	}
}
