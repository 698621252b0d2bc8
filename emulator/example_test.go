package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/emulator"
)

// entraToken stands for an Entra ID access token in tests: an
// azcore.TokenCredential that returns one of Options.AADTokens, which the
// registry accepts at /oauth2/exchange as ACR accepts a real one.
type entraToken string

func (c entraToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// nopCloser gives a bytes.Reader the Close that UploadManifest asks for.
type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Example runs the registry in process over TLS with Entra ID sign-in, and
// drives it with Microsoft's Azure SDK for Go as a service under test would
// drive ACR: push a blob and a manifest, list tags, lock one, and see a
// delete refused. In a test, acrtest.NewTLSServer(t, opts) does the
// starting and stopping.
func Example() {
	reg, err := emulator.New(&emulator.Options{AADTokens: []string{"test-entra-token"}})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()
	srv := httptest.NewTLSServer(reg)
	defer srv.Close()

	// srv.Client() trusts the test certificate; the SDK takes it as its
	// transport.
	opts := azcore.ClientOptions{Transport: srv.Client()}
	cred := entraToken("test-entra-token")
	client, err := azcontainerregistry.NewClient(srv.URL, cred, &azcontainerregistry.ClientOptions{ClientOptions: opts})
	if err != nil {
		log.Fatal(err)
	}
	blobs, err := azcontainerregistry.NewBlobClient(srv.URL, cred, &azcontainerregistry.BlobClientOptions{ClientOptions: opts})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	start, err := blobs.StartUpload(ctx, "hello", nil)
	if err != nil {
		log.Fatal(err)
	}
	calc := azcontainerregistry.NewBlobDigestCalculator()
	chunk, err := blobs.UploadChunk(ctx, *start.Location, bytes.NewReader(config), calc, nil)
	if err != nil {
		log.Fatal(err)
	}
	done, err := blobs.CompleteUpload(ctx, *chunk.Location, calc, nil)
	if err != nil {
		log.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`,
		*done.DockerContentDigest, len(config))
	for _, tag := range []string{"v1", "v2"} {
		_, err := client.UploadManifest(ctx, "hello", tag, azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON,
			nopCloser{bytes.NewReader([]byte(manifest))}, nil)
		if err != nil {
			log.Fatal(err)
		}
	}

	pager := client.NewListTagsPager("hello", &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](1)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, tag := range page.Tags {
			fmt.Println("tag", *tag.Name)
		}
	}

	_, err = client.UpdateTagProperties(ctx, "hello", "v1", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanDelete: to.Ptr(false)}})
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.DeleteTag(ctx, "hello", "v1", nil)
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) {
		fmt.Println("delete v1:", respErr.StatusCode)
	}
	blob, err := blobs.GetBlob(ctx, "hello", *done.DockerContentDigest, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer blob.BlobData.Close()
	b, err := io.ReadAll(blob.BlobData)
	fmt.Println("config:", string(b), err)
	// Output:
	// tag v1
	// tag v2
	// delete v1: 405
	// config: {"architecture":"amd64","os":"linux"} <nil>
}

// ExampleServer_PutManifest seeds a registry that requires sign-in without
// signing in, then lists it as an anonymous client of Microsoft's Go SDK
// (a nil credential), which AnonymousPull lets read.
func ExampleServer_PutManifest() {
	reg, err := emulator.New(&emulator.Options{Users: map[string]string{"admin": "s3cret"}, AnonymousPull: true})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()
	ctx := context.Background()
	config, err := reg.PutBlob(ctx, "hello", []byte("{}"))
	if err != nil {
		log.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[]}`, config)
	var pushed string
	for _, tag := range []string{"v1", "v2", "latest"} {
		d, err := reg.PutManifest(ctx, "hello", tag, []byte(manifest), "")
		if err != nil {
			log.Fatal(err)
		}
		pushed = d.String()
	}

	srv := httptest.NewServer(reg)
	defer srv.Close()
	client, err := azcontainerregistry.NewClient(srv.URL, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	pager := client.NewListTagsPager("hello", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, tag := range page.Tags {
			fmt.Println(*tag.Name, *tag.Digest == pushed)
		}
	}
	// Output:
	// latest true
	// v1 true
	// v2 true
}
