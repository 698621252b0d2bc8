package main

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParseListeners(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0
   1: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0500000A:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     7        0 3 1 0 100 0 0 10 0
   3: 0100007F:1388 0100007F:D431 01 00000000:00000000 00:00000000 00000000     9        0 4 1 0 100 0 0 10 0
   4: 0100007F:1389 00000000:0000 0A 00000000:00000000 00:00000000 00000000    11        0 5 1 0 100 0 0 10 0
   5: 00000000000000000000000001000000:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    42        0 6 1 0 100 0 0 10 0
   6: 00000000000000000000000000000000:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    43        0 7 1 0 100 0 0 10 0
   7: 0000000000000000FFFF00000100007F:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    44        0 8 1 0 100 0 0 10 0
   8: 000080FE00000000FF00000001000000:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    45        0 9 1 0 100 0 0 10 0
   9: garbage
`
	got := parseListeners(strings.NewReader(table), 5000)
	if want := []int{1000, 0, 42, 43, 44}; !slices.Equal(got, want) {
		t.Errorf("listeners on loopback port 5000: got uids %v, want %v (not 10.0.0.5, a connected socket, port 5001 or fe80::)", got, want)
	}
}

// TestEntraTokenForeignListener: on Linux, a loopback port the user allowed
// with --allow-loopback gets no Entra ID token while another user's
// program listens there. It needs root to start a listener as another
// user.
func TestEntraTokenForeignListener(t *testing.T) {
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		t.Skip("needs Linux and root, to listen as another user")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("needs /usr/bin/python3 to listen as another user")
	}
	f := useFakeEntra(t, "REAL-ENTRA-ID-TOKEN")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	// It accepts connections and closes them at once, so that a helper
	// that does connect fails fast rather than waits.
	cmd := exec.Command("/usr/bin/python3", "-c", `import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
while True: s.accept()[0].close()`)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a listener as uid 65534: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	port, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("the listener printed %q: %v", line, err)
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	allowLoopback(t, host)
	out, code := runHelper(t, host, "get")
	if code != 1 || !strings.Contains(out, "belongs to another user (uid 65534)") || f.calls() != 0 {
		t.Errorf("get for %s, a port uid 65534 listens on: exit %d, %q, %d Entra ID calls; want a refusal and none", host, code, out, f.calls())
	}
	acrctl(t, "", "login", host, "--entra", "--allow-loopback").fails(t, 1, "belongs to another user", "nothing was stored")
	if f.calls() != 0 {
		t.Errorf("login --entra asked Entra ID for a token %d times", f.calls())
	}
}
