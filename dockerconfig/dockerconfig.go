// Package dockerconfig reads and writes docker's config.json as docker,
// oras, crane and regctl do, and speaks the docker-credential-helpers
// protocol to the helpers it names.
//
// Precedence is docker's: a credHelpers entry for the host, then the
// credsStore, then the inline auths entries. Rewriting the file keeps every
// field this package does not know (proxies, aliases, plugins).
package dockerconfig

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
	"sort"
	"strings"

	"github.com/acrgo/acr/internal/atomicfile"
)

// TokenUser is the user name with which credential helpers, and docker's
// config, mark an identity (refresh) token rather than a password.
const TokenUser = "<token>"

// HelperPrefix begins the name of every credential helper program.
const HelperPrefix = "docker-credential-"

// NotFoundMessage is what a credential helper prints when it knows nothing
// of a server; docker and its clients recognise the phrase.
const NotFoundMessage = "credentials not found in native keychain"

// ErrNotFound means that a credential helper has no credentials for a
// server.
var ErrNotFound = errors.New(NotFoundMessage)

// HelperMissingError means that the credential helper program the config
// names is not on PATH.
type HelperMissingError struct {
	Program string // docker-credential-NAME
}

func (e *HelperMissingError) Error() string {
	return "the credential helper " + e.Program + " is not on PATH (config.json names it); install it, or remove \"credsStore\"/\"credHelpers\" from the config"
}

// Auth is one registry's credentials. IdentityToken, when set, is a
// refresh token to exchange at the registry's token endpoint, and Username
// and Password are then empty.
type Auth struct {
	Username      string
	Password      string
	IdentityToken string
}

// Config is a docker config.json.
type Config struct {
	path string
	// raw holds every top-level field; auths, credsStore and credHelpers
	// are rewritten from the fields below on Save.
	raw map[string]json.RawMessage
	// Auths maps a registry to its entry, kept field by field.
	Auths       map[string]map[string]json.RawMessage
	CredsStore  string
	CredHelpers map[string]string
}

