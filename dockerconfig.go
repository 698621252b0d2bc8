package acr

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/acrgo/acr/internal/transport"
)

// dockerConfig is the part of docker's config.json that holds credentials.
type dockerConfig struct {
	Auths map[string]struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
	} `json:"auths"`
	CredsStore  string            `json:"credsStore"`
	CredHelpers map[string]string `json:"credHelpers"`
}

// DockerConfigPath returns the path of docker's config.json: $DOCKER_CONFIG/config.json,
// or ~/.docker/config.json.
func DockerConfigPath() (string, error) {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// DockerConfigCredential authenticates with the credentials that `docker
// login`, `oras login`, `az acr login` or `acrctl login` stored in docker's
// config.json at path ("" for DockerConfigPath): inline auths, identity
// (refresh) tokens, and credential helpers named by credsStore and
// credHelpers (docker-credential-NAME programs on PATH). The file is read
// when a registry first asks for credentials, and hosts it does not name
// are accessed anonymously.
func DockerConfigCredential(path string) (Credential, error) {
	if path == "" {
		p, err := DockerConfigPath()
		if err != nil {
			return nil, fmt.Errorf("acr: locate docker config: %w", err)
		}
		path = p
	}
	lookup := func(ctx context.Context, host string) (string, string, error) {
		return dockerLookup(ctx, path, host)
	}
	return credential{c: transport.Credential{Lookup: lookup}, name: "docker config " + path}, nil
}

// dockerLookup finds credentials for host in the config at path.
func dockerLookup(ctx context.Context, path, host string) (user, secret string, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read docker config: %w", err)
	}
	var cfg dockerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", "", fmt.Errorf("docker config %s is not valid JSON: %w", path, err)
	}
	if helper := cfg.CredHelpers[host]; helper != "" {
		return runCredentialHelper(ctx, helper, host)
	}
	for _, key := range []string{host, "https://" + host, "http://" + host} {
		a, ok := cfg.Auths[key]
		if !ok {
			continue
		}
		if a.IdentityToken != "" {
			return RefreshTokenUser, a.IdentityToken, nil
		}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return "", "", fmt.Errorf("docker config %s: the auth entry for %s is not base64", path, host)
			}
			u, p, ok := strings.Cut(string(raw), ":")
			if !ok {
				return "", "", fmt.Errorf("docker config %s: the auth entry for %s is not USER:PASSWORD", path, host)
			}
			return u, p, nil
		}
		if a.Username != "" {
			return a.Username, a.Password, nil
		}
	}
	if cfg.CredsStore != "" {
		return runCredentialHelper(ctx, cfg.CredsStore, host)
	}
	return "", "", nil
}

// runCredentialHelper runs `docker-credential-NAME get` with host on stdin.
// A helper that knows nothing of host yields no credentials.
func runCredentialHelper(ctx context.Context, name, host string) (string, string, error) {
	cmd := exec.CommandContext(ctx, "docker-credential-"+name, "get")
	cmd.Stdin = strings.NewReader(host)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stdout.String() + " " + stderr.String())
		if strings.Contains(msg, "credentials not found") {
			return "", "", nil
		}
		return "", "", fmt.Errorf("credential helper docker-credential-%s: %w: %s", name, err, oneLine(msg))
	}
	var out struct {
		Username string `json:"Username"`
		Secret   string `json:"Secret"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return "", "", fmt.Errorf("credential helper docker-credential-%s printed no JSON credentials", name)
	}
	if out.Username == "<token>" {
		return RefreshTokenUser, out.Secret, nil
	}
	return out.Username, out.Secret, nil
}
