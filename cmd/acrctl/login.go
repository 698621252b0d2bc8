package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/dockerconfig"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newLoginCmd() *cobra.Command {
	var o remoteOptions
	var exposeToken, entra, allowLoopback bool
	cmd := &cobra.Command{
		Use:   "login HOST",
		Short: "Check credentials against a registry and store them in docker's config.json",
		Long: `Check a user name and password (or token) against the registry, then store them where
docker, oras, crane and az acr look: in the credential helper that docker's config.json
names (credHelpers, then credsStore), or else inline in config.json. Later acrctl
commands, docker, oras and crane use them for HOST.

Azure Container Registry accepts its admin user, repository-scoped tokens, service
principals (application id and secret), and refresh tokens with the user name
00000000-0000-0000-0000-000000000000. For *.azurecr.io hosts no login is needed after
az login: acrctl uses Entra ID (DefaultAzureCredential) when nothing is stored.

Without --password or --password-stdin, login prompts on a terminal. Without --username,
it first checks the credentials stored for HOST again, as docker login does, and asks for
nothing when they still work.

--expose-token stores nothing: it prints, as JSON, an ACR refresh token for the
credential acrctl would use (Entra ID for *.azurecr.* hosts, or a stored refresh
token), as az acr login --expose-token does, for tools that log in with the user
name 00000000-0000-0000-0000-000000000000 and the token as password.

--entra stores no secret: it checks that Entra ID (DefaultAzureCredential) gives a
refresh token for HOST, then names acrctl as HOST's credential helper under
credHelpers in config.json. Docker, oras, crane, regctl and helm then run
docker-credential-acrctl, which prints an ACR refresh token, cached in the user
cache directory and renewed 30 minutes before it expires. docker-credential-acrctl
must be on PATH: a symbolic link to acrctl. acrctl logout HOST removes the entry.

The exchange hands HOST your Entra ID token itself, which every Azure Container
Registry you can reach accepts, so acrctl sends it only to ACR login servers
(*.azurecr.io, *.azurecr.cn, *.azurecr.us) and to the loopback HOST:PORT pairs you
name with --allow-loopback: any local user can listen on a free loopback port, so
allow one only for a registry you run yourself (acrctl serve --aad-token) on a
machine whose users you trust. On Linux, a port that another user listens on is
refused even then.`,
		Example: `  acrctl login myregistry.azurecr.io -u myregistry --password-stdin < password.txt
  echo "$ACR_TOKEN" | acrctl login myregistry.azurecr.io -u mytoken --password-stdin
  acrctl login localhost:5000 -u admin                 # prompts for the password
  acrctl login myregistry.azurecr.io --entra           # docker, oras, crane use Entra ID
  acrctl login localhost:5000 --entra --allow-loopback # your own acrctl serve --aad-token
  acrctl login myregistry.azurecr.io --expose-token | jq -r .accessToken |
    docker login myregistry.azurecr.io -u 00000000-0000-0000-0000-000000000000 --password-stdin
  az acr login -n myregistry --expose-token --query accessToken -o tsv |
    acrctl login myregistry.azurecr.io -u 00000000-0000-0000-0000-000000000000 --password-stdin
  export DOCKER_CONFIG="$(mktemp -d)"                  # in a CI job: credentials for this job only
  acrctl login myregistry.azurecr.io -u mytoken --password-stdin <<<"$ACR_TOKEN"`,
		Args:              exactArgs(1, "the registry HOST[:PORT]"),
		ValidArgsFunction: completeHosts(&o),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := parseHost(args[0])
			if err != nil {
				return err
			}
			if allowLoopback && !entra {
				return usageError{errors.New("--allow-loopback lets --entra send your Entra ID token to a loopback host: add --entra, or drop --allow-loopback")}
			}
			if entra {
				if exposeToken || o.username != "" || o.password != "" || o.passwordStdin {
					return usageError{errors.New("--entra stores no user name or password and prints no token: drop --username, --password, --password-stdin and --expose-token")}
				}
				return loginEntra(cmd, &o, host, allowLoopback)
			}
			if exposeToken {
				return exposeRefreshToken(cmd, &o, host)
			}
			return login(cmd, &o, host)
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.BoolVar(&exposeToken, "expose-token", false, "print an ACR refresh token as JSON instead of storing credentials")
	fs.BoolVar(&entra, "entra", false, "register acrctl as HOST's docker credential helper (credHelpers), which hands out ACR refresh tokens got through Entra ID")
	fs.BoolVar(&allowLoopback, "allow-loopback", false, "with --entra for a loopback HOST:PORT: let your Entra ID token go to whatever listens there (only your own registry, on a machine whose users you trust)")
	return cmd
}

