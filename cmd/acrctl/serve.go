package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/atomicfile"
	"github.com/spf13/cobra"
)

type serveFlags struct {
	addr          string
	addrFile      string
	data          string
	memory        bool
	users         []string
	scopeMaps     []string
	aadTokens     []string
	passwordStdin bool
	anonymousPull bool
	tlsCert       string
	tlsKey        string
	tlsSelfSigned bool
	storageAddr   string
	softDelete    float64
	throttle      float64
	failRate      float64
	latency       time.Duration
	verbose       bool
	noConsole     bool
	allowHosts    []string
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a local ACR-compatible OCI registry",
		Long: `Serve a local registry that speaks the OCI distribution spec v1.1 and Azure Container
Registry's /acr/v1 and /oauth2 APIs, so that the Azure SDKs, docker, oras, crane and
regctl work against it unchanged. State persists in --data (default: a per-user data
directory) or lives in memory with --memory.

Authentication is off unless --user, --aad-token or --anonymous-pull is given; then
clients get ACR's bearer challenge and exchange credentials at /oauth2/token.

Secrets on the command line (--user NAME:PASSWORD, --aad-token TOKEN) show in the
process list to every user of the machine. Give --user NAME and --aad-token - instead,
with --password-stdin: stdin then holds one secret per line, the users' passwords in
the order of the flags, then the tokens, read to its end before the server starts.

--scope-map limits a --user to some repositories and actions, as ACR's repository-scoped
tokens with scope maps are limited, so a pipeline can be tried with exactly the rights it
will have on ACR. Actions are ACR's: content/read, content/write, content/delete,
metadata/read, metadata/write; pushing needs content/read too. Such a user cannot list
the catalog, as on ACR.

With --storage-addr, blob downloads are redirected (307) to a second listener that plays
Azure Storage, as ACR redirects them: signed URLs that expire, no registry credentials
accepted there. Use it to test that a client follows those redirects and leaves its
registry token behind.

--soft-delete DAYS keeps deleted manifests and tags for that many days, listed and restored
through ACR's /acr/v1/_deleted endpoints (acrctl manifest restore, az acr manifest restore).

--throttle, --fail-rate and --latency inject ACR's throttling (429 with Retry-After and
x-ms-ratelimit-remaining-calls-per-second), failures (503s and cut connections) and slow
answers, so that a pipeline can prove it survives them.

Against web pages: on a loopback --addr (the default), the registry answers only to
localhost and loopback addresses in the Host header, so that a page whose name an attacker
points at 127.0.0.1 (DNS rebinding) gets 421 Misdirected Request; --allow-host NAME adds a
name. On another address (such as 0.0.0.0:5000, a deliberate network listen) clients reach
it under names serve cannot know, so Host is not checked unless --allow-host lists them
(then those, the --addr host and loopback names are served). Whatever the address, pushes
and deletes that a browser sends from another site's page (Sec-Fetch-Site: cross-site, or
a foreign Origin) get 403; docker, oras, crane, regctl and the Azure SDKs send neither.

Upload sessions that receive no bytes for 30 minutes are cancelled and their data removed.
Errors inside the server are answered without detail and logged to stderr.

The web console is served under /console/ on the same port (its URL is printed at start):
it browses this registry with the registry's own auth, so with --user it asks for a user
name and password. --no-console turns it off.

In a CI pipeline or a test script, start it in the background on a free port with
--addr 127.0.0.1:0 --addr-file FILE and wait until FILE exists: it then holds the
HOST:PORT served, the registry accepts connections, and the lines serve prints at start
are out. The file is removed when the server stops (not when it is killed: delete a
stale one before starting). SIGINT or SIGTERM stops the server cleanly, with exit status
0. With --tls-self-signed, clients trust the certificate printed as "certificate: PATH"
(DIR/tls/cert.pem with --data DIR): acrctl with --ca-file PATH, or, for every command and
for docker and podman too, copied to ~/.config/containers/certs.d/HOST:PORT/ca.crt
(/etc/docker/certs.d/HOST:PORT/ca.crt for docker).`,
		Example: `  acrctl serve --addr 127.0.0.1:5000 --memory
  acrctl serve --data ./registry --user admin --password-stdin < password.txt
  printf '%s\n' "$ADMIN_PASSWORD" "$ENTRA_TOKEN" | acrctl serve --user admin --aad-token - --password-stdin
  acrctl serve --tls-self-signed --user admin:s3cret --anonymous-pull   # a throwaway password
  acrctl serve --memory --user admin:s3cret --storage-addr 127.0.0.1:5001
  acrctl serve --memory --user ci:s3cret --scope-map 'ci=app:content/read,content/write' \
               --scope-map 'ci=team/*:content/read,metadata/read'
  acrctl serve --memory --throttle 50 --fail-rate 0.05 --latency 20ms
  rm -f registry.addr; acrctl serve --memory --addr 127.0.0.1:0 --addr-file registry.addr &
  until [ -s registry.addr ]; do kill -0 $! || exit 1; sleep 0.1; done; REGISTRY=$(cat registry.addr)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:5000", "address to listen on, HOST:PORT (port 0 picks a free one)")
	fl.StringVar(&f.addrFile, "addr-file", "", "write the HOST:PORT served to this file once listening (removed on stop), for --addr with port 0")
	fl.StringVar(&f.data, "data", "", "data directory (default: $XDG_DATA_HOME/acrctl/registry)")
	fl.BoolVar(&f.memory, "memory", false, "keep everything in memory; nothing persists")
	fl.StringArrayVar(&f.users, "user", nil, "accept Basic credentials NAME:PASSWORD, or NAME with the password from --password-stdin (repeatable)")
	fl.StringArrayVar(&f.scopeMaps, "scope-map", nil, "limit a --user to repositories and actions: NAME=REPO[*]:ACTION,... (repeatable)")
	fl.StringArrayVar(&f.aadTokens, "aad-token", nil, "accept this Entra ID access token at /oauth2/exchange; - reads it from --password-stdin (repeatable)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the passwords of --user NAME and the tokens of --aad-token - from stdin, one per line, users first (other local users see command lines, not stdin)")
	fl.BoolVar(&f.anonymousPull, "anonymous-pull", false, "let clients without credentials pull")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve TLS with this certificate file (with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "serve TLS with this key file (with --tls-cert)")
	fl.BoolVar(&f.tlsSelfSigned, "tls-self-signed", false, "serve TLS with a certificate for localhost written to the data directory")
	fl.StringVar(&f.storageAddr, "storage-addr", "", "redirect blob downloads to a storage endpoint on this HOST:PORT, as ACR does")
	fl.Float64Var(&f.softDelete, "soft-delete", 0, "keep deleted manifests and tags this many DAYS, listed and restored as ACR's soft delete does")
	fl.Float64Var(&f.throttle, "throttle", 0, "answer more than RATE requests per second with 429 and Retry-After, as ACR throttles")
	fl.Float64Var(&f.failRate, "fail-rate", 0, "fail this fraction of requests (0 to 1): half with 503, half with a cut connection")
	fl.DurationVar(&f.latency, "latency", 0, "delay every answer by this long")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log one line per request to stderr")
	fl.BoolVar(&f.noConsole, "no-console", false, "do not serve the web console under /console/")
	fl.StringArrayVar(&f.allowHosts, "allow-host", nil, "also answer to this host NAME in requests (repeatable); on a non-loopback --addr, check Host against these")
	cmd.MarkFlagsMutuallyExclusive("data", "memory")
	cmd.MarkFlagsRequiredTogether("tls-cert", "tls-key")
	cmd.MarkFlagsMutuallyExclusive("tls-cert", "tls-self-signed")
	return cmd
}

// checkListenAddr checks that addr is HOST:PORT with a numeric port that
// can be listened on, before anything is created.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// defaultDataDir is the per-user data directory of the local registry.
func defaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "acrctl", "registry"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the default data directory: pass --data DIR or --memory (%w)", err)
	}
	return filepath.Join(home, ".local", "share", "acrctl", "registry"), nil
}

func serve(ctx context.Context, cmd *cobra.Command, f serveFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.softDelete < 0 || f.softDelete > 90 {
		return usageError{fmt.Errorf("--soft-delete %g: want a number of days from 0 (off) to 90, ACR's longest retention", f.softDelete)}
	}
	switch {
	case f.throttle < 0 || math.IsNaN(f.throttle):
		return usageError{fmt.Errorf("--throttle %g: want requests per second, 0 (off) or more", f.throttle)}
	case f.failRate < 0 || f.failRate > 1 || math.IsNaN(f.failRate):
		return usageError{fmt.Errorf("--fail-rate %g: want a fraction of requests from 0 (off) to 1", f.failRate)}
	case f.latency < 0:
		return usageError{fmt.Errorf("--latency %v: want a duration of 0 (off) or more, such as 20ms", f.latency)}
	}
	if err := checkListenAddr(f.addr); err != nil {
		return usageError{fmt.Errorf("--addr %s: want HOST:PORT, such as 127.0.0.1:5000, with a port from 0 (a free one) to 65535: %v", f.addr, err)}
	}
	if f.addrFile != "" {
		if fi, err := os.Stat(filepath.Dir(f.addrFile)); err != nil || !fi.IsDir() {
			return usageError{fmt.Errorf("--addr-file %s: its directory %s does not exist; create it first, or name a file in one that does", f.addrFile, filepath.Dir(f.addrFile))}
		}
	}
	users, tokens, visible, err := serveSecrets(f, cmd.InOrStdin())
	if err != nil {
		return err
	}
	if visible {
		fmt.Fprintln(stderr, "warning: --user NAME:PASSWORD and --aad-token TOKEN show in the process list to every local user; prefer --user NAME and --aad-token - with --password-stdin")
	}
	opts := &emulator.Options{Users: users, AADTokens: tokens, AnonymousPull: f.anonymousPull,
		Throttle: f.throttle, FailRate: f.failRate, Latency: f.latency,
		SoftDeleteRetention: time.Duration(f.softDelete * float64(24*time.Hour))}
	for _, v := range f.scopeMaps {
		user, perm, err := parseScopeMap(v)
		if err != nil {
			return usageError{err}
		}
		if _, ok := opts.Users[user]; !ok {
			return usageError{fmt.Errorf("--scope-map %q: %q is not a --user: add --user %s with --password-stdin", v, user, user)}
		}
		if opts.ScopeMaps == nil {
			opts.ScopeMaps = map[string][]emulator.RepositoryPermission{}
		}
		opts.ScopeMaps[user] = append(opts.ScopeMaps[user], perm)
	}
	if f.verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	} else {
		// Internal errors are answered without their detail, which
		// names server paths: the operator finds it here.
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	dir := f.data
	if !f.memory {
		if dir == "" {
			var err error
			if dir, err = defaultDataDir(); err != nil {
				return err
			}
		}
		if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
			return fmt.Errorf("--data %s is a file; fix: name a directory (one that does not exist is created), or --memory", dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		opts.Dir = dir
		opts.DiskOptions = &store.DiskOptions{Converted: func(from, to int, took time.Duration) {
			fmt.Fprintf(stderr, "converted %s from layout %d to %d in %s; acrctl builds older than this one can no longer read it\n",
				filepath.Join(dir, "meta.db"), from, to, took.Round(time.Millisecond))
		}}
	}
	var tlsConf *tls.Config
	certFile, keyFile := f.tlsCert, f.tlsKey
	if f.tlsSelfSigned {
		certDir := dir
		if certDir == "" {
			// With --memory nothing else persists: the certificate lives
			// in a temporary directory removed when the server stops.
			var err error
			if certDir, err = os.MkdirTemp("", "acrctl-tls-"); err != nil {
				return err
			}
			defer os.RemoveAll(certDir)
		}
		var err error
		if certFile, keyFile, err = emulator.SelfSignedCertificate(certDir); err != nil {
			return fmt.Errorf("self-signed certificate: %w", err)
		}
		fmt.Fprintf(stdout, "certificate: %s\n", certFile)
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w; fix: give a PEM certificate with --tls-cert and its PEM key with --tls-key, or use --tls-self-signed", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	listen := func(flag, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w (pick another %s, or port 0 for a free one)", addr, err, flag)
		}
		if tlsConf != nil {
			ln = tls.NewListener(ln, tlsConf)
		}
		return ln, nil
	}
	var storageLn net.Listener
	if f.storageAddr != "" {
		// The address goes into the redirects' URLs: clients must be able
		// to reach it under that name.
		if h, _, err := net.SplitHostPort(f.storageAddr); err != nil || h == "" || net.ParseIP(h) != nil && net.ParseIP(h).IsUnspecified() {
			return usageError{fmt.Errorf("--storage-addr %q: want HOST:PORT with a host that clients can reach (such as 127.0.0.1:5001), since redirects name it", f.storageAddr)}
		}
		var err error
		if storageLn, err = listen("--storage-addr", f.storageAddr); err != nil {
			return err
		}
		defer storageLn.Close()
		opts.BlobStorageURL = scheme + "://" + storageLn.Addr().String()
	}
	ln, err := listen("--addr", f.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	// One decision guards the registry and the console against DNS
	// rebinding: a loopback listener answers only to loopback names (and
	// --allow-host); another checks Host only when told which names.
	loopback := isLoopback(ln.Addr())
	opts.CheckHost = loopback || len(f.allowHosts) > 0
	opts.AllowedHosts = f.allowHosts
	if h, _, _ := net.SplitHostPort(f.addr); h != "" && opts.CheckHost {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			opts.AllowedHosts = append(opts.AllowedHosts, h) // the name --addr gave
		}
	}
	srv, err := emulator.New(opts)
	if err != nil {
		if len(f.allowHosts) > 0 && strings.Contains(err.Error(), "AllowedHosts") {
			return usageError{fmt.Errorf("--allow-host: %v", err)}
		}
		return err
	}
	defer srv.Close()
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 1 << 20, TLSConfig: tlsConf}
	}
	var handler http.Handler = srv
	consoleURL := ""
	if !f.noConsole {
		// The console reaches the registry in process; the address only
		// names it, as clients do (a wildcard address is not one).
		self := servedAddr(ln.Addr())
		authOn := len(opts.Users) > 0 || len(opts.AADTokens) > 0
		if handler, err = mountConsole(srv, scheme+"://"+self, tlsConf != nil, serveAuth{authOn: authOn, loopbackOnly: loopback}); err != nil {
			return err
		}
		consoleURL = scheme + "://" + self + consoleMount
	}
	servers := []*http.Server{newServer(handler)}
	for _, w := range exposureWarnings(ln.Addr(), f, tlsConf != nil) {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	errc := make(chan error, 2)
	go func() { errc <- servers[0].Serve(ln) }()
	if storageLn != nil {
		servers = append(servers, newServer(srv.StorageHandler()))
		go func() { errc <- servers[1].Serve(storageLn) }()
		fmt.Fprintf(stdout, "storage on %s\n", opts.BlobStorageURL)
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())
	if consoleURL != "" {
		fmt.Fprintf(stdout, "console on %s\n", consoleURL)
	}
	if f.memory {
		fmt.Fprintln(stdout, "data in memory: nothing persists after the server stops")
	} else {
		fmt.Fprintf(stdout, "data in %s\n", dir)
	}
	if f.addrFile != "" {
		// Written whole or not at all, so that a script polling for it
		// never reads half an address; last, so that everything the
		// server prints at start is out when it appears.
		if err := atomicfile.WriteFile(f.addrFile, []byte(servedAddr(ln.Addr())+"\n"), 0o644); err != nil {
			for _, hs := range servers {
				hs.Close()
			}
			return fmt.Errorf("--addr-file: %w; fix: name a file in a directory that exists and is writable", err)
		}
		defer os.Remove(f.addrFile)
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) && serveErr == nil {
			serveErr = err
		}
	}
	if serveErr != nil {
		return serveErr
	}
	fmt.Fprintln(stderr, "stopped")
	return nil
}

// servedAddr is the HOST:PORT clients use to reach a listener on addr: a
// wildcard address (0.0.0.0, [::]) is reached as 127.0.0.1 on this machine.
func servedAddr(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	if ta.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(ta.Port))
	}
	return ta.String()
}

// exposureWarnings says what a server on addr exposes beyond this machine.
func exposureWarnings(addr net.Addr, f serveFlags, tls bool) []string {
	if isLoopback(addr) {
		return nil
	}
	var ws []string
	if !tls && (len(f.users) > 0 || len(f.aadTokens) > 0) {
		ws = append(ws, "credentials will cross the network in clear text; serve TLS (--tls-cert/--tls-key)")
	}
	if len(f.users) == 0 && len(f.aadTokens) == 0 && !f.anonymousPull {
		ws = append(ws, addr.String()+" serves an open registry beyond this machine: anyone who reaches it can push and delete; "+
			"add --user NAME with --password-stdin (or --anonymous-pull for read-only guests)")
	}
	return ws
}

func isLoopback(a net.Addr) bool {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	return false
}

// parseScopeMap parses a --scope-map value, NAME=REPO:ACTION[,ACTION...].
func parseScopeMap(v string) (string, emulator.RepositoryPermission, error) {
	user, rest, ok := strings.Cut(v, "=")
	i := strings.LastIndexByte(rest, ':')
	if !ok || user == "" || i <= 0 || i == len(rest)-1 {
		return "", emulator.RepositoryPermission{}, fmt.Errorf("--scope-map %q: want NAME=REPO:ACTION[,ACTION...], such as ci=app:content/read,content/write", v)
	}
	perm := emulator.RepositoryPermission{Repository: rest[:i], Actions: strings.Split(rest[i+1:], ",")}
	if err := perm.Validate(); err != nil {
		return "", perm, fmt.Errorf("--scope-map %q: %v", v, err)
	}
	return user, perm, nil
}

// redactUser hides the password part of a --user value in messages.
func redactUser(u string) string {
	name, _, ok := strings.Cut(u, ":")
	if !ok {
		return "***"
	}
	return name + ":***"
}
