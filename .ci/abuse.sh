#!/usr/bin/env bash
# The abuse-and-load suite of issue 16 (bench/abuse) against a real
# `acrctl serve --data` process, whose memory it reads from /proc: wide JSON
# bombs, ~200 hostile inputs (each a 4xx with an OCI error body, changing
# nothing), 48 concurrent clients pushing and pulling, listings over 160 MB
# of annotations. Then the server is stopped with SIGTERM, started again on
# the same directory, and every write it acknowledged is read back.
#
# CI runs the load smaller (48 clients x 10 images; the bombs and listings
# at full size). For the benchmark figures of issue 16, run the defaults:
#   ABUSE_SIZES= bash .ci/abuse.sh
# or pass any bench/abuse flags, e.g. ABUSE_SIZES='-clients 32 -images 50'.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
init_work acrgo-abuse
go build -o "$TOOLS/acrctl" ./cmd/acrctl
go build -o "$TOOLS/abuse" ./bench/abuse

read -r -a SIZES <<<"${ABUSE_SIZES--clients 48 -images 10}"
# Identities beside $CI_USER: a second user (one client's caps must not lock
# out another), a user whose sign-in is throttled on purpose, and an Entra ID
# token for /oauth2/exchange.
USER2=other:other-secret
VICTIM=victim:victim-secret
AAD=abuse-aad-token
ID_FLAGS=(-user "$CI_USER:$CI_PASS" -user2 "$USER2" -victim "$VICTIM" -aad-token "$AAD")

# start_abuse_server DIR: `acrctl serve --data DIR/data` with those
# identities and anonymous pull; the log of an earlier run in DIR is kept as
# stderr.N, for the crash search at the end.
start_abuse_server() {
	local n=1
	while [[ -e $1/stderr.$n ]]; do n=$((n + 1)); done
	[[ -e $1/stderr ]] && mv "$1/stderr" "$1/stderr.$n"
	start_server acrctl "$1" data auth -- --user "$USER2" --user "$VICTIM" --anonymous-pull --aad-token "$AAD"
}

failures=0
SRV=$WORK/srv
start_abuse_server "$SRV"
echo "== bench/abuse against $SERVER_URL (pid $SERVER_PID) ${SIZES[*]}"
if ! "$TOOLS/abuse" -url "$SERVER_URL" -pid "$SERVER_PID" "${ID_FLAGS[@]}" -ledger "$WORK/ledger.json" "${SIZES[@]}"; then
	failures=$((failures + 1))
fi

echo "== restart: SIGTERM, then the same data directory again"
stop_server "$SERVER_PID"
start_abuse_server "$SRV"
if [[ -s $WORK/ledger.json ]]; then
	if ! "$TOOLS/abuse" -url "$SERVER_URL" "${ID_FLAGS[@]}" -verify "$WORK/ledger.json"; then
		failures=$((failures + 1))
	fi
else
	echo "  FAIL no ledger of acknowledged writes to read back"
	failures=$((failures + 1))
fi
stop_server "$SERVER_PID"
if grep -n -m 5 -E '^panic:|fatal error:|DATA RACE' "$SRV"/stderr*; then
	echo "  FAIL the server's log shows a crash (above; $SRV/stderr*)"
	failures=$((failures + 1))
else
	echo "  ok   no panic or fatal error in the server's log"
fi

if ((failures)); then
	die "abuse: $failures steps failed"
fi
echo "abuse: all passed"
