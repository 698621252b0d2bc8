#!/usr/bin/env bash
# Run the client's OCI tests against the reference registry (distribution
# v3.1.2), and the emulator's comparisons with it (manifest Accept
# negotiation): once open, once with Basic (htpasswd) auth. The tests read
# the server from ACRGO_REFERENCE_URL; plain `go test` skips them.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
need_tools registry
init_work acrgo-reference
for mode in open auth; do
	opts=(memory)
	[[ $mode == auth ]] && opts+=(auth)
	start_server reference "$WORK/$mode" "${opts[@]}"
	env=(ACRGO_REFERENCE_URL="$SERVER_URL")
	[[ $mode == auth ]] && env+=(ACRGO_REFERENCE_USER="$CI_USER" ACRGO_REFERENCE_PASSWORD="$CI_PASS")
	log "reference registry ($mode) at $SERVER_URL"
	env "${env[@]}" go test -count=1 -run 'TestReferenceRegistry' -v . ./emulator/ ./transfer/ ./cmd/acrctl/ ./console/ | grep -E '^(=== RUN|--- |PASS|FAIL|ok)' || {
		log "reference tests failed ($mode)"
		exit 1
	}
	stop_server "${SERVER_PIDS[-1]}"
done
log "reference: all passed"
