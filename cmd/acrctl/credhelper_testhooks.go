//go:build acrctl_testhooks

package main

import (
	"context"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Only binaries built with -tags acrctl_testhooks (by credhelper_test.go,
// to run oras, crane and regctl through the helper) read
// ACRCTL_TESTHOOK_ENTRA_TOKEN: an Entra ID access token that the helper and
// login --entra then use instead of DefaultAzureCredential, which needs a
// real tenant. Shipped builds do not contain this file.
func init() {
	if tok := os.Getenv("ACRCTL_TESTHOOK_ENTRA_TOKEN"); tok != "" {
		entraSource = func(string) (azcore.TokenCredential, error) { return testhookEntra(tok), nil }
	}
}

type testhookEntra string

func (t testhookEntra) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
