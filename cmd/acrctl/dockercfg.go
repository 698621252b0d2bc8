package main

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
)

// dockerConfig is docker's config.json, kept whole so that rewriting it
// preserves every field acrctl does not know (proxies, aliases, plugins).
type dockerConfig struct {
	path string
	// raw holds every top-level field; auths is rewritten from Auths.
	raw         map[string]json.RawMessage
	Auths       map[string]map[string]json.RawMessage
	CredsStore  string
	CredHelpers map[string]string
}

// loadDockerConfig reads path; a missing file is an empty config.
func loadDockerConfig(path string) (*dockerConfig, error) {
	c := &dockerConfig{path: path, raw: map[string]json.RawMessage{}, Auths: map[string]map[string]json.RawMessage{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
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
	if s, ok := c.raw["credsStore"]; ok {
		json.Unmarshal(s, &c.CredsStore)
	}
	if h, ok := c.raw["credHelpers"]; ok {
		json.Unmarshal(h, &c.CredHelpers)
	}
	if c.Auths == nil {
		c.Auths = map[string]map[string]json.RawMessage{}
	}
	return c, nil
}

// authKeys are the keys under which config files name a registry.
func authKeys(host string) []string { return []string{host, "https://" + host, "http://" + host} }

// hasCredentials reports whether the config names host: an auths entry
// (inline, or a placeholder beside a credsStore) or a credHelpers entry.
func (c *dockerConfig) hasCredentials(host string) bool {
	if c.CredHelpers[host] != "" {
		return true
	}
	for _, k := range authKeys(host) {
		if _, ok := c.Auths[k]; ok {
			return true
		}
	}
	return false
}

// helperFor returns the credential helper that stores host's credentials,
// or "" for inline storage in the file.
func (c *dockerConfig) helperFor(host string) string {
	if h := c.CredHelpers[host]; h != "" {
		return h
	}
	return c.CredsStore
}

// hosts lists the registries the config names, for shell completion.
func (c *dockerConfig) hosts() []string {
	seen := map[string]bool{}
	for k := range c.Auths {
		k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
		if k != "" && !strings.Contains(strings.TrimSuffix(k, "/"), "/") {
			seen[strings.TrimSuffix(k, "/")] = true
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

// store saves credentials for host: with the credential helper the config
// names (credHelpers, then credsStore), as docker does, leaving an empty
// auths entry beside a credsStore; otherwise inline as base64 USER:PASSWORD.
// It returns where they went.
func (c *dockerConfig) store(ctx context.Context, host, user, secret string) (string, error) {
	for _, k := range authKeys(host)[1:] {
		delete(c.Auths, k)
	}
	if helper := c.helperFor(host); helper != "" {
		in, _ := json.Marshal(map[string]string{"ServerURL": host, "Username": user, "Secret": secret})
		if err := runHelper(ctx, helper, "store", in); err != nil {
			return "", err
		}
		if c.CredHelpers[host] == "" {
			c.Auths[host] = map[string]json.RawMessage{}
		} else {
			delete(c.Auths, host)
		}
		if err := c.save(); err != nil {
			return "", err
		}
		return "credential helper docker-credential-" + helper, nil
	}
	auth, _ := json.Marshal(base64.StdEncoding.EncodeToString([]byte(user + ":" + secret)))
	c.Auths[host] = map[string]json.RawMessage{"auth": auth}
	if err := c.save(); err != nil {
		return "", err
	}
	return c.path, nil
}

// erase removes host's credentials from the file and from its helper. It
// reports whether anything was stored.
func (c *dockerConfig) erase(ctx context.Context, host string) (bool, error) {
	found := false
	for _, k := range authKeys(host) {
		if _, ok := c.Auths[k]; ok {
			delete(c.Auths, k)
			found = true
		}
	}
	if helper := c.helperFor(host); helper != "" {
		err := runHelper(ctx, helper, "erase", []byte(host))
		switch {
		case err == nil:
			found = true
		case errors.Is(err, errHelperNotFound):
		default:
			return found, err
		}
	}
	if !found {
		return false, nil
	}
	return true, c.save()
}

// save writes the config atomically with owner-only permissions, as
// docker does, keeping the file's mode when it exists.
func (c *dockerConfig) save() error {
	if len(c.Auths) > 0 {
		a, err := json.Marshal(c.Auths)
		if err != nil {
			return err
		}
		c.raw["auths"] = a
	} else {
		c.raw["auths"] = json.RawMessage("{}")
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
	f, err := os.CreateTemp(dir, ".config.json.tmp-*")
	if err != nil {
		return fmt.Errorf("write docker config: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(append(data, '\n'))
	if werr == nil {
		werr = f.Chmod(mode)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, c.path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write docker config %s: %w", c.path, werr)
	}
	return nil
}

var errHelperNotFound = errors.New("credentials not found")

// runHelper runs `docker-credential-NAME action` with input on stdin, per
// the docker-credential-helpers protocol.
func runHelper(ctx context.Context, name, action string, input []byte) error {
	prog := "docker-credential-" + name
	cmd := exec.CommandContext(ctx, prog, action)
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if strings.Contains(msg, "credentials not found") {
			return errHelperNotFound
		}
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("the credential helper %s is not on PATH (config.json names it); install it, or remove \"credsStore\"/\"credHelpers\" from the config", prog)
		}
		return fmt.Errorf("credential helper %s %s failed: %v: %s", prog, action, err, firstLines(msg, 2))
	}
	return nil
}
