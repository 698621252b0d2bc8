package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/acrgo/acr"
	"github.com/acrgo/acr/dockerconfig"
	"github.com/acrgo/acr/internal/transport"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// remoteOptions are the flags of every command that talks to a registry,
// shared by a command group through persistent flags, as oras's option
// groups are.
type remoteOptions struct {
	username       string
	password       string
	passwordStdin  bool
	plainHTTP      bool
	insecure       bool
	caFile         string
	registryConfig string
	verbose        bool

	// stdinPassword is what --password-stdin read: stdin is read once,
	// however many registries the command connects to.
	stdinPassword *string
	// userHost is the registry --username was used for: a command that
	// reaches two (copy) must not send one registry's password to the
	// other.
	userHost string
}

// addFlags registers the connection and credential flags.
func (o *remoteOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.username, "username", "u", "", "user name for the registry (with --password or --password-stdin)")
	fs.StringVarP(&o.password, "password", "p", "", "password or token (prefer --password-stdin: arguments show in process lists)")
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password or token from stdin")
	fs.BoolVar(&o.plainHTTP, "plain-http", false, "use http instead of https, as for loopback hosts; credentials then travel in clear text")
	fs.BoolVar(&o.insecure, "insecure", false, "use https, loopback hosts too, but skip verifying the server's certificate")
	fs.StringVar(&o.caFile, "ca-file", "", "trust the PEM certificates in this file, beside the system's; loopback hosts then use https too")
	fs.StringVar(&o.registryConfig, "registry-config", "", "docker config.json to read credentials from (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print each HTTP exchange on stderr (never credentials)")
}

// session is a client for one registry and what the user should be told
// about how it connects.
type session struct {
	client *acr.Client
	host   string
	// cred names the credential that was tried, for error messages.
	cred string
	// credSource explains where the credential came from, or why none was
	// found, for error messages.
	credSource string
	entra      *entraCredential
	scheme     string
	// loginFix replaces the advice to log in: for acrctl login itself, and
	// for credentials given with --username.
	loginFix string
	// ref is the reference the command works on, when it has one.
	ref *acr.Reference
	// command is the command's path ("acrctl tag update"), for advice.
	command string
	// tlsFlag is --ca-file or --insecure when one of them, not the host,
	// made a loopback host use https.
	tlsFlag string
	// caFile is --ca-file, and plainHTTP records --plain-http, for advice.
	caFile    string
	plainHTTP bool
	// certsDir is the certs.d directory whose certificates the session
	// trusts, when no TLS flag is given (see certsDirs).
	certsDir string
	// stored records that the credential is one stored for the host
	// (config.json or a credential helper), which login can check again.
	stored bool
}

// connectRef is connect for a command that works on ref.
func (o *remoteOptions) connectRef(cmd *cobra.Command, ref acr.Reference) (*session, error) {
	s, err := o.connect(cmd, ref.Registry)
	if err != nil {
		return nil, err
	}
	s.ref = &ref
	return s, nil
}

// connect builds a client for host from the flags: scheme, TLS, logging and
// the first credential that applies, in this order: --username,
// docker's config.json (acrctl login, docker login, oras login, az acr
// login), Entra ID for *.azurecr.* hosts, anonymous.
func (o *remoteOptions) connect(cmd *cobra.Command, host string) (*session, error) {
	s := &session{host: host, scheme: "https", command: cmd.CommandPath(), caFile: o.caFile, plainHTTP: o.plainHTTP}
	if !o.plainHTTP && !o.insecure && o.caFile == "" {
		s.certsDir = hostCertsDir(host)
	}
	if (isLoopbackHost(host) && !o.insecure && o.caFile == "" && s.certsDir == "") || o.plainHTTP {
		s.scheme = "http"
	}
	if isLoopbackHost(host) && s.scheme == "https" {
		s.tlsFlag = "--insecure"
		if o.caFile != "" {
			s.tlsFlag = "--ca-file"
		}
	}
	if o.plainHTTP && (o.insecure || o.caFile != "") {
		return nil, usageError{errors.New("--plain-http turns TLS off, so --insecure and --ca-file do not apply: pass one or the other")}
	}
	opts := &acr.ClientOptions{UserAgent: "acrctl", AllowInsecure: o.plainHTTP, Audience: audienceFor(host),
		TracingProvider: tracingProvider(cmd.Context())}
	if o.insecure || o.caFile != "" {
		conf, err := o.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = conf
	}
	if s.certsDir != "" {
		conf, err := certsDirConfig(s.certsDir)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = conf
	}
	if o.verbose {
		opts.Logger = verboseLogger(cmd.ErrOrStderr())
	} else {
		opts.Logger = slog.New(noticeHandler{w: cmd.ErrOrStderr()})
	}
	cred, err := o.credential(cmd, s)
	if err != nil {
		return nil, err
	}
	c, err := acr.NewClient(s.scheme+"://"+host, cred, opts)
	if err != nil {
		return nil, err
	}
	s.client = c
	if ctx := cmd.Context(); ctx != nil {
		if open, ok := ctx.Value(sessionsKey{}).(*openSessions); ok {
			open.add(s)
		}
	}
	return s, nil
}

