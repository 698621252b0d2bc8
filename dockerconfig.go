package acr

import (
	"context"
	"fmt"

	"github.com/acrgo/acr/dockerconfig"
	"github.com/acrgo/acr/internal/transport"
)

// DockerConfigPath returns the path of docker's config.json: $DOCKER_CONFIG/config.json,
// or ~/.docker/config.json.
func DockerConfigPath() (string, error) { return dockerconfig.DefaultPath() }

// DockerConfigCredential authenticates with the credentials that `docker
// login`, `oras login`, `az acr login` or `acrctl login` stored in docker's
// config.json at path ("" for DockerConfigPath): inline auths, identity
// (refresh) tokens, and credential helpers named by credHelpers and
// credsStore (docker-credential-NAME programs on PATH), with docker's
// precedence: the host's credHelpers entry, then credsStore, then auths.
// The file is read when a registry first asks for credentials, and hosts it
// does not name are accessed anonymously. Package dockerconfig reads and
// writes the file.
func DockerConfigCredential(path string) (Credential, error) {
	if path == "" {
		p, err := DockerConfigPath()
		if err != nil {
			return nil, fmt.Errorf("acr: locate docker config: %w", err)
		}
		path = p
	}
	lookup := func(ctx context.Context, host string) (string, string, error) {
		cfg, err := dockerconfig.Load(path)
		if err != nil {
			return "", "", err
		}
		a, err := cfg.Lookup(ctx, host)
		if err != nil {
			return "", "", err
		}
		if a.IdentityToken != "" {
			return RefreshTokenUser, a.IdentityToken, nil
		}
		return a.Username, a.Password, nil
	}
	return credential{c: transport.Credential{Lookup: lookup}, name: "docker config " + path}, nil
}
