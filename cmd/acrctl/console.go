package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/console"
	"github.com/spf13/cobra"
)

func newConsoleCmd() *cobra.Command {
	o := &remoteOptions{}
	var addr string
	var open bool
	cmd := &cobra.Command{
		Use:   "console HOST [--addr 127.0.0.1:PORT] [--open]",
		Short: "Browse a registry in a web console on this machine",
		Long: `Serve a web console for the registry HOST on this machine only (127.0.0.1): its
repositories with counts, sizes and dates, tags and manifests with their lock flags,
deletes that say exactly what goes, soft-deleted manifests to restore, a manifest's
layers, platforms, annotations, raw JSON and referrers tree, and the registry's storage.
On registries without ACR's /acr/v1 API it shows what the OCI API offers.

The console acts with your credentials for HOST, found as every other command finds them
(--username, docker's config.json, Entra ID for *.azurecr.io). They stay in this
process: the printed URL carries a random one-time token that signs one browser in with
a session cookie; the token then no longer works. The console lives under a random path
of that URL, to which the cookie is scoped: browsers send cookies to every port of a
host, and no other server on 127.0.0.1 gets this one. Stop the console with Ctrl-C.

'acrctl serve' has the console built in, under /console/ on the registry's own port.`,
		Example: `  acrctl console myregistry.azurecr.io
  acrctl console localhost:5000 --addr 127.0.0.1:8080 --open
  acrctl console registry.example.com -u me --password-stdin < password.txt`,
		Args:              exactArgs(1, "the registry HOST[:PORT]"),
		ValidArgsFunction: completeHosts(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := parseHost(args[0])
			if err != nil {
				return err
			}
			return runConsole(cmd, o, host, addr, open)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:0", "loopback address to serve the console on, 127.0.0.1:PORT or localhost:PORT (port 0 picks a free one)")
	fl.BoolVar(&open, "open", false, "open the URL in the default browser as well as printing it")
	o.addFlags(fl)
	return cmd
}

func runConsole(cmd *cobra.Command, o *remoteOptions, host, addr string, open bool) error {
	h, port, err := net.SplitHostPort(addr)
	if err == nil && strings.EqualFold(h, "localhost") {
		// The name every browser knows for this machine: served on
		// 127.0.0.1, which it resolves to.
		h, addr = "127.0.0.1", net.JoinHostPort("127.0.0.1", port)
	}
	if err != nil || net.ParseIP(h) == nil || !net.ParseIP(h).IsLoopback() {
		return usageError{fmt.Errorf("--addr %q: the console serves this machine only: give a loopback address such as 127.0.0.1:8080", addr)}
	}
	s, err := o.connect(cmd, host)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	// Fail now, with the fix, rather than on the first page.
	if err := s.client.Ping(ctx); err != nil {
		return s.explain(err)
	}
	// Served under a random path: browsers send a cookie to every port of
	// a host, so the session cookie, scoped to this path, goes to no other
	// server on 127.0.0.1 (another local user's, a dev server) that the
	// browser visits.
	var secret [16]byte
	rand.Read(secret[:])
	co := &console.Options{Client: s.client, LoopbackOnly: true, Prefix: "/" + base64.RawURLEncoding.EncodeToString(secret[:]) + "/"}
	if o.verbose {
		// Refused requests (a missing CSRF token, another host name) too.
		co.Logger = verboseLogger(cmd.ErrOrStderr())
	}
	cs, err := console.New(co)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pick another --addr, or port 0 for a free one)", addr, err)
	}
	hs := &http.Server{Handler: cs, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 1 << 20}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	u := "http://" + ln.Addr().String() + cs.Prefix() + "?token=" + cs.NewToken()
	fmt.Fprintf(cmd.OutOrStdout(), "console for %s on %s\n", host, u)
	fmt.Fprintln(cmd.ErrOrStderr(), "open the URL in a browser: it signs one browser in, once; Ctrl-C stops the console")
	if open {
		if err := openBrowser(u); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "could not open a browser (%v): open the URL by hand\n", err)
		}
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && serveErr == nil && !errors.Is(err, context.DeadlineExceeded) {
		serveErr = err
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// openBrowser asks the desktop to open u.
func openBrowser(u string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", u)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		c = exec.Command("xdg-open", u)
	}
	if err := c.Start(); err != nil {
		return err
	}
	go c.Wait()
	return nil
}

// consoleMount is the path acrctl serve mounts the console under.
const consoleMount = "/console/"

// mountConsole puts the console beside the registry reg on one handler.
// The console reaches the registry in process, as a client at base would,
// and uses the registry's own auth: with users, visitors sign in with one;
// without auth, everyone browses, as everyone may use the registry.
func mountConsole(reg http.Handler, base string, useTLS bool, opts serveAuth) (http.Handler, error) {
	hc := &http.Client{Transport: inProcess{reg, useTLS}}
	co := &console.Options{Prefix: consoleMount, LoopbackOnly: opts.loopbackOnly}
	newClient := func(cred acr.Credential) (*acr.Client, error) {
		return acr.NewClient(base, cred, &acr.ClientOptions{HTTPClient: hc, UserAgent: "acrctl-console"})
	}
	if opts.authOn {
		co.SignIn = func(ctx context.Context, user, pass string) (*acr.Client, error) {
			return newClient(acr.BasicCredential(user, pass))
		}
	} else {
		c, err := newClient(acr.AnonymousCredential())
		if err != nil {
			return nil, err
		}
		co.Client, co.Open = c, true
	}
	cs, err := console.New(co)
	if err != nil {
		return nil, err
	}
	// Dispatch on the raw prefix, not with a ServeMux: a ServeMux
	// redirects paths that are not clean (/v2/a//b, /v2/a/../b), which the
	// registry must refuse as invalid names, not forward elsewhere.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == consoleMount[:len(consoleMount)-1] || strings.HasPrefix(p, consoleMount) {
			cs.ServeHTTP(w, r)
			return
		}
		reg.ServeHTTP(w, r)
	}), nil
}

// serveAuth is what the console needs to know of serve: whether it has
// auth, and whether it listens on loopback only, where the console then
// refuses other host names (DNS rebinding).
type serveAuth struct{ authOn, loopbackOnly bool }

// inProcess serves the console's requests with the registry's handler
// directly, so the console needs neither the network nor the server's
// certificate. Its answers are buffered: the console reads manifests and
// listings, never blobs.
type inProcess struct {
	h   http.Handler
	tls bool
}

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	req := r.Clone(r.Context())
	req.RequestURI = r.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:0"
	if req.Host == "" {
		req.Host = r.URL.Host
	}
	if req.Body == nil {
		req.Body = http.NoBody
	}
	if t.tls {
		req.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}
