# shellcheck shell=bash
# Shared helpers for the .ci/*.sh and bench/*.sh scripts. Source it; do not run it.
#
# It gives every script the same way to find the pinned tools, make a work
# directory that is removed on exit, pick free ports and start/stop the two
# servers we test: our `acrctl serve` and the reference registry
# (distribution v3).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=$ROOT/.tools

# Credentials used for every auth variant (acrctl --user, reference htpasswd).
CI_USER=ci
CI_PASS=secret

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---- work directory and cleanup -------------------------------------------

SERVER_PIDS=()

# stop_server PID: SIGTERM, wait up to 10 s, then SIGKILL. Only ever touches
# processes this script started.
stop_server() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "warning: server $pid ignored SIGTERM for 10 s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	local keep=() p
	for p in "${SERVER_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	SERVER_PIDS=("${keep[@]}")
}

_cleanup() {
	local rc=$? p
	for p in "${SERVER_PIDS[@]}"; do stop_server "$p"; done
	if [[ -n ${WORK:-} && -d $WORK ]]; then
		if [[ ${KEEP_WORK:-0} == 1 || $rc != 0 && ${KEEP_WORK:-} != 0 ]]; then
			log "work files kept in $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}

# init_work PREFIX: make $WORK and arrange for servers to be stopped and $WORK
# removed on exit (kept on failure so logs can be read; KEEP_WORK=0 forces
# removal, KEEP_WORK=1 keeps it always).
init_work() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap _cleanup EXIT
	# Turn signals into a normal exit so the EXIT trap runs.
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# ---- tools -------------------------------------------------------------------

# need_tools NAME...: make sure the pinned tools exist, installing them via
# tools.sh (idempotent) when one is missing.
need_tools() {
	local t
	for t in "$@"; do
		if [[ ! -x $TOOLS/$t ]]; then
			ACRCTL=skip "$ROOT/.ci/tools.sh" >&2
			break
		fi
	done
	for t in "$@"; do
		[[ -x $TOOLS/$t ]] || die "$TOOLS/$t is missing after .ci/tools.sh"
	done
}

# have_acrctl: true when ./cmd/acrctl exists and builds (rebuilt each time so
# we never test a stale binary; the Go build cache makes this cheap).
have_acrctl() {
	[[ -d $ROOT/cmd/acrctl ]] || return 1
	(cd "$ROOT" && go build -o "$TOOLS/acrctl" ./cmd/acrctl) >&2 || die "go build ./cmd/acrctl failed"
}

# ---- ports -------------------------------------------------------------------

# free_port: a port on 127.0.0.1 that nothing listens on right now. It is
# picked below the kernel's ephemeral range, so a client connection's local
# port cannot take it between this check and the server's bind.
free_port() {
	local p i lo=32768
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((lo > 12000)) || lo=32768
	for ((i = 0; i < 200; i++)); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# ---- servers -----------------------------------------------------------------
#
# start_server TARGET DIR [memory|data] [auth] [tls] [-- FLAG...]
#   TARGET is acrctl or reference; DIR is a fresh directory for the server's
#   data, config, certificate and logs. After --, more flags for acrctl serve
#   (--aad-token, --anonymous-pull, --soft-delete, -v, ...). Sets:
#     SERVER_PID   the server process (the binary itself, so /proc/PID is its own)
#     SERVER_HOST  127.0.0.1:PORT
#     SERVER_URL   http(s)://127.0.0.1:PORT
#     SERVER_TLS   0 or 1
#     SERVER_CERT  the CA/certificate file to trust when SERVER_TLS=1
#     SERVER_AUTH  0 or 1 (credentials are $CI_USER / $CI_PASS)
#     SERVER_LOG   the server's stderr
#     STORAGE_URL  the storage listener's URL, when --storage-addr was given
# shellcheck disable=SC2034 # the SERVER_* globals are read by the callers
start_server() {
	local target=$1 dir=$2
	shift 2
	local storage=memory auth=0 tls=0 opt
	SERVER_EXTRA=()
	while (($#)); do
		opt=$1
		shift
		case $opt in
		memory | data) storage=$opt ;;
		auth) auth=1 ;;
		tls) tls=1 ;;
		--)
			SERVER_EXTRA=("$@")
			break
			;;
		*) die "start_server: unknown option $opt" ;;
		esac
	done
	[[ $target == acrctl || ${#SERVER_EXTRA[@]} == 0 ]] || die "start_server: extra flags are for acrctl only"
	mkdir -p "$dir"
	SERVER_AUTH=$auth SERVER_TLS=$tls SERVER_CERT=
	case $target in
	acrctl) _start_acrctl "$dir" "$storage" "$auth" "$tls" ;;
	reference) _start_reference "$dir" "$storage" "$auth" "$tls" ;;
	*) die "unknown target $target (want acrctl or reference)" ;;
	esac
}

