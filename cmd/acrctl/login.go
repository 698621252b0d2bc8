package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newLoginCmd() *cobra.Command {
	var o remoteOptions
	var exposeToken bool
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

Without --password or --password-stdin, login prompts on a terminal.

--expose-token stores nothing: it prints, as JSON, an ACR refresh token for the
credential acrctl would use (Entra ID for *.azurecr.* hosts, or a stored refresh
token), as az acr login --expose-token does, for tools that log in with the user
name 00000000-0000-0000-0000-000000000000 and the token as password.`,
		Example: `  acrctl login myregistry.azurecr.io -u myregistry --password-stdin < password.txt
  echo "$ACR_TOKEN" | acrctl login myregistry.azurecr.io -u mytoken --password-stdin
  acrctl login localhost:5000 -u admin                 # prompts for the password
  acrctl login myregistry.azurecr.io --expose-token | jq -r .accessToken |
    docker login myregistry.azurecr.io -u 00000000-0000-0000-0000-000000000000 --password-stdin`,
		Args:              exactArgs(1, "the registry HOST[:PORT]"),
		ValidArgsFunction: completeHosts(&o),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := parseHost(args[0])
			if err != nil {
				return err
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
	return cmd
}

// exposeRefreshToken prints the refresh token that the credential acrctl
// would use for host gives, in az acr login --expose-token's JSON shape.
func exposeRefreshToken(cmd *cobra.Command, o *remoteOptions, host string) error {
	s, err := o.connect(cmd, host)
	if err != nil {
		return err
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
	if o.username == "" {
		if !interactive {
			return usageError{fmt.Errorf("login needs --username (and --password-stdin); for *.azurecr.io hosts after az login, no login is needed")}
		}
		fmt.Fprint(stderr, "Username: ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
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
		p, err := term.ReadPassword(int(stdin.(*os.File).Fd()))
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
	cfg, err := loadDockerConfig(path)
	if err != nil {
		return err
	}
	where, err := cfg.store(cmd.Context(), host, o.username, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Login succeeded: %s accepted user %q; credentials stored in %s\n", host, o.username, where)
	return nil
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
			cfg, err := loadDockerConfig(path)
			if err != nil {
				return err
			}
			found, err := cfg.erase(cmd.Context(), host)
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s: %s stores no credentials for it\n", host, path)
				return nil
			}
			where := path
			if h := cfg.helperFor(host); h != "" {
				where += " and docker-credential-" + h
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
		cfg, err := loadDockerConfig(path)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		hosts := cfg.hosts()
		if !ref {
			return hosts, cobra.ShellCompDirectiveNoFileComp
		}
		for i := range hosts {
			hosts[i] += "/"
		}
		return hosts, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}
