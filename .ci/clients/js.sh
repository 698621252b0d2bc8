#!/usr/bin/env bash
# Microsoft's JavaScript SDK, @azure/container-registry (pinned in
# clients/js/package.json), run unchanged against `acrctl serve` over TLS:
# clients/js/check.mjs calls every public method of its four clients, the seed
# README's samples, anonymous pull and the lock flags, and prints one ok/FAIL
# line per step.
#
# Two registries, both --tls-self-signed (Node trusts their certificates
# through NODE_EXTRA_CA_CERTS; nothing turns verification off):
#   main  --aad-token --user, and --storage-addr so that blob downloads are
#         redirected to a storage listener, as ACR redirects them;
#   anon  --anonymous-pull (and --aad-token, to seed it).
# The npm packages are installed once into .tools/npm/js-<hash of package.json
# and package-lock.json>; later runs reuse them.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"
JS_SRC=$ROOT/.ci/clients/js
AAD_TOKEN=acrgo-ci-entra-token

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node $(node --version) is too old: @azure/container-registry 1.1.2 needs node 20 or later"

# ---- npm packages, cached by the hash of the manifest and lock file --------
key=$(cat "$JS_SRC/package.json" "$JS_SRC/package-lock.json" | sha256sum | cut -c1-16)
DEPS=$TOOLS/npm/js-$key
if [[ ! -f $DEPS/.installed ]]; then
	log "installing the JavaScript SDK into $DEPS"
	rm -rf "$DEPS"
	mkdir -p "$DEPS"
	cp "$JS_SRC/package.json" "$JS_SRC/package-lock.json" "$DEPS/"
	(cd "$DEPS" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >&2 || die "npm ci failed"
	touch "$DEPS/.installed"
fi

init_work acrgo-js
go build -o "$TOOLS/acrctl" ./cmd/acrctl

start_server acrctl "$WORK/main" data auth tls -- -v --aad-token "$AAD_TOKEN" --storage-addr "127.0.0.1:$(free_port)"
MAIN_URL=$SERVER_URL MAIN_STORAGE=$STORAGE_URL
[[ $MAIN_STORAGE == https://* ]] || die "acrctl --storage-addr printed no 'storage on https://' line"
MAIN_CERT=$SERVER_CERT
# Both servers serve main's certificate (--tls-self-signed reuses the one it
# finds in its data directory), so that NODE_EXTRA_CA_CERTS names one file.
mkdir -p "$WORK/anon/data/tls"
cp "$(dirname "$MAIN_CERT")"/{cert,key}.pem "$WORK/anon/data/tls/"
start_server acrctl "$WORK/anon" data tls -- -v --aad-token "$AAD_TOKEN" --anonymous-pull
ANON_URL=$SERVER_URL
cmp -s "$SERVER_CERT" "$MAIN_CERT" || die "the anonymous-pull server did not reuse the certificate in its data directory"

# ESM resolves packages from the script's own folder, so the script runs from
# a copy beside a link to the cached node_modules.
mkdir -p "$WORK/js"
cp "$JS_SRC/check.mjs" "$WORK/js/check.mjs"
ln -s "$DEPS/node_modules" "$WORK/js/node_modules"

echo "== @azure/container-registry $(node -p "require('$DEPS/node_modules/@azure/container-registry/package.json').version") on node $(node --version), against acrctl serve"
if ! SERVER_URL=$MAIN_URL STORAGE_URL=$MAIN_STORAGE ANON_URL=$ANON_URL AAD_TOKEN=$AAD_TOKEN \
	NODE_EXTRA_CA_CERTS=$MAIN_CERT WORK_DIR=$WORK node "$WORK/js/check.mjs"; then
	log "server logs: $WORK/main/stderr, $WORK/anon/stderr"
	die "js: @azure/container-registry checks failed"
fi
echo "js: all passed"