_start_acrctl() {
	local dir=$1 storage=$2 auth=$3 tls=$4 port i attempt
	local args=(serve)
	if [[ $storage == data ]]; then args+=(--data "$dir/data"); else args+=(--memory); fi
	[[ $auth == 1 ]] && args+=(--user "$CI_USER:$CI_PASS")
	# The self-signed certificate is written into the data dir, so callers
	# pair tls with data; the server prints where it put it either way.
	[[ $tls == 1 ]] && args+=(--tls-self-signed)
	args+=("${SERVER_EXTRA[@]}")
	for ((attempt = 0; attempt < 3; attempt++)); do
		port=$(free_port)
		: >"$dir/stdout" # exists before the child opens it, for the polling below
		"$TOOLS/acrctl" "${args[@]}" --addr "127.0.0.1:$port" >"$dir/stdout" 2>"$dir/stderr" &
		SERVER_PID=$!
		SERVER_PIDS+=("$SERVER_PID")
		SERVER_LOG=$dir/stderr
		# The server prints "listening on URL" once it accepts connections.
		for ((i = 0; i < 300; i++)); do
			grep -q '^listening on ' "$dir/stdout" && break
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.05
		done
		if grep -q '^listening on ' "$dir/stdout"; then
			SERVER_URL=$(sed -n 's/^listening on //p' "$dir/stdout" | head -n1)
			SERVER_HOST=${SERVER_URL#*://}
			SERVER_CERT=$(sed -n 's/^certificate: //p' "$dir/stdout" | head -n1)
			# shellcheck disable=SC2034 # read by the callers that pass --storage-addr
			STORAGE_URL=$(sed -n 's/^storage on //p' "$dir/stdout" | head -n1)
			if [[ $tls == 1 ]]; then
				[[ $SERVER_URL == https://* ]] || die "acrctl --tls-self-signed printed $SERVER_URL"
				[[ -s $SERVER_CERT ]] || die "acrctl --tls-self-signed printed no readable 'certificate:' line"
			fi
			return 0
		fi
		stop_server "$SERVER_PID"
		log "acrctl ${args[*]} --addr 127.0.0.1:$port did not start:"
		sed 's/^/  /' "$dir/stdout" "$dir/stderr" >&2
		# A lost race for the port is worth a retry; anything else is not.
		grep -qi 'address already in use' "$dir/stderr" || die "acrctl failed to start"
	done
	die "acrctl failed to start"
}

# make_cert DIR: a self-signed certificate for localhost and 127.0.0.1
# (DIR/cert.pem, DIR/key.pem), as acrctl --tls-self-signed makes.
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
		-keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null || die "openssl could not make a certificate"
}

# htpasswd_line USER PASS: a bcrypt htpasswd entry, from a tiny Go helper
# built next to the conformance binary (no htpasswd binary on the machine).
htpasswd_line() {
	local src=$TOOLS/src/htpasswd
	if [[ ! -x $TOOLS/htpasswd ]]; then
		mkdir -p "$src"
		cat >"$src/main.go" <<'GO'
// Command htpasswd prints a bcrypt htpasswd line for user and password.
package main

import (
	"fmt"
	"os"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	h, err := bcrypt.GenerateFromPassword([]byte(os.Args[2]), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s:%s\n", os.Args[1], h)
}
GO
		(cd "$src" && { [[ -f go.mod ]] || go mod init htpasswd >/dev/null 2>&1; } &&
			go get golang.org/x/crypto@v0.57.0 >/dev/null 2>&1 &&
			go build -o "$TOOLS/htpasswd" .) >&2 || die "could not build the htpasswd helper"
	fi
	"$TOOLS/htpasswd" "$1" "$2"
}

_start_reference() {
	local dir=$1 storage=$2 auth=$3 tls=$4 port i code attempt scheme=http
	if [[ $tls == 1 ]]; then
		make_cert "$dir"
		scheme=https
		SERVER_CERT=$dir/cert.pem
	fi
	if [[ $auth == 1 ]]; then
		# The reference registry's token auth needs a separate token
		# server; htpasswd (Basic) exercises the same client login paths.
		htpasswd_line "$CI_USER" "$CI_PASS" >"$dir/htpasswd"
	fi
	local curl_tls=()
	[[ $tls == 1 ]] && curl_tls=(--cacert "$SERVER_CERT")
	for ((attempt = 0; attempt < 3; attempt++)); do
		port=$(free_port)
		{
			echo 'version: 0.1'
			echo 'log: {level: warn, accesslog: {disabled: true}}'
			echo 'storage:'
			if [[ $storage == data ]]; then
				echo "  filesystem: {rootdirectory: $dir/data}"
			else
				echo '  inmemory: {}'
			fi
			echo '  delete: {enabled: true}'
			echo 'http:'
			echo "  addr: 127.0.0.1:$port"
			# A fixed secret only silences a startup warning.
			echo '  secret: acr-ci-not-a-secret'
			[[ $tls == 1 ]] && echo "  tls: {certificate: $dir/cert.pem, key: $dir/key.pem}"
			if [[ $auth == 1 ]]; then
				echo 'auth:'
				echo "  htpasswd: {realm: ci, path: $dir/htpasswd}"
			fi
		} >"$dir/config.yml"
		# OTEL_TRACES_EXPORTER=none: otherwise it tries to export traces to
		# localhost:4318 and JSON-encodes every span.
		OTEL_TRACES_EXPORTER=none "$TOOLS/registry" serve "$dir/config.yml" >"$dir/stdout" 2>"$dir/stderr" &
		SERVER_PID=$!
		SERVER_PIDS+=("$SERVER_PID")
		# shellcheck disable=SC2034 # read by the callers
		SERVER_LOG=$dir/stderr
		SERVER_HOST=127.0.0.1:$port
		SERVER_URL=$scheme://$SERVER_HOST
		# It prints nothing when ready: poll /v2/ (200, or 401 with auth).
		for ((i = 0; i < 300; i++)); do
			code=$(curl -s -o /dev/null -w '%{http_code}' "${curl_tls[@]}" "$SERVER_URL/v2/" || true)
			[[ $code == 200 || $code == 401 ]] && return 0
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.05
		done
		stop_server "$SERVER_PID"
		log "reference registry did not start on $SERVER_HOST:"
		sed 's/^/  /' "$dir/stderr" >&2
		grep -qi 'address already in use' "$dir/stderr" || die "reference registry failed to start"
	done
	die "reference registry failed to start"
}

# peak_rss_kib PID: the process's peak resident set (VmHWM) in KiB; read it
# before stopping the server.
peak_rss_kib() {
	awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}