// sessionsKey is the context key of a run's openSessions.
type sessionsKey struct{}

// openSessions are the sessions a run connected, drained before it ends so
// that an interrupted push cancels its upload sessions on the registry.
type openSessions struct {
	mu   sync.Mutex
	list []*session
}

func (o *openSessions) add(s *session) {
	o.mu.Lock()
	o.list = append(o.list, s)
	o.mu.Unlock()
}

// drain waits up to timeout for every session's background work (the
// cancelling of abandoned upload sessions).
func (o *openSessions) drain(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.list {
		s.client.Drain(ctx)
	}
}

// tlsConfig returns the TLS configuration of --insecure or --ca-file.
func (o *remoteOptions) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.insecure {
		conf.InsecureSkipVerify = true
	}
	if o.caFile != "" {
		pool, err := rootsWith(o.caFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--ca-file %w", err)}
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// readPassword returns --password, or reads stdin for --password-stdin.
func (o *remoteOptions) readPassword(cmd *cobra.Command) (string, error) {
	if o.password != "" && o.passwordStdin {
		return "", usageError{errors.New("--password and --password-stdin both given: pass one")}
	}
	if !o.passwordStdin {
		return o.password, nil
	}
	if o.stdinPassword != nil {
		return *o.stdinPassword, nil
	}
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
	if err != nil {
		return "", fmt.Errorf("--password-stdin: reading stdin: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", usageError{errors.New("--password-stdin: stdin was empty; pipe the password in, e.g. acrctl login HOST -u NAME --password-stdin < password.txt")}
	}
	o.stdinPassword = &p
	return p, nil
}

// credential picks the credential for s.host and records its name.
func (o *remoteOptions) credential(cmd *cobra.Command, s *session) (acr.Credential, error) {
	if o.username == "" && (o.password != "" || o.passwordStdin) {
		return nil, usageError{errors.New("--password and --password-stdin need --username")}
	}
	if o.username != "" {
		if o.password == "" && !o.passwordStdin {
			return nil, usageError{errors.New("--username needs --password or --password-stdin")}
		}
		if o.userHost != "" && !strings.EqualFold(o.userHost, s.host) {
			return nil, usageError{fmt.Errorf("--username gives the credentials of one registry, and this command reaches two, %s and %s: "+
				"acrctl sends a credential only to the registry it is for; fix: drop --username and store each registry's credentials "+
				"with acrctl login HOST -u NAME --password-stdin (in a pipeline that keeps no state, export DOCKER_CONFIG=\"$(mktemp -d)\" first)",
				o.userHost, s.host)}
		}
		o.userHost = s.host
		p, err := o.readPassword(cmd)
		if err != nil {
			return nil, err
		}
		s.cred = fmt.Sprintf("user %q from --username", o.username)
		s.loginFix = "check the user name and password given with --username (acrctl login " + s.host + " stores ones that work)"
		return acr.BasicCredential(o.username, p), nil
	}
	path, err := o.configPath()
	if err != nil {
		return nil, err
	}
	cfg, err := dockerconfig.Load(path)
	if err != nil {
		return nil, err
	}
	if h := cfg.CredHelpers[s.host]; h != "" {
		s.cred = "the credential helper " + dockerconfig.HelperPrefix + h + " that " + path + " names for " + s.host
		s.stored = true
		return acr.DockerConfigCredential(path)
	}
	if cfg.HasCredentials(s.host) {
		s.stored = true
		s.cred = "the credentials stored for " + s.host + " in " + path
		if cfg.CredsStore != "" {
			s.cred = "the credentials stored for " + s.host + " in " + dockerconfig.HelperPrefix + cfg.CredsStore + " (credsStore in " + path + ")"
		}
		return acr.DockerConfigCredential(path)
	}
	if isAzureHost(s.host) {
		e, err := newEntraCredential(s.host)
		if err != nil {
			return nil, err
		}
		s.entra = e
		s.cred = "Entra ID (DefaultAzureCredential: environment, workload identity, managed identity, az login)"
		return acr.TokenCredential(e), nil
	}
	if cfg.CredsStore != "" {
		// The store may know the host without config.json naming it.
		s.cred = "the credential store " + dockerconfig.HelperPrefix + cfg.CredsStore + " named in " + path
		return acr.DockerConfigCredential(path)
	}
	s.cred = "anonymous access"
	s.credSource = "no credentials stored for it in " + path
	return nil, nil
}

// configPath is --registry-config or docker's default.
func (o *remoteOptions) configPath() (string, error) {
	if o.registryConfig != "" {
		return o.registryConfig, nil
	}
	p, err := dockerconfig.DefaultPath()
	if err != nil {
		return "", fmt.Errorf("locate docker's config.json (set DOCKER_CONFIG or pass --registry-config): %w", err)
	}
	return p, nil
}

// noticeHandler prints the client's Info records without -v: a retry that
// waits a second or more (a registry throttling, which may ask for a
// minute), so that a command does not hang without a word.
type noticeHandler struct {
	w     io.Writer
	attrs []slog.Attr
}

func (h noticeHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h noticeHandler) Handle(_ context.Context, r slog.Record) error {
	at := map[string]slog.Value{}
	for _, a := range h.attrs {
		at[a.Key] = a.Value
	}
	r.Attrs(func(a slog.Attr) bool { at[a.Key] = a.Value; return true })
	line := r.Message
	if r.Message == "retry" {
		reason := strings.TrimPrefix(at["reason"].String(), "transport: ")
		if reason != "" && reason[0] >= '1' && reason[0] <= '5' { // a status line: name who answered it
			host := at["url"].String()
			if u, err := url.Parse(host); err == nil && u.Host != "" {
				host = u.Host
			}
			reason = host + " answered " + reason
		}
		line = fmt.Sprintf("retrying in %s (Ctrl-C stops): %s", at["delay"].Duration().Round(time.Second), reason)
	}
	_, err := fmt.Fprintf(h.w, "acrctl: %s\n", line)
	return err
}

func (h noticeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return noticeHandler{w: h.w, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h noticeHandler) WithGroup(string) slog.Handler { return h }

// verboseLogger prints the client's debug records, one per HTTP exchange.
func verboseLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		}}))
}

