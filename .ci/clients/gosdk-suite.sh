#!/usr/bin/env bash
# Microsoft's own live tests of the Azure SDK for Go's container registry
# client, github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry
# v0.2.3 (the *_test.go files of its module zip), run against `acrctl serve`.
#
# What is ours, and what we change (only the harness; the tests run unchanged):
#   .ci/clients/gosdk/harness_test.go REPLACES the module's utils_test.go, the
#     suite's harness, which needs Azure: it takes a static credential instead
#     of azidentity, the registry from LOGIN_SERVER, and builds each test's
#     image itself (the image `az acr build` makes of testdata/Dockerfile),
#     pushing it through the server with `acrctl copy`. Its header says more.
#   .ci/clients/gosdk/report/main.go turns `go test -json` into one line per
#     test and "N of M tests passed".
#
# The server is one `acrctl serve --tls-self-signed` set up as the suite's
# Azure test resources set up the registry (test-resources.bicep: anonymous
# pull enabled): --aad-token for the SDK's Entra ID token exchange,
# --anonymous-pull for the anonymous-access tests, which use the same registry,
# and --user for acrctl's pushes. Clients trust its certificate through
# SSL_CERT_FILE. Live mode (AZURE_RECORD_MODE=live) never starts the
# recording test proxy.
#
# Usage: .ci/clients/gosdk-suite.sh [-run REGEXP]   (go test's -run)
# Exits non-zero when any test fails, skips or never finishes. KEEP_WORK=1
# keeps the work directory (test.json, the server's request log).
# The compiled test binary is cached in .tools/gosdk/, keyed by the module
# version, the harness and the Go version.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ROOT"

MODULE=github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry
VERSION=v0.2.3
HARNESS=$ROOT/.ci/clients/gosdk/harness_test.go
REPLACED=utils_test.go # the module's file that HARNESS replaces

run=
while (($#)); do
	case $1 in
	-run) run=$2; shift 2 ;;
	-run=*) run=${1#*=}; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

start=$SECONDS
init_work acrgo-gosdk
have_acrctl || die "./cmd/acrctl does not exist"
CACHE=$TOOLS/gosdk
mkdir -p "$CACHE"

echo "== $MODULE@$VERSION"
# The module zip, from the Go module proxy into the (read-only) module cache.
info=$(go mod download -json "$MODULE@$VERSION") || die "go mod download $MODULE@$VERSION failed: $info"
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")
sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")
[[ -d $dir && -n $sum ]] || die "go mod download printed no Dir or Sum: $info"
[[ -f $dir/$REPLACED ]] || die "$dir has no $REPLACED: the harness was written for another layout of the suite"

# A writable copy: the module as shipped, with its harness swapped for ours.
SUITE=$WORK/suite
cp -R "$dir/." "$SUITE"
chmod -R u+w "$SUITE"
rm "$SUITE/$REPLACED"
cp "$HARNESS" "$SUITE/harness_test.go"
echo "  $(find "$SUITE" -maxdepth 1 -name '*_test.go' | wc -l) test files; $REPLACED replaced by .ci/clients/gosdk/harness_test.go"

# The test binary and the reporter, rebuilt only when an input changes.
# -trimpath: failures then name files by module path, not by a work
# directory that is gone by the next run.
BUILD=(-trimpath)
key=$( (go version && echo "$sum ${BUILD[*]}" && cat "$HARNESS" "$ROOT/.ci/clients/gosdk/report/main.go") | sha256sum | cut -c1-16)
BIN=$CACHE/azcontainerregistry-$VERSION-$key.test
REPORT=$CACHE/report-$key
if [[ ! -x $BIN || ! -x $REPORT ]]; then
	log "compiling the suite (cached as ${BIN#"$ROOT"/})"
	rm -f "$CACHE"/azcontainerregistry-*.test "$CACHE"/report-*
	(cd "$SUITE" && go vet . && go test -c "${BUILD[@]}" -o "$BIN" .) >&2 || die "the suite does not compile with our harness"
	go build -o "$REPORT" ./.ci/clients/gosdk/report || die "could not build the reporter"
fi

echo "== server"
AAD_TOKEN=gosdk-aad-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
start_server acrctl "$WORK/srv" data auth tls -- --aad-token "$AAD_TOKEN" --anonymous-pull --verbose
echo "  $SERVER_URL (--aad-token, --anonymous-pull, --user $CI_USER)"

echo "== go test (live)"
args=(-test.v=test2json -test.paniconexit0 -test.count=1 -test.timeout=10m)
[[ -n $run ]] && args+=("-test.run=$run")
set +e
(
	cd "$SUITE" &&
		env AZURE_RECORD_MODE=live \
			LOGIN_SERVER="$SERVER_HOST" REGISTRY_NAME=acrctl-serve \
			SSL_CERT_FILE="$SERVER_CERT" \
			GOSDK_AAD_TOKEN="$AAD_TOKEN" GOSDK_ACRCTL="$TOOLS/acrctl" \
			GOSDK_PUSH_USER="$CI_USER" GOSDK_PUSH_PASSWORD="$CI_PASS" \
			DOCKER_CONFIG="$WORK/docker" \
			go tool test2json -t -p "$MODULE" "$BIN" "${args[@]}"
) >"$WORK/test.json" 2>"$WORK/test.stderr"
"$REPORT" <"$WORK/test.json"
rc=$?
set -e
if [[ -s $WORK/test.stderr ]]; then
	log "test binary stderr:"
	sed 's/^/  /' "$WORK/test.stderr" >&2
fi
echo "gosdk-suite: $((SECONDS - start)) s"
if ((rc)); then
	log "server request log: $SERVER_LOG (kept with the work directory)"
	die "gosdk-suite: the Azure SDK for Go's tests failed against acrctl serve"
fi
echo "gosdk-suite: all passed"
