#!/usr/bin/env bash
# Install the pinned peer tools and the OCI conformance suite into .tools/,
# and build .tools/acrctl. Idempotent: a tool is only (re)installed when its
# binary is missing or was built from another version.
#
# Usage: .ci/tools.sh          (ACRCTL=skip: peers only, used by the other
#                               scripts, which build acrctl themselves;
#                               ONLY=NAME: just the pin NAME, e.g. staticcheck)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
mkdir -p "$TOOLS"

# name=module@version; the binary name is the last path element of the module.
PINS=(
	registry=github.com/distribution/distribution/v3/cmd/registry@v3.1.2
	crane=github.com/google/go-containerregistry/cmd/crane@v0.22.1
	oras=oras.land/oras/cmd/oras@v1.3.6
	regctl=github.com/regclient/regclient/cmd/regctl@v0.11.7
	staticcheck=honnef.co/go/tools/cmd/staticcheck@v0.8.2
)
CONFORMANCE=github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111

# pinned BIN VERSION: the binary exists and its build info names VERSION.
pinned() {
	[[ -x $1 ]] && go version -m "$1" 2>/dev/null | grep -qF "$2"
}

for pin in "${PINS[@]}"; do
	name=${pin%%=*} mod=${pin#*=}
	if [[ -n ${ONLY:-} && $name != "$ONLY" ]]; then
		continue
	fi
	if pinned "$TOOLS/$name" "${mod##*@}"; then
		continue
	fi
	log "installing $mod"
	GOBIN=$TOOLS go install "$mod"
done

if [[ -n ${ONLY:-} ]]; then
	[[ -x $TOOLS/$ONLY ]] || { log "no pin named $ONLY"; exit 1; }
	log "ok  .tools/$ONLY"
	exit 0
fi

# The conformance suite is a main package inside its own module; `go install
# module@version` would work too, but measuring.md builds it from a scratch
# module, which also leaves its source in the module cache for reading.
if ! pinned "$TOOLS/conformance" "${CONFORMANCE##*@}"; then
	log "building $CONFORMANCE"
	src=$TOOLS/src/conformance
	mkdir -p "$src"
	(
		cd "$src"
		[[ -f go.mod ]] || go mod init confbuild >/dev/null 2>&1
		go get "$CONFORMANCE"
		go build -o "$TOOLS/conformance" "${CONFORMANCE%@*}"
	)
fi

# Our server. Until cmd/acrctl exists (it is being written) only warn, so the
# scripts can still be run against the reference registry.
if [[ ${ACRCTL:-} == skip ]]; then
	:
elif [[ -d cmd/acrctl ]]; then
	go build -o "$TOOLS/acrctl" ./cmd/acrctl
else
	log "warning: ./cmd/acrctl does not exist yet; .tools/acrctl not built"
fi

for t in registry crane oras regctl staticcheck conformance acrctl; do
	if [[ -x $TOOLS/$t ]]; then log "ok  .tools/$t"; fi
done
