package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// The secrets of acrctl serve: the passwords of --user and the tokens of
// --aad-token. On the command line (--user NAME:PASSWORD, --aad-token
// TOKEN) every local user can read them in the process list
// (/proc/PID/cmdline), so they can also come from stdin, as acrctl login
// takes a password: --user NAME and --aad-token - leave the secret out, and
// --password-stdin reads them, one per line, the users' passwords first in
// the order of the flags, then the tokens.

// stdinToken is the --aad-token value that stands for a token on stdin.
const stdinToken = "-"

// serveSecrets returns the users and Entra ID tokens that f names, reading
// the secrets left out from stdin for --password-stdin. visible reports
// whether a secret was given on the command line.
func serveSecrets(f serveFlags, stdin io.Reader) (users map[string]string, tokens []string, visible bool, err error) {
	var wantUsers []string // --user NAME, in order
	wantTokens := 0
	for _, u := range f.users {
		name, pass, ok := strings.Cut(u, ":")
		switch {
		case name == "":
			return nil, nil, false, usageError{fmt.Errorf("--user %q: want NAME, or NAME:PASSWORD, with a non-empty name", redactUser(u))}
		case ok && pass == "":
			return nil, nil, false, usageError{fmt.Errorf("--user %q: the password is empty; want NAME:PASSWORD, or NAME with --password-stdin", redactUser(u))}
		case !ok:
			wantUsers = append(wantUsers, name)
		default:
			visible = true
		}
		if users == nil {
			users = map[string]string{}
		}
		users[name] = pass
	}
	for _, t := range f.aadTokens {
		switch t {
		case "":
			return nil, nil, false, usageError{errors.New("--aad-token is empty: want a token, or - with --password-stdin to read it from stdin")}
		case stdinToken:
			wantTokens++
		default:
			visible = true
			tokens = append(tokens, t)
		}
	}
	want := len(wantUsers) + wantTokens
	switch {
	case want > 0 && !f.passwordStdin && len(wantUsers) > 0:
		return nil, nil, false, usageError{fmt.Errorf("--user %s gives no password: add --password-stdin and pipe it in (acrctl serve --user %s --password-stdin < password.txt), or pass %s:PASSWORD, which other local users can see in the process list",
			wantUsers[0], wantUsers[0], wantUsers[0])}
	case want > 0 && !f.passwordStdin:
		return nil, nil, false, usageError{errors.New("--aad-token - reads the token from stdin: add --password-stdin and pipe it in")}
	case want == 0 && f.passwordStdin:
		return nil, nil, false, usageError{errors.New("--password-stdin reads the passwords of --user NAME (given without :PASSWORD) and the tokens of --aad-token -, and there is none: drop it, or give --user NAME")}
	case want == 0:
		return users, tokens, visible, nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
	if err != nil {
		return nil, nil, false, fmt.Errorf("--password-stdin: reading stdin: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	if len(lines) != want {
		return nil, nil, false, usageError{fmt.Errorf("--password-stdin: stdin holds %d lines, want %d: one per --user NAME given without a password (%d), in order, then one per --aad-token - (%d)",
			len(lines), want, len(wantUsers), wantTokens)}
	}
	for i, l := range lines {
		if l == "" {
			return nil, nil, false, usageError{fmt.Errorf("--password-stdin: line %d of stdin is empty; want a password or token on each line", i+1)}
		}
	}
	for i, name := range wantUsers {
		users[name] = lines[i]
	}
	tokens = append(tokens, lines[len(wantUsers):]...)
	return users, tokens, visible, nil
}
