#!/usr/bin/env bash
# Microsoft's Python SDK for Azure Container Registry (azure-containerregistry
# 1.1.0b2, Debian's python3-azure), unchanged, against `acrctl serve` over TLS:
# every public method of ContainerRegistryClient and its aio twin, the seed
# README's samples in Python, anonymous pull and lock refusals. The checks are
# in clients/python/check.py; they trust the server's self-signed certificate
# through REQUESTS_CA_BUNDLE and SSL_CERT_FILE, never by turning verification
# off.
#
# Two servers: one with an Entra ID token (--aad-token, exchanged at
# /oauth2/exchange as in Azure) and a user (for the raw Docker v2 pushes the
# SDK cannot make), and one with --anonymous-pull that also redirects blob
# downloads to a storage listener (--storage-addr), as ACR does.
#
# Installs python3-azure with apt when it is missing (with azure-cli: 19 MB
# of archives, 670 MB on disk, about 75 s). Uses Debian's /usr/bin/python3,
# since a python3 earlier on PATH may not see the Debian packages.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"

PY=/usr/bin/python3
need_debian() { # PACKAGE...: install the ones dpkg does not have
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	log "installing ${missing[*]} with apt"
	# Without package lists, or with stale ones, install fails: update, retry.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
}
need_debian python3-azure
$PY -c 'import azure.containerregistry, aiohttp, requests' || die "$PY cannot import azure.containerregistry"

init_work acrgo-python
go build -o "$TOOLS/acrctl" ./cmd/acrctl

TOKEN=acrgo-entra-token-$RANDOM$RANDOM

start_server acrctl "$WORK/auth" data tls -- -v --aad-token "$TOKEN" --user "$CI_USER:$CI_PASS"
URL=$SERVER_URL CERT=$SERVER_CERT
# The second server reuses the first one's certificate (--tls-self-signed
# keeps a valid one it finds in its data directory), so one file trusts both.
# (Two certificates in one CA file need distinct subjects: OpenSSL 3.0 finds
# a self-signed certificate's trust anchor by subject name.)
mkdir -p "$WORK/anon/data"
cp -r "$(dirname "$CERT")" "$WORK/anon/data/tls"
start_server acrctl "$WORK/anon" data tls -- -v --aad-token "$TOKEN" --anonymous-pull --storage-addr 127.0.0.1:0
ANON_URL=$SERVER_URL
cmp -s "$CERT" "$SERVER_CERT" || die "the second server made a certificate of its own"

export REQUESTS_CA_BUNDLE=$CERT SSL_CERT_FILE=$CERT
# Never reach for a proxy or the network outside the two servers.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy
rc=0
timeout 300 $PY "$ROOT/.ci/clients/python/check.py" --url "$URL" --anon-url "$ANON_URL" \
	--token "$TOKEN" --user "$CI_USER" --password "$CI_PASS" || rc=$?
if ((rc)); then
	log "server logs: $WORK/auth/stderr $WORK/anon/stderr"
	die "python sdk checks failed (exit $rc)"
fi
