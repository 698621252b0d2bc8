package acr_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
)

// The examples follow the samples of the Azure Container Registry client
// library for .NET. Each runs against the local registry (package
// emulator), which stands in for myregistry.azurecr.io; in real code, pass
// the registry's endpoint and azidentity.NewDefaultAzureCredential.

// entraID stands in for azidentity.NewDefaultAzureCredential: the local
// registry accepts this token at /oauth2/exchange.
type entraID struct{}

func (entraID) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "example-entra-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// exampleRegistry starts a local registry that accepts the example's Entra
// ID token and anonymous pulls, holding library/hello-world with five
// images and library/alpine with one.
func exampleRegistry() *httptest.Server {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	reg, err := emulator.New(&emulator.Options{AADTokens: []string{"example-entra-token"}, AnonymousPull: true,
		Users: map[string]string{"seed": "seed"},
		Now:   func() time.Time { n++; return t0.Add(time.Duration(n) * time.Minute) }})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(reg)
	s := &seeder{t: fatalTB{}, base: hs.URL, user: "seed", pass: "seed"}
	for i := 1; i <= 5; i++ {
		tags := []string{fmt.Sprintf("v%d", i)}
		if i == 5 {
			tags = append(tags, "latest")
		}
		s.image("library/hello-world", "amd64", fmt.Sprint(i), tags...)
	}
	s.image("library/alpine", "arm64", "alpine", "3.20")
	return hs
}

func ExampleClient_Repositories() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()

	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	for name, err := range client.Repositories(ctx, nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name)
	}
	// Output:
	// library/alpine
	// library/hello-world
}

// A listing stopped part way resumes from the last item received, here
// the names of library/hello-world's tags, three at a time.
func ExampleClient_TagNames_resume() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()

	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	last := ""
	for {
		var batch []string
		for name, err := range client.TagNames(ctx, "library/hello-world", &acr.ListOptions{PageSize: 3, Last: last}) {
			if err != nil {
				log.Fatal(err)
			}
			batch = append(batch, name)
			if len(batch) == 3 {
				break // stop; the next round resumes after the last name
			}
		}
		if len(batch) == 0 {
			break
		}
		fmt.Println(batch)
		last = batch[len(batch)-1]
	}
	// Output:
	// [latest v1 v2]
	// [v3 v4 v5]
}

func ExampleClient_Tags_anonymous() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()

	// A nil credential is anonymous access.
	client, err := acr.NewClient(registry.URL, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	// The tags of the image that "latest" names.
	d, err := client.ResolveDigest(ctx, "library/hello-world", "latest")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("library/hello-world:latest has the following aliases:")
	for tag, err := range client.Tags(ctx, "library/hello-world", &acr.TagsOptions{Digest: d}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("    %s:%s\n", tag.Repository, tag.Name)
	}
	// Output:
	// library/hello-world:latest has the following aliases:
	//     library/hello-world:latest
	//     library/hello-world:v5
}

func ExampleClient_UpdateTagProperties() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()

	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	// Lock the "latest" tag against being moved or deleted.
	no := false
	tag, err := client.UpdateTagProperties(ctx, "library/hello-world", "latest", acr.PermissionsUpdate{CanWrite: &no, CanDelete: &no})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("latest: write %v, delete %v, read %v, list %v\n",
		tag.Permissions.CanWrite, tag.Permissions.CanDelete, tag.Permissions.CanRead, tag.Permissions.CanList)
	// Output:
	// latest: write false, delete false, read true, list true
}

func ExampleClient_Manifests_deleteImages() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()

	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	for repo, err := range client.Repositories(ctx, nil) {
		if err != nil {
			log.Fatal(err)
		}
		// Delete images older than the newest three.
		seen := 0
		for m, err := range client.Manifests(ctx, repo, &acr.ManifestsOptions{Order: acr.OrderLastUpdatedDesc}) {
			if err != nil {
				log.Fatal(err)
			}
			if seen++; seen <= 3 {
				continue
			}
			fmt.Printf("Deleting image %s:%v\n", repo, m.Tags)
			if _, err := client.DeleteManifest(ctx, repo, m.Digest.String()); err != nil {
				log.Fatal(err)
			}
		}
	}
	n := 0
	for range client.Tags(ctx, "library/hello-world", nil) {
		n++
	}
	fmt.Println("tags left in library/hello-world:", n)
	// Output:
	// Deleting image library/hello-world:[v2]
	// Deleting image library/hello-world:[v1]
	// tags left in library/hello-world: 4
}

// The seed's "Authenticate the client": Entra ID (here a stand-in for
// azidentity.NewDefaultAzureCredential) with the Azure Resource Manager
// audience, which ACR accepts in its token exchange for identities that
// cannot get containerregistry tokens.
func ExampleNewClient() {
	registry := exampleRegistry()
	defer registry.Close()

	// In real code: acr.NewClient("https://myregistry.azurecr.io", …).
	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}),
		&acr.ClientOptions{Audience: acr.AudienceARMPublic})
	if err != nil {
		log.Fatal(err)
	}
	for name, err := range client.Repositories(context.Background(), nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name)
	}
	// Output:
	// library/alpine
	// library/hello-world
}

func ExampleNewClient_nationalCloud() {
	registry := exampleRegistry()
	defer registry.Close()

	// For a registry in Azure China (myregistry.azurecr.cn), ask Entra ID
	// for tokens of that cloud's audience; configure the credential's
	// authority host (azidentity.AzureChina) as well.
	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}),
		&acr.ClientOptions{Audience: acr.AudienceAzureChina})
	if err != nil {
		log.Fatal(err)
	}
	p, err := client.GetRepositoryProperties(context.Background(), "library/alpine")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, p.TagCount, "tag")
	// Output:
	// library/alpine 1 tag
}

// fatalTB lets the test seeder run inside examples.
type fatalTB struct{}

func (fatalTB) Helper()                   {}
func (fatalTB) Fatal(args ...any)         { log.Fatal(args...) }
func (fatalTB) Fatalf(f string, a ...any) { log.Fatalf(f, a...) }
