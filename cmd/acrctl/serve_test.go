package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acrgo/acr"
)

// TestServeRedirectsBlobsToStorage runs `acrctl serve --storage-addr` and
// checks, through the library, that blob downloads are redirected to the
// storage listener, succeed there without the registry's credentials, and
// are refused when the credentials come along.
func TestServeRedirectsBlobsToStorage(t *testing.T) {
	bin := buildAcrctl(t)
	_, base := startServe(t, bin, "--memory", "--user", "admin:s3cret", "--storage-addr", "127.0.0.1:0")
	client, err := acr.NewClient(strings.TrimPrefix(base, "http://"), acr.BasicCredential("admin", "s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20)
	rand.Read(data)
	desc, err := client.UploadBlob(t.Context(), "app", bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := client.DownloadBlob(t.Context(), "app", desc.Digest, nil)
	if err != nil {
		t.Fatalf("download through the redirect: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes (%v), want the %d uploaded", len(got), err, len(data))
	}

	// By hand: the registry redirects to another port, which refuses the
	// registry's credentials.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v2/app/blobs/"+desc.Digest.String(), nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, "http://127.0.0.1:") || strings.HasPrefix(loc, base) {
		t.Fatalf("GET blob: %d to %q, want 307 to the storage listener", resp.StatusCode, loc)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, loc, nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("storage answered %d to a request with the registry's credentials, want 403", resp.StatusCode)
	}
}

// TestServeStorageAddrNeedsReachableHost: redirects name the storage
// address, so a wildcard or empty host is refused.
func TestServeStorageAddrNeedsReachableHost(t *testing.T) {
	for _, addr := range []string{":5001", "0.0.0.0:5001", "[::]:5001", "5001"} {
		acrctl(t, "", "serve", "--memory", "--addr", "127.0.0.1:0", "--storage-addr", addr).fails(t, 2, "--storage-addr", "clients can reach")
	}
}

// TestServeBadAddrAndData: an --addr that is not HOST:PORT is a usage
// error (exit 2) caught before the data directory is created, and a --data
// that is a file, or a --tls-cert that is not one, names the fix.
func TestServeBadAddrAndData(t *testing.T) {
	dir := t.TempDir()
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http2", "localhost:-1"} {
		data := filepath.Join(dir, "never")
		acrctl(t, "", "serve", "--data", data, "--addr", addr).fails(t, 2, "--addr "+addr, "want HOST:PORT", "127.0.0.1:5000")
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("--addr %s: the data directory was created before the address was checked", addr)
		}
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	acrctl(t, "", "serve", "--data", file, "--addr", "127.0.0.1:0").fails(t, 1, "--data "+file+" is a file", "fix: name a directory")
	acrctl(t, "", "serve", "--memory", "--addr", "127.0.0.1:0", "--tls-cert", file, "--tls-key", file).fails(t, 1, "load TLS certificate", "fix: ", "--tls-self-signed")
}

// TestServeSaysWhereDataLives: serve names its data directory, the
// default one too, or says that --memory keeps nothing, so that a newcomer
// knows what survives a restart.
func TestServeSaysWhereDataLives(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_DATA_HOME", xdg)
	r := startRun(t, "serve", "--addr", "127.0.0.1:0")
	if got, want := r.line(t, "data in "), filepath.Join(xdg, "acrctl", "registry"); !strings.HasPrefix(got, want+" ") && got != want {
		t.Errorf("data in %q, want %s", got, want)
	}
	r.stop()
	r = startRun(t, "serve", "--addr", "127.0.0.1:0", "--memory")
	if got := r.line(t, "data in "); !strings.Contains(got, "memory") || !strings.Contains(got, "nothing persists") {
		t.Errorf("data in %q, want memory and that nothing persists", got)
	}
}

// TestServeSelfSignedMemoryLeavesNothing: with --memory the self-signed
// certificate lives in a temporary directory that a clean shutdown removes.
func TestServeSelfSignedMemoryLeavesNothing(t *testing.T) {
	bin := buildAcrctl(t)
	tmp := t.TempDir()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--memory", "--tls-self-signed")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var cert string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if c, ok := strings.CutPrefix(sc.Text(), "certificate: "); ok {
			cert = c
		}
		if strings.HasPrefix(sc.Text(), "listening on https://") {
			break
		}
	}
	if !strings.HasPrefix(cert, tmp) {
		t.Fatalf("certificate %q is not under TMPDIR %s", cert, tmp)
	}
	if _, err := os.Stat(cert); err != nil {
		t.Fatalf("the certificate is not there while serving: %v", err)
	}
	go io.Copy(io.Discard, out)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