// scopeMapHint names the ACR scope-map actions that grant a token scope
// such as "repository:app:pull,push", for permission errors.
func scopeMapHint(scope string) string {
	names := map[string]string{"pull": "content/read", "push": "content/write", "delete": "content/delete",
		"metadata_read": "metadata/read", "metadata_write": "metadata/write"}
	var acts []string
	for _, sc := range strings.Fields(scope) {
		i := strings.LastIndexByte(sc, ':')
		if !strings.HasPrefix(sc, "repository:") || i < 0 {
			continue
		}
		for _, a := range strings.Split(sc[i+1:], ",") {
			if n, ok := names[a]; ok && !slices.Contains(acts, n) {
				acts = append(acts, n)
			}
		}
	}
	if len(acts) == 0 {
		if strings.Contains(scope, "registry:catalog:") {
			return "; repository-scoped tokens never list the catalog"
		}
		return ""
	}
	return "; in a scope map: " + strings.Join(acts, ", ")
}

// headToHTTPS reports whether err is a 400 to a plain-http HEAD from a
// loopback server that speaks https: Go's TLS servers answer plain http
// with 400 and a body that says so, but a HEAD answer has no body, so the
// server is asked once more with a GET.
func (s *session) headToHTTPS(err error) bool {
	var re *acr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || re.Method != http.MethodHead ||
		s.scheme != "http" || !isLoopbackHost(s.host) {
		return false
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, gerr := hc.Get("http://" + s.host + "/v2/")
	if gerr != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode == http.StatusBadRequest && strings.Contains(string(b), "Client sent an HTTP request to an HTTPS server")
}

// isLoopbackHost reports whether host[:port] names this machine.
func isLoopbackHost(hostport string) bool { return transport.IsLoopbackHost(hostport) }

// azureClouds maps ACR login server suffixes to their cloud and audience.
var azureClouds = []struct {
	suffix   string
	audience string
	cloud    cloud.Configuration
}{
	{".azurecr.io", acr.AudienceAzurePublic, cloud.AzurePublic},
	{".azurecr.cn", acr.AudienceAzureChina, cloud.AzureChina},
	{".azurecr.us", acr.AudienceAzureGovernment, cloud.AzureGovernment},
}

func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(hostport)
}