// DefaultPath returns the path of docker's config.json:
// $DOCKER_CONFIG/config.json, or ~/.docker/config.json.
func DefaultPath() (string, error) {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// Load reads the config at path ("" for DefaultPath). A missing or empty
// file is an empty config.
func Load(path string) (*Config, error) {
	if path == "" {
		p, err := DefaultPath()
		if err != nil {
			return nil, fmt.Errorf("locate docker's config.json (set DOCKER_CONFIG): %w", err)
		}
		path = p
	}
	c := &Config{path: path, raw: map[string]json.RawMessage{}, Auths: map[string]map[string]json.RawMessage{},
		CredHelpers: map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return nil, fmt.Errorf("docker config %s is a directory; fix: name the file in it, %s", path, filepath.Join(path, "config.json"))
		}
		return nil, fmt.Errorf("read docker config: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(data, &c.raw); err != nil {
		return nil, fmt.Errorf("docker config %s is not valid JSON (%v); fix or move the file", path, err)
	}
	if a, ok := c.raw["auths"]; ok && string(a) != "null" {
		if err := json.Unmarshal(a, &c.Auths); err != nil {
			return nil, fmt.Errorf("docker config %s: \"auths\" is not an object of registries (%v); fix or move the file", path, err)
		}
	}
	if s, ok := c.raw["credsStore"]; ok && string(s) != "null" {
		if err := json.Unmarshal(s, &c.CredsStore); err != nil {
			return nil, fmt.Errorf("docker config %s: \"credsStore\" is not a string; fix or move the file", path)
		}
	}
	if h, ok := c.raw["credHelpers"]; ok && string(h) != "null" {
		if err := json.Unmarshal(h, &c.CredHelpers); err != nil {
			return nil, fmt.Errorf("docker config %s: \"credHelpers\" is not an object of registry: helper; fix or move the file", path)
		}
	}
	if c.Auths == nil {
		c.Auths = map[string]map[string]json.RawMessage{}
	}
	if c.CredHelpers == nil {
		c.CredHelpers = map[string]string{}
	}
	return c, nil
}

// Path returns the file the config was read from and is saved to.
func (c *Config) Path() string { return c.path }

// Hostname reduces an auths key or a credential helper's server URL to
// host[:port], as docker's ConvertToHostname does: "https://host/v1/" is
// "host".
func Hostname(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	h, _, _ := strings.Cut(key, "/")
	return h
}

// authKeys returns the auths keys that name host, the exact key first.
func (c *Config) authKeys(host string) []string {
	var keys []string
	if _, ok := c.Auths[host]; ok {
		keys = append(keys, host)
	}
	var others []string
	for k := range c.Auths {
		if k != host && Hostname(k) == host {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	return append(keys, others...)
}

// Helper returns the credential helper that holds host's credentials
// (credHelpers, then credsStore), or "" when they are inline in the file.
func (c *Config) Helper(host string) string {
	if h := c.CredHelpers[host]; h != "" {
		return h
	}
	return c.CredsStore
}

// HasCredentials reports whether the config names host: a credHelpers or
// auths entry (inline, or the empty entry docker leaves beside a
// credsStore).
func (c *Config) HasCredentials(host string) bool {
	return c.CredHelpers[host] != "" || len(c.authKeys(host)) > 0
}

// Hosts lists the registries the config names, sorted.
func (c *Config) Hosts() []string {
	seen := map[string]bool{}
	for k := range c.Auths {
		if h := Hostname(k); h != "" {
			seen[h] = true
		}
	}
	for k := range c.CredHelpers {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Lookup returns host's credentials with docker's precedence: the helper
// named for host in credHelpers, else the credsStore helper, else the
// inline auths entry. Nothing stored is a zero Auth and no error.
func (c *Config) Lookup(ctx context.Context, host string) (Auth, error) {
	if helper := c.Helper(host); helper != "" {
		a, err := HelperGet(ctx, helper, host)
		if errors.Is(err, ErrNotFound) {
			return Auth{}, nil
		}
		return a, err
	}
	for _, k := range c.authKeys(host) {
		e := c.Auths[k]
		var f struct {
			Auth          string `json:"auth"`
			Username      string `json:"username"`
			Password      string `json:"password"`
			IdentityToken string `json:"identitytoken"`
		}
		for name, dst := range map[string]*string{"auth": &f.Auth, "username": &f.Username, "password": &f.Password, "identitytoken": &f.IdentityToken} {
			if v, ok := e[name]; ok {
				json.Unmarshal(v, dst)
			}
		}
		switch {
		case f.IdentityToken != "":
			return Auth{IdentityToken: f.IdentityToken}, nil
		case f.Auth != "":
			raw, err := base64.StdEncoding.DecodeString(f.Auth)
			if err != nil {
				return Auth{}, fmt.Errorf("docker config %s: the auth entry for %s is not base64", c.path, host)
			}
			u, p, ok := strings.Cut(string(raw), ":")
			if !ok {
				return Auth{}, fmt.Errorf("docker config %s: the auth entry for %s is not USER:PASSWORD", c.path, host)
			}
			return Auth{Username: u, Password: p}, nil
		case f.Username != "":
			return Auth{Username: f.Username, Password: f.Password}, nil
		}
	}
	return Auth{}, nil
}

// Store saves credentials for host where docker would: with the helper the
// config names for it (leaving an empty auths entry beside a credsStore, as
// docker does), or else inline as base64 USER:PASSWORD. It saves the file
// and returns where the secret went.
func (c *Config) Store(ctx context.Context, host, user, secret string) (string, error) {
	for _, k := range c.authKeys(host) {
		delete(c.Auths, k)
	}
	if helper := c.Helper(host); helper != "" {
		if err := HelperStore(ctx, helper, host, user, secret); err != nil {
			return "", err
		}
		if c.CredHelpers[host] == "" {
			c.Auths[host] = map[string]json.RawMessage{}
		}
		if err := c.Save(); err != nil {
			return "", err
		}
		return "credential helper " + HelperPrefix + helper, nil
	}
	auth, _ := json.Marshal(base64.StdEncoding.EncodeToString([]byte(user + ":" + secret)))
	c.Auths[host] = map[string]json.RawMessage{"auth": auth}
	if err := c.Save(); err != nil {
		return "", err
	}
	return c.path, nil
}

// Erase removes host's credentials from the file and from its helper, and
// saves the file. It reports whether anything was stored.
func (c *Config) Erase(ctx context.Context, host string) (bool, error) {
	found := false
	for _, k := range c.authKeys(host) {
		delete(c.Auths, k)
		found = true
	}
	if helper := c.Helper(host); helper != "" {
		err := HelperErase(ctx, helper, host)
		switch {
		case err == nil:
			found = true
		case errors.Is(err, ErrNotFound):
		default:
			return found, err
		}
	}
	if !found {
		return false, nil
	}
	return true, c.Save()
}

// SetCredHelper names helper (without the docker-credential- prefix) as
// the credential helper for host, drops host's auths entries, and saves
// the file.
func (c *Config) SetCredHelper(host, helper string) error {
	for _, k := range c.authKeys(host) {
		delete(c.Auths, k)
	}
	c.CredHelpers[host] = helper
	return c.Save()
}

// Save writes the config atomically with owner-only permissions, as docker
// does, keeping the mode of an existing file.
func (c *Config) Save() error {
	a, err := json.Marshal(c.Auths)
	if err != nil {
		return err
	}
	c.raw["auths"] = a
	if len(c.CredHelpers) > 0 {
		h, _ := json.Marshal(c.CredHelpers)
		c.raw["credHelpers"] = h
	} else {
		delete(c.raw, "credHelpers")
	}
	if c.CredsStore != "" {
		s, _ := json.Marshal(c.CredsStore)
		c.raw["credsStore"] = s
	} else {
		delete(c.raw, "credsStore")
	}
	data, err := json.MarshalIndent(c.raw, "", "\t")
	if err != nil {
		return err
	}
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(c.path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := atomicfile.WriteFile(c.path, append(data, '\n'), mode); err != nil {
		return fmt.Errorf("write docker config %s: %w", c.path, err)
	}
	return nil
}

// HelperGet asks docker-credential-NAME for server's credentials. A helper
// that knows nothing of server gives ErrNotFound.
func HelperGet(ctx context.Context, name, server string) (Auth, error) {
	out, err := runHelper(ctx, name, "get", []byte(server))
	if err != nil {
		return Auth{}, err
	}
	var c struct {
		Username string `json:"Username"`
		Secret   string `json:"Secret"`
	}
	if err := json.Unmarshal(out, &c); err != nil {
		return Auth{}, fmt.Errorf("credential helper %s%s printed no JSON credentials", HelperPrefix, name)
	}
	if c.Username == TokenUser {
		return Auth{IdentityToken: c.Secret}, nil
	}
	return Auth{Username: c.Username, Password: c.Secret}, nil
}

// HelperStore gives docker-credential-NAME server's credentials to keep.
func HelperStore(ctx context.Context, name, server, user, secret string) error {
	in, _ := json.Marshal(map[string]string{"ServerURL": server, "Username": user, "Secret": secret})
	_, err := runHelper(ctx, name, "store", in)
	return err
}

// HelperErase tells docker-credential-NAME to forget server's credentials.
func HelperErase(ctx context.Context, name, server string) error {
	_, err := runHelper(ctx, name, "erase", []byte(server))
	return err
}

// runHelper runs `docker-credential-NAME action` with input on stdin and
// returns what it printed on stdout.
func runHelper(ctx context.Context, name, action string, input []byte) ([]byte, error) {
	prog := HelperPrefix + name
	cmd := exec.CommandContext(ctx, prog, action)
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stdout.String() + "\n" + stderr.String())
		if strings.Contains(msg, "credentials not found") {
			return nil, ErrNotFound
		}
		if errors.Is(err, exec.ErrNotFound) {
			return nil, &HelperMissingError{Program: prog}
		}
		return nil, fmt.Errorf("credential helper %s %s failed: %v: %s", prog, action, err, firstLines(msg, 2))
	}
	return stdout.Bytes(), nil
}

// firstLines joins the first n non-empty lines of s.
func firstLines(s string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, " ")
}
