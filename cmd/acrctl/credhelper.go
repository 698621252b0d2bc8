package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/acrgo/acr"
	"github.com/acrgo/acr/dockerconfig"
	"github.com/acrgo/acr/internal/atomicfile"
)

// The docker credential helper. Docker, oras, crane, regctl and helm run
// docker-credential-NAME for the hosts that config.json's credHelpers maps
// to NAME; acrctl is that program for NAME "acrctl" when started under the
// name docker-credential-acrctl (a symlink), or as the hidden
// `acrctl credential-helper ACTION`. main dispatches both before cobra, so
// the helper never reads acrctl's flags or docker's config (which names the
// helper itself).
//
// `get` answers with an ACR refresh token for the host, exchanged for an
// Entra ID token (DefaultAzureCredential), cached in the user cache dir and
// renewed helperRenew before it expires.

const (
	// helperName is the helper's name in credHelpers.
	helperName = "acrctl"
	// helperProgram is the name under which main runs the helper.
	helperProgram = dockerconfig.HelperPrefix + helperName
	// helperRenew is how long before its expiry a cached refresh token is
	// replaced; ACR's last three hours, and a push may take long.
	helperRenew = 30 * time.Minute
)

// entraSource returns the Entra ID credential with which the helper gets
// host's refresh token: DefaultAzureCredential in the shipped binary. Go
// tests replace it; builds with the acrctl_testhooks tag can replace it
// from the environment (credhelper_testhooks.go), and no other build can.
var entraSource = func(host string) (azcore.TokenCredential, error) {
	return newEntraCredential(host)
}

// helperNow is the helper's clock, replaced by tests.
var helperNow = time.Now

// isHelperProgram reports whether argv0 names the credential helper.
func isHelperProgram(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == helperProgram
}

// credentialHelper runs one helper action per the docker-credential-helpers
// protocol: the input on stdin, the answer on stdout, and on failure the
// message on stdout and exit code 1.
func credentialHelper(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "usage: %s get|store|erase|list|version (the docker credential helper protocol; register it with acrctl login HOST --entra)\n", helperProgram)
		return 2
	}
	in, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	switch args[0] {
	case "get":
		err = helperGet(ctx, strings.TrimSpace(string(in)), stdout)
	case "store":
		// Entra ID is the source of the secrets: what docker login hands
		// over is not kept, and docker only needs success.
		var c struct{ ServerURL string }
		if json.Unmarshal(in, &c) != nil || c.ServerURL == "" {
			err = errors.New("store: stdin is not the protocol's JSON credentials (ServerURL, Username, Secret)")
		}
	case "erase":
		err = helperErase(strings.TrimSpace(string(in)))
	case "list":
		err = helperList(stdout)
	case "version":
		fmt.Fprintln(stdout, helperProgram+" ("+version()+")")
	default:
		fmt.Fprintf(stderr, "%s: unknown action %q; the actions are get, store, erase, list and version\n", helperProgram, args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	return 0
}

// helperCred is a cached refresh token, and the protocol's answer to get.
type helperCred struct {
	ServerURL string
	Username  string
	Secret    string
	// ExpiresOn is kept in the cache only.
	ExpiresOn time.Time `json:",omitzero"`
}

// serverHost reduces the protocol's server URL to host[:port].
func serverHost(server string) string { return strings.ToLower(dockerconfig.Hostname(server)) }

func helperGet(ctx context.Context, server string, stdout io.Writer) error {
	host := serverHost(server)
	if host == "" {
		return errors.New("get: no server URL on stdin")
	}
	tok, err := helperToken(ctx, host)
	if _, ok := errors.AsType[errLoopbackNotAllowed](err); ok && !namedHelper(host) {
		// Reached through credsStore, not a login --entra of this host:
		// no credentials, as for any other host that gets no Entra ID
		// token.
		err = dockerconfig.ErrNotFound
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(helperCred{ServerURL: server, Username: acr.RefreshTokenUser, Secret: tok})
}

// helperToken returns host's cached refresh token while it has more than
// helperRenew left, or else a new one, which it caches.
func helperToken(ctx context.Context, host string) (string, error) {
	// The token exchange hands the registry an Entra ID access token; only
	// Azure's registries, and the loopback hosts the user allowed, may see
	// one (entra_hosts.go).
	if err := entraAllowed(host); err != nil {
		return "", err
	}
	path, cacheErr := helperCachePath(host)
	if cacheErr == nil {
		var c helperCred
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &c) == nil &&
			c.Secret != "" && helperNow().Add(helperRenew).Before(c.ExpiresOn) {
			return c.Secret, nil
		}
	}
	cred, err := entraSource(host)
	if err != nil {
		return "", err
	}
	scheme := "https"
	if isLoopbackHost(host) {
		scheme = "http"
	}
	c, err := acr.NewClient(scheme+"://"+host, acr.TokenCredential(cred),
		&acr.ClientOptions{UserAgent: helperProgram, Audience: audienceFor(host)})
	if err != nil {
		return "", err
	}
	tok, err := c.RefreshToken(ctx)
	if errors.Is(err, acr.ErrNotSupported) {
		// A registry without Entra ID token exchange: docker goes on
		// anonymously.
		return "", dockerconfig.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("%s could not get an ACR refresh token for %s through Entra ID: %v; fix: run az login (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET)",
			helperProgram, host, firstLines(err.Error(), 3))
	}
	if cacheErr == nil && !tok.ExpiresOn.IsZero() {
		writeHelperCache(path, helperCred{ServerURL: host, Username: acr.RefreshTokenUser, Secret: tok.Token, ExpiresOn: tok.ExpiresOn})
	}
	return tok.Token, nil
}

// namedHelper reports whether docker's config.json names this helper for
// host under credHelpers, as acrctl login HOST --entra does.
func namedHelper(host string) bool {
	cfg, err := dockerconfig.Load("")
	return err == nil && cfg.CredHelpers[host] == helperName
}

// helperCacheDir holds one file per registry, readable by its owner only.
func helperCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "acrctl", "credential-helper"), nil
}

func helperCachePath(host string) (string, error) {
	d, err := helperCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, base64.RawURLEncoding.EncodeToString([]byte(host))+".json"), nil
}

// writeHelperCache saves c atomically with mode 0600. A cache that cannot
// be written only costs a new exchange next time.
func writeHelperCache(path string, c helperCred) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	b, _ := json.Marshal(c)
	atomicfile.WriteFile(path, b, 0o600)
}

// helperErase forgets the cached token; the Entra ID sign-in itself stays.
func helperErase(server string) error {
	path, err := helperCachePath(serverHost(server))
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return dockerconfig.ErrNotFound
	}
	return nil
}

// helperList prints the registries with a cached token, as the protocol's
// JSON object of server URL to user name.
func helperList(stdout io.Writer) error {
	out := map[string]string{}
	if d, err := helperCacheDir(); err == nil {
		names, _ := filepath.Glob(filepath.Join(d, "*.json"))
		sort.Strings(names)
		for _, n := range names {
			var c helperCred
			if b, err := os.ReadFile(n); err == nil && json.Unmarshal(b, &c) == nil && c.ServerURL != "" {
				out[c.ServerURL] = acr.RefreshTokenUser
			}
		}
	}
	return json.NewEncoder(stdout).Encode(out)
}