// isAzureHost reports whether host is an ACR login server.
func isAzureHost(host string) bool {
	h := hostname(host)
	for _, c := range azureClouds {
		if strings.HasSuffix(h, c.suffix) {
			return true
		}
	}
	return false
}

// audienceFor returns the Entra ID audience of host's cloud, or "" (the
// library's default) for other hosts.
func audienceFor(host string) string {
	h := hostname(host)
	for _, c := range azureClouds {
		if strings.HasSuffix(h, c.suffix) {
			return c.audience
		}
	}
	return ""
}

// entraCredential wraps DefaultAzureCredential and remembers its last
// failure, so that the CLI can say that Entra ID sign-in, not the
// registry, failed.
type entraCredential struct {
	cred azcore.TokenCredential
	mu   sync.Mutex
	err  error
}

func newEntraCredential(host string) (*entraCredential, error) {
	var o azidentity.DefaultAzureCredentialOptions
	if os.Getenv("AZURE_AUTHORITY_HOST") == "" {
		h := hostname(host)
		for _, c := range azureClouds {
			if strings.HasSuffix(h, c.suffix) {
				o.ClientOptions.Cloud = c.cloud
			}
		}
	}
	cred, err := azidentity.NewDefaultAzureCredential(&o)
	if err != nil {
		//lint:ignore ST1005 Entra ID is a product name, capitalised wherever it stands.
		return nil, fmt.Errorf("Entra ID: %w; run az login, or acrctl login %s -u NAME --password-stdin", err, host)
	}
	return &entraCredential{cred: cred}, nil
}

func (e *entraCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := e.cred.GetToken(ctx, opts)
	e.mu.Lock()
	e.err = err
	e.mu.Unlock()
	return tok, err
}