// exposeRefreshToken prints the refresh token that the credential acrctl
// would use for host gives, in az acr login --expose-token's JSON shape.
func exposeRefreshToken(cmd *cobra.Command, o *remoteOptions, host string) error {
	s, err := o.connect(cmd, host)
	if err != nil {
		return err
	}
	if o.username != "" {
		s.loginFix = "check the user name and password (for a refresh token, the user name " + acr.RefreshTokenUser + " and the token as password)"
	}
	tok, err := s.client.RefreshToken(cmd.Context())
	if errors.Is(err, acr.ErrNotSupported) {
		return fmt.Errorf("--expose-token needs a credential that gives ACR refresh tokens (Entra ID for *.azurecr.* hosts, or a stored refresh token), and %s uses %s", host, s.cred)
	}
	if err != nil {
		return s.explain(err)
	}
	out := struct {
		AccessToken string    `json:"accessToken"`
		LoginServer string    `json:"loginServer"`
		Username    string    `json:"username"`
		ExpiresOn   time.Time `json:"expiresOn,omitzero"`
	}{tok.Token, host, acr.RefreshTokenUser, tok.ExpiresOn.UTC()}
	return writeJSON(cmd.OutOrStdout(), out)
}

func login(cmd *cobra.Command, o *remoteOptions, host string) error {
	stdin, stderr := cmd.InOrStdin(), cmd.ErrOrStderr()
	if o.password != "" && o.passwordStdin {
		return usageError{errors.New("--password and --password-stdin both given: pass one")}
	}
	interactive := isTerminal(stdin) && !o.passwordStdin
	if o.username == "" && o.password == "" && !o.passwordStdin {
		// As docker login does: credentials stored already are checked
		// again, and nothing is asked for when they still work.
		done, err := recheckStored(cmd, o, host, interactive)
		if done || err != nil {
			return err
		}
	}
	if o.username == "" {
		if !interactive {
			return usageError{fmt.Errorf("login needs --username (and --password-stdin); for *.azurecr.io hosts after az login, no login is needed")}
		}
		fmt.Fprint(stderr, "Username: ")
		end := beginPrompt(-1)
		line, err := bufio.NewReader(stdin).ReadString('\n')
		end()
		if err != nil && line == "" {
			return fmt.Errorf("reading the user name: %w", err)
		}
		o.username = strings.TrimSpace(line)
		if o.username == "" {
			return usageError{errors.New("no user name given")}
		}
	}
	if o.password == "" && !o.passwordStdin {
		if !interactive {
			return usageError{errors.New("login needs --password-stdin (or --password) when stdin is not a terminal")}
		}
		fmt.Fprint(stderr, "Password: ")
		fd := int(stdin.(*os.File).Fd())
		end := beginPrompt(fd)
		p, err := term.ReadPassword(fd)
		end()
		fmt.Fprintln(stderr)
		if err != nil {
			return fmt.Errorf("reading the password: %w", err)
		}
		o.password = string(p)
		if o.password == "" {
			return usageError{errors.New("no password given")}
		}
	} else if o.password != "" {
		fmt.Fprintln(stderr, "warning: --password shows in process lists and shell history; prefer --password-stdin")
	}
	password, err := o.readPassword(cmd)
	if err != nil {
		return err
	}
	o.password, o.passwordStdin = password, false

	s, err := o.connect(cmd, host)
	if err != nil {
		return err
	}
	s.cred = fmt.Sprintf("user %q", o.username)
	s.loginFix = "check the user name and password (on ACR: enable the admin user, or use a repository token or a service principal); nothing was stored"
	if err := s.client.Ping(cmd.Context()); err != nil {
		return s.explain(err)
	}
	path, err := o.configPath()
	if err != nil {
		return err
	}
	cfg, err := dockerconfig.Load(path)
	if err != nil {
		return err
	}
	where, err := cfg.Store(cmd.Context(), host, o.username, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Login succeeded: %s accepted user %q; credentials stored in %s\n", host, o.username, where)
	return nil
}

// recheckStored signs in to host with the credentials stored for it, if
// any (config.json or a credential helper), and reports done when they
// work. When they are refused it fails, or, interactive, returns to ask
// for new ones.
func recheckStored(cmd *cobra.Command, o *remoteOptions, host string, interactive bool) (done bool, err error) {
	s, err := o.connect(cmd, host)
	if err != nil {
		return false, err
	}
	if !s.stored {
		return false, nil
	}
	err = s.client.Ping(cmd.Context())
	if err == nil {
		fmt.Fprintf(cmd.OutOrStdout(), "Login succeeded: %s accepted %s; nothing changed\n", host, s.cred)
		return true, nil
	}
	if errors.Is(err, acr.ErrUnauthorized) && interactive {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s refused %s; give new ones\n", host, s.cred)
		return false, nil
	}
	s.loginFix = "store new ones: acrctl login " + host + " -u NAME --password-stdin"
	return false, s.explain(err)
}

func newLogoutCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "logout HOST",
		Short: "Remove a registry's credentials from docker's config.json and credential helper",
		Long: `Remove the credentials stored for HOST: its entry in docker's config.json, and the
secret in the credential helper the config names, if any. Logging out of a registry
that has no stored credentials succeeds and says so.`,
		Example: `  acrctl logout myregistry.azurecr.io
  acrctl logout localhost:5000 --registry-config ./config.json`,
		Args: exactArgs(1, "the registry HOST[:PORT]"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			o := remoteOptions{registryConfig: configPath}
			return completeHosts(&o)(cmd, args, "")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := parseHost(args[0])
			if err != nil {
				return err
			}
			o := remoteOptions{registryConfig: configPath}
			path, err := o.configPath()
			if err != nil {
				return err
			}
			cfg, err := dockerconfig.Load(path)
			if err != nil {
				return err
			}
			where := path
			if h := cfg.Helper(host); h != "" {
				where += " and " + dockerconfig.HelperPrefix + h
			}
			entra := cfg.CredHelpers[host] == helperName
			if entra {
				// Undo login --entra: forget the helper's cached token (it
				// is this program: no need to run it) and the entry.
				helperErase(host)
				delete(cfg.CredHelpers, host)
			}
			// And the --allow-loopback that let it send the Entra ID
			// token there.
			dropped := false
			if isLoopbackHost(host) {
				if dropped, err = setLoopbackOptIn(host, false); err != nil {
					return err
				}
			}
			found, err := cfg.Erase(cmd.Context(), host)
			if err != nil {
				return err
			}
			found = found || dropped
			if entra {
				if err := cfg.Save(); err != nil {
					return err
				}
				found = true
			}
			if !found {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s: %s stores no credentials for it\n", host, path)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed the credentials for %s from %s\n", host, where)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "registry-config", "", "docker config.json to edit (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
	return cmd
}

// completeHosts completes registry hosts from docker's config.json.
func completeHosts(o *remoteOptions) cobra.CompletionFunc { return completeRegistries(o, false) }

// completeRefs completes the registry part of a reference (HOST/) from
// docker's config.json; repositories are not listed, which would need the
// network.
func completeRefs(o *remoteOptions) cobra.CompletionFunc { return completeRegistries(o, true) }

func completeRegistries(o *remoteOptions, ref bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		path, err := o.configPath()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg, err := dockerconfig.Load(path)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		hosts := cfg.Hosts()
		if !ref {
			return hosts, cobra.ShellCompDirectiveNoFileComp
		}
		for i := range hosts {
			hosts[i] += "/"
		}
		return hosts, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// loginEntra checks that the credential helper can get a refresh token for
// host through Entra ID (which also fills its cache), then registers it
// under credHelpers.
func loginEntra(cmd *cobra.Command, o *remoteOptions, host string, allowLoopback bool) error {
	if o.plainHTTP || o.insecure || o.caFile != "" {
		return usageError{errors.New("--entra registers a helper that docker, oras and crane run, and it connects as they do (plain http to loopback hosts, https with the system's certificates elsewhere): drop --plain-http, --insecure and --ca-file")}
	}
	loopback := isLoopbackHost(host)
	switch {
	case !isAzureHost(host) && !loopback:
		return usageError{fmt.Errorf("--entra signs in with an Entra ID token, which acrctl sends only to Azure Container Registry login servers (*.azurecr.io, *.azurecr.cn, *.azurecr.us) and the loopback hosts allowed with --allow-loopback, not to %s; fix: acrctl login %s -u NAME --password-stdin", host, host)}
	case allowLoopback && !loopback:
		return usageError{fmt.Errorf("--allow-loopback is for loopback hosts, and %s is not one: drop it", host)}
	case loopback && !allowLoopback:
		return usageError{fmt.Errorf("--entra for the loopback host %s would send your Entra ID token, which every Azure Container Registry you can reach accepts, to whatever listens on that port, and any local user can listen there; "+
			"fix: if you run that registry yourself on a machine whose users you trust, add --allow-loopback; otherwise acrctl login %s -u NAME --password-stdin", host, host)}
	}
	path, err := o.configPath()
	if err != nil {
		return err
	}
	cfg, err := dockerconfig.Load(path)
	if err != nil {
		return err
	}
	var added bool
	if allowLoopback {
		if added, err = setLoopbackOptIn(host, true); err != nil {
			return fmt.Errorf("recording --allow-loopback: %w; nothing was stored", err)
		}
	}
	if _, err := helperToken(cmd.Context(), host); err != nil {
		if added {
			setLoopbackOptIn(host, false)
		}
		if errors.Is(err, dockerconfig.ErrNotFound) {
			return fmt.Errorf("%s does not exchange Entra ID tokens for refresh tokens, so a credential helper cannot sign in to it; fix: acrctl login %s -u NAME --password-stdin; nothing was stored", host, host)
		}
		return fmt.Errorf("%v; nothing was stored", err)
	}
	if err := cfg.SetCredHelper(host, helperName); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Login succeeded: %s gave a refresh token for the Entra ID sign-in; %s names %s as its credential helper (credHelpers)\n", host, path, helperProgram)
	if p, err := exec.LookPath(helperProgram); err == nil {
		fmt.Fprintf(w, "%s is on PATH: %s\n", helperProgram, p)
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "/path/to/acrctl"
	}
	fmt.Fprintf(w, "%s is not on PATH yet; docker, oras and crane need it: ln -s %s ~/.local/bin/%s (any directory on PATH)\n", helperProgram, exe, helperProgram)
	return nil
}
