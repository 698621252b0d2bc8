package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/acrgo/acr/dockerconfig"
	"github.com/acrgo/acr/internal/atomicfile"
)

// Which hosts may receive the user's Entra ID access token. The credential
// helper (and login --entra) exchange it at the registry's /oauth2/exchange,
// so the registry sees the token itself, and every ACR the user can reach
// accepts it. The rule:
//
//   - ACR login servers of a known cloud (*.azurecr.io, *.azurecr.cn,
//     *.azurecr.us): yes.
//   - Loopback hosts (a local acrctl serve): only HOST:PORT pairs the user
//     allowed by name with acrctl login HOST --entra --allow-loopback, an
//     opt-in kept in the user config directory (never in docker's
//     config.json, which credsStore: acrctl would make cover every host).
//     Any local user can listen on a loopback port that is free, so having
//     logged in to one once is no reason to trust whoever listens there now;
//     where the kernel says who listens (Linux), a port that another user
//     listens on is refused even then (entra_listener.go).
//   - Anything else: no.

// errLoopbackNotAllowed is the refusal for a loopback host without the
// opt-in.
type errLoopbackNotAllowed struct{ host string }

func (e errLoopbackNotAllowed) Error() string {
	return fmt.Sprintf("%s does not send your Entra ID token to the loopback host %s: whatever listens on that port "+
		"(another local user can) would get a token that every Azure Container Registry you can reach accepts; "+
		"fix: if you run that registry yourself and trust every user of this machine, acrctl login %s --entra --allow-loopback; "+
		"otherwise acrctl logout %s and acrctl login %s -u NAME --password-stdin", helperProgram, e.host, e.host, e.host, e.host)
}

// entraAllowed returns nil when host may receive an Entra ID access token,
// errLoopbackNotAllowed for a loopback host that the user did not allow,
// and dockerconfig.ErrNotFound (no credentials: docker goes on
// anonymously) for any other host.
func entraAllowed(host string) error {
	switch {
	case isAzureHost(host):
		return nil
	case !isLoopbackHost(host):
		return dockerconfig.ErrNotFound
	}
	hosts, err := loadLoopbackOptIns()
	if err != nil {
		return err
	}
	if !slices.Contains(hosts, host) {
		return errLoopbackNotAllowed{host}
	}
	if uid := foreignListener(host); uid >= 0 {
		return fmt.Errorf("%s does not send your Entra ID token to %s: the socket listening there belongs to another user (uid %d), not to you (uid %d), so it is not your registry; "+
			"fix: stop that program and start your own registry there, or start it on another port and run acrctl login HOST:PORT --entra --allow-loopback for that one", helperProgram, host, uid, os.Getuid())
	}
	return nil
}

// loopbackOptInPath is the file that lists the loopback hosts allowed to
// receive the Entra ID token: acrctl/entra-loopback.json in the user config
// directory.
func loopbackOptInPath() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("locate the user config directory, which holds the loopback hosts allowed an Entra ID token (set XDG_CONFIG_HOME or HOME): %w", err)
	}
	return filepath.Join(d, "acrctl", "entra-loopback.json"), nil
}

// loopbackOptIns is the file's content.
type loopbackOptIns struct {
	Hosts []string `json:"hosts"`
}

// loadLoopbackOptIns returns the allowed loopback hosts; none when the file
// does not exist.
func loadLoopbackOptIns() ([]string, error) {
	path, err := loopbackOptInPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o loopbackOptIns
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON (%v); fix: delete it and log in again with acrctl login HOST --entra --allow-loopback", path, err)
	}
	return o.Hosts, nil
}

// setLoopbackOptIn adds host to the allowed loopback hosts, or removes it,
// and reports whether the list changed.
func setLoopbackOptIn(host string, allow bool) (bool, error) {
	hosts, err := loadLoopbackOptIns()
	if err != nil {
		return false, err
	}
	i := slices.Index(hosts, host)
	switch {
	case allow && i < 0:
		hosts = append(hosts, host)
		slices.Sort(hosts)
	case !allow && i >= 0:
		hosts = slices.Delete(hosts, i, i+1)
	default:
		return false, nil
	}
	path, err := loopbackOptInPath()
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	b, err := json.MarshalIndent(loopbackOptIns{Hosts: hosts}, "", "  ")
	if err != nil {
		return false, err
	}
	return true, atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}