func (e *entraCredential) lastErr() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// explain turns a failure of a registry call into one line that names the
// problem and the fix.
func (s *session) explain(err error) error {
	if err == nil {
		return nil
	}
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	login := fmt.Sprintf("run acrctl login %s (or pass --username with --password-stdin)", s.host)
	var helperMissing *dockerconfig.HelperMissingError
	if e := s.entra.lastErr(); e != nil {
		//lint:ignore ST1005 Entra ID is a product name, capitalised wherever it stands.
		return fmt.Errorf("Entra ID sign-in failed, so %s could not be reached with %s: %s; fix: run az login (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET), or %s",
			s.host, s.cred, firstLines(e.Error(), 3), login)
	}
	switch {
	case errors.As(err, &helperMissing):
		return fmt.Errorf("docker's config names the credential helper %s for %s, and it is not on PATH; fix: install it "+
			"(for acrctl's own Entra ID helper: acrctl login %s --entra), or remove its credHelpers or credsStore entry from config.json",
			helperMissing.Program, s.host, s.host)
	case errors.Is(err, acr.ErrInvalidReference):
		return usageError{err}
	case errors.Is(err, acr.ErrInsufficientScope) && s.cred != "anonymous access":
		// The credential was accepted; signing in again changes nothing.
		needs, what := "", ""
		var re *acr.ResponseError
		if errors.As(err, &re) {
			what = ": " + re.Method + " " + re.URL
			if re.MissingScope != "" {
				needs = " (it needs " + re.MissingScope + scopeMapHint(re.MissingScope) + ")"
			}
		}
		return fmt.Errorf("permission denied: %s accepted %s but its rights do not cover this%s%s; fix: use a credential whose role or token scope map allows it",
			s.host, s.cred, needs, what)
	case errors.Is(err, acr.ErrUnauthorized):
		msg := fmt.Sprintf("authentication failed: %s refused %s", s.host, s.cred)
		if s.credSource != "" {
			msg += " (" + s.credSource + ")"
		}
		fix := login
		if s.loginFix != "" {
			fix = s.loginFix
		}
		return fmt.Errorf("%s: %s; fix: %s", msg, registrySaid(err, false), fix)
	case errors.Is(err, acr.ErrForbidden):
		return fmt.Errorf("permission denied: %s accepted %s but it may not do this; fix: use a credential with the needed role or token scope. Details: %v", s.host, s.cred, err)
	case errors.Is(err, acr.ErrNotSupported):
		return fmt.Errorf("%w; fix: %s", err, notSupportedFix(s))
	case errors.Is(err, acr.ErrNotFound) && s.ref != nil:
		what, fix := s.ref.String(), "check the name"
		var re *acr.ResponseError
		switch {
		case s.ref.Digest != "":
			fix = fmt.Sprintf("check the digest; acrctl manifest list %s/%s lists the manifests", s.ref.Registry, s.ref.Repository)
		case s.ref.Tag != "" && errors.As(err, &re) && re.HasCode("NAME_UNKNOWN"):
			fix = fmt.Sprintf("check the repository name; acrctl repo list %s lists them", s.ref.Registry)
		case s.ref.Tag != "":
			fix = fmt.Sprintf("check the tag; acrctl tag list %s/%s lists the tags", s.ref.Registry, s.ref.Repository)
		default:
			fix = fmt.Sprintf("check the repository name; acrctl repo list %s lists them", s.ref.Registry)
		}
		return absentError{fmt.Errorf("%s not found: %s; fix: %s", what, registrySaid(err, true), fix)}
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		if s.certsDir != "" {
			return fmt.Errorf("the TLS certificate of %s is not trusted: %v; fix: the .crt files in %s do not hold the certificate that signed it: put that one there, or pass --ca-file CERT.pem or --insecure", s.host, rootCause(err), s.certsDir)
		}
		if s.caFile != "" {
			return fmt.Errorf("the TLS certificate of %s is not trusted: %v; fix: --ca-file %s does not hold the certificate that signed it: pass that one (acrctl serve prints its own as \"certificate: PATH\"), or --insecure to skip the check", s.host, rootCause(err), s.caFile)
		}
		return fmt.Errorf("the TLS certificate of %s is not trusted: %v; fix: --ca-file CERT.pem to trust its certificate, or --insecure to skip the check", s.host, rootCause(err))
	case errors.Is(err, syscall.ECONNREFUSED):
		fix := "check the host and port"
		if isLoopbackHost(s.host) {
			fix = "start one with: acrctl serve --addr " + s.host
			if s.scheme == "https" {
				fix += " --tls-self-signed"
			}
		}
		return fmt.Errorf("cannot connect to %s: nothing listens there (%s://%s); fix: %s", s.host, s.scheme, s.host, fix)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		if s.certsDir != "" {
			return fmt.Errorf("%s speaks plain http, and the certificate in %s asks for https; fix: pass --plain-http, or remove that directory", s.host, s.certsDir)
		}
		if s.tlsFlag != "" && s.command == "acrctl copy" {
			// The flags apply to both ends, and --plain-http would turn
			// TLS off for the other one too.
			return fmt.Errorf("%s speaks plain http, and %s makes acrctl use https for both registries of the copy; fix: trust the TLS registry's certificate through certs.d instead of the flag (see acrctl serve --help), or copy in two steps through a layout: acrctl copy SRC oci:DIR:TAG with the TLS flags, then acrctl copy oci:DIR:TAG DST without them", s.host, s.tlsFlag)
		}
		if s.tlsFlag != "" {
			return fmt.Errorf("%s speaks plain http, and %s asks for https; fix: drop %s", s.host, s.tlsFlag, s.tlsFlag)
		}
		return fmt.Errorf("%s speaks plain http, not https; fix: add --plain-http", s.host)
	case (strings.Contains(err.Error(), "Client sent an HTTP request to an HTTPS server") || s.headToHTTPS(err)) && s.plainHTTP:
		fix := "drop --plain-http"
		if isLoopbackHost(s.host) {
			fix += ", and pass --ca-file CERT.pem (or --insecure) to use https"
		}
		return fmt.Errorf("%s speaks https, and --plain-http asks for plain http; fix: %s", s.host, fix)
	case strings.Contains(err.Error(), "Client sent an HTTP request to an HTTPS server") || s.headToHTTPS(err):
		return fmt.Errorf("%s speaks https, and loopback hosts get plain http by default; fix: pass --ca-file CERT.pem (or --insecure) to use https, or, for every command, put the certificate in %s", s.host, filepath.Join(userCertsDir(), s.host, "ca.crt"))
	case strings.Contains(err.Error(), "malformed HTTP response"):
		return fmt.Errorf("%s did not answer http (it may speak https); fix: drop --plain-http, or pass --insecure or --ca-file for a loopback TLS registry", s.host)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("cannot resolve %s: %v; fix: check the registry name", s.host, dnsErr)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("%s did not answer in time: %v; fix: check the network, or retry", s.host, err)
	}
	return err
}