// TestServeExposureWarnings: serving beyond loopback without any auth
// option, or with credentials over plain http, is warned about.
func TestServeExposureWarnings(t *testing.T) {
	any := &net.TCPAddr{IP: net.IPv4zero, Port: 5000}
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	if ws := exposureWarnings(any, serveFlags{}, false); len(ws) != 1 || !strings.Contains(ws[0], "open registry") {
		t.Errorf("open on 0.0.0.0: %q", ws)
	}
	if ws := exposureWarnings(any, serveFlags{users: []string{"a:b"}}, false); len(ws) != 1 || !strings.Contains(ws[0], "clear text") {
		t.Errorf("users over http on 0.0.0.0: %q", ws)
	}
	if ws := exposureWarnings(any, serveFlags{users: []string{"a:b"}}, true); len(ws) != 0 {
		t.Errorf("users over TLS on 0.0.0.0: %q", ws)
	}
	if ws := exposureWarnings(loop, serveFlags{}, false); len(ws) != 0 {
		t.Errorf("open on loopback: %q", ws)
	}
}

// TestServeAddrFile runs serve as a CI pipeline does: in the background on
// a free port, its output unread, waiting for --addr-file to learn the port;
// then it trusts the self-signed certificate from the data directory, uses
// the registry with its user, stops it with SIGTERM and finds the file gone.
func TestServeAddrFile(t *testing.T) {
	bin := buildAcrctl(t)
	dir := t.TempDir()
	addrFile, data := filepath.Join(dir, "registry.addr"), filepath.Join(dir, "registry")
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile, "--data", data,
		"--tls-self-signed", "--user", "ci:s3cret")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 20s", addrFile)
		}
		b, err := os.ReadFile(addrFile)
		if err == nil {
			if !strings.HasSuffix(string(b), "\n") {
				t.Fatalf("%s holds %q: want one whole line", addrFile, b)
			}
			addr = strings.TrimSuffix(string(b), "\n")
		}
	}
	if h, p, err := net.SplitHostPort(addr); err != nil || h != "127.0.0.1" || p == "0" {
		t.Fatalf("%s holds %q, want 127.0.0.1:PORT with the port chosen", addrFile, addr)
	}
	pem, err := os.ReadFile(filepath.Join(data, "tls", "cert.pem"))
	if err != nil {
		t.Fatalf("the help's certificate path: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("cert.pem holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	client, err := acr.NewClient("https://"+addr, acr.BasicCredential("ci", "s3cret"), &acr.ClientOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.UploadBlob(t.Context(), "app", strings.NewReader("hello"), nil); err != nil {
		t.Fatalf("upload as soon as the address file appeared: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v, want exit status 0", err)
	}
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Errorf("%s is still there after the server stopped (%v)", addrFile, err)
	}
}

// TestServeAddrFileDirectoryMissing: an --addr-file that cannot be written
// is refused before anything starts, naming the directory to create.
func TestServeAddrFileDirectoryMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such")
	acrctl(t, "", "serve", "--memory", "--addr", "127.0.0.1:0", "--addr-file", filepath.Join(missing, "addr")).
		fails(t, 2, "--addr-file", missing+" does not exist", "create it first")
}

// TestServeAddrFileAfterOutput: with --memory the certificate's path is
// known only from serve's output, which a pipeline sends to a file; when
// the address file appears, that line is in it.
func TestServeAddrFileAfterOutput(t *testing.T) {
	bin := buildAcrctl(t)
	dir := t.TempDir()
	addrFile, logFile := filepath.Join(dir, "registry.addr"), filepath.Join(dir, "serve.log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "serve", "--memory", "--addr", "127.0.0.1:0", "--addr-file", addrFile, "--tls-self-signed")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(addrFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 20s", addrFile)
		}
	}
	out, _ := os.ReadFile(logFile)
	var cert string
	for _, l := range strings.Split(string(out), "\n") {
		if c, ok := strings.CutPrefix(l, "certificate: "); ok {
			cert = c
		}
	}
	if cert == "" {
		t.Fatalf("no certificate line in the output when the address file appeared:\n%s", out)
	}
	if _, err := os.Stat(cert); err != nil {
		t.Errorf("the printed certificate: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v, want exit status 0", err)
	}
}