// registrySaid extracts the registry's own explanation from a failed call:
// the first OCI error message of a response, or the token endpoint's
// answer, without the URL and the library's generic advice; with the
// request id, which ACR support asks for, when withID.
func registrySaid(err error, withID bool) string {
	msg := err.Error()
	if i := strings.Index(msg, "token request to "); i >= 0 {
		if j := strings.Index(msg[i:], " answered "); j >= 0 {
			said := msg[i+j+len(" answered "):]
			if k := strings.Index(said, " (credential: "); k > 0 {
				said = said[:k]
			}
			return "its token endpoint answered " + strings.TrimSuffix(said, ".")
		}
	}
	var re *acr.ResponseError
	if errors.As(err, &re) && len(re.Errors) > 0 {
		// The registry's sentence goes inside acrctl's: its full stop
		// would end it before "; fix:".
		msg := fmt.Sprintf("%d %s: %s", re.StatusCode, re.Errors[0].Code, strings.TrimSuffix(re.Errors[0].Message, "."))
		if withID && re.RequestID != "" {
			msg += " (request id " + re.RequestID + ")"
		}
		return msg
	}
	if i := strings.Index(msg, " (credential: "); i > 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, " (acr: unauthorized; credential: "); i > 0 {
		msg = msg[:i]
	}
	return strings.TrimSuffix(msg, ".")
}

// rootCause returns the innermost wrapped error.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// firstLines joins the first n non-empty lines of s.
func firstLines(s string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Trim(l, "-") == "" {
			continue
		}
		out = append(out, l)
		if len(out) == n {
			break
		}
	}
	return strings.Join(out, " ")
}

// notSupportedFix says, for a command that needs ACR's /acr/v1 API, which
// command does the nearest thing on any registry.
func notSupportedFix(s *session) string {
	const acrOnly = "this command needs Azure Container Registry (or acrctl serve); on this registry "
	switch {
	case strings.HasSuffix(s.command, " update"):
		return "lock flags exist only on Azure Container Registry (and acrctl serve): this registry has none to change"
	case strings.HasSuffix(s.command, "-deleted") || strings.HasSuffix(s.command, " restore"):
		return "soft delete exists only on Azure Container Registry (and acrctl serve --soft-delete): this registry keeps no deletions to list or restore"
	case s.ref == nil || s.ref.Repository == "":
		return acrOnly + fmt.Sprintf("acrctl repo list %s lists the repositories", s.host)
	case s.ref.Tag == "" && s.ref.Digest == "":
		return acrOnly + fmt.Sprintf("acrctl tag list %s/%s lists the tags by name", s.ref.Registry, s.ref.Repository)
	}
	return acrOnly + fmt.Sprintf("acrctl manifest get %s prints the manifest, and acrctl tag list %s/%s lists the tags by name", s.ref, s.ref.Registry, s.ref.Repository)
}
