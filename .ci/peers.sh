#!/usr/bin/env bash
# Interoperability with the peer clients: oras, crane and regctl each log in,
# push, pull back and compare bytes; then each pulls what another pushed.
#
# Usage: .ci/peers.sh [--target acrctl|reference] [--passes LIST] [--auth 0|1]
#   --target  acrctl (default) or reference (distribution v3.1.2, to validate
#             this script)
#   --passes  comma list, default plain,tls:
#               plain  acrctl serve --memory --user ci:secret
#               tls    acrctl serve --data DIR --user ci:secret --tls-self-signed
#                      (clients trust the printed certificate)
#   --auth    default 1 for acrctl (token flow), 0 for reference. The reference
#             registry has no built-in token server, so with --auth 1 it uses
#             htpasswd (Basic): the same client login commands, a simpler flow.
#
# Each tool keeps its login state in its own file under the work directory,
# so one tool's login never lets another pass.
#
# How each tool is pointed at the server:
#   oras    login:  oras login -u USER --password-stdin HOST --registry-config F
#           http:   --plain-http            TLS CA: --ca-file CERT
#   crane   login:  crane auth login HOST -u USER --password-stdin (DOCKER_CONFIG;
#                   it only stores the credentials, it does not check them)
#           http:   --insecure              TLS CA: SSL_CERT_FILE=CERT (no flag;
#                   --insecure would also skip verification)
#   regctl  login:  regctl registry login HOST -u USER --pass-stdin (REGCTL_CONFIG;
#                   it checks the credentials)
#           http:   regctl registry set HOST --skip-check --tls disabled
#           TLS CA: regctl registry set HOST --skip-check --cacert "$(cat CERT)"
#                   (PEM text, not a file name; without --skip-check `set`
#                   pings the registry and fails with 401 before login)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=acrctl passes=plain,tls auth=
while (($#)); do
	case $1 in
	--target) target=$2; shift 2 ;;
	--target=*) target=${1#*=}; shift ;;
	--passes) passes=$2; shift 2 ;;
	--passes=*) passes=${1#*=}; shift ;;
	--auth) auth=$2; shift 2 ;;
	--auth=*) auth=${1#*=}; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
case $target in
acrctl) auth=${auth:-1} ;;
reference) auth=${auth:-0} ;;
*) die "--target must be acrctl or reference" ;;
esac

need_tools oras crane regctl registry
if [[ $target == acrctl ]]; then
	have_acrctl || die "./cmd/acrctl does not exist yet: nothing to test (try --target reference)"
fi
init_work acr-peers

# ---- test content ------------------------------------------------------------

SRC=$WORK/src
mkdir -p "$SRC"
echo "hello from the ACR peers test" >"$SRC/hello.txt"
printf '{"name":"peers","n":%d}\n' "$RANDOM" >"$SRC/data.json"
head -c 5M /dev/urandom >"$SRC/big.bin" # incompressible, several chunks
FILES=(hello.txt data.json big.bin)
declare -A DIGEST
for f in "${FILES[@]}"; do
	DIGEST[$f]=sha256:$(sha256sum "$SRC/$f" | cut -d' ' -f1)
done
ARTIFACT_TYPE=application/vnd.acrgo.peers.test

# ---- reporting -----------------------------------------------------------------

FAILURES=()
fail() {
	FAILURES+=("$PASS: $*")
	echo "  FAIL: $*"
}

# step DESC CMD...: run CMD with its output in a log; on failure show the
# log's tail and record DESC. Callers chain `|| return 1` since `set -e` is
# off inside functions that are called from a condition.
step() {
	local desc=$1
	shift
	local out=$PDIR/step.log rc=0
	"$@" >"$out" 2>&1 || rc=$?
	if ((rc == 0)); then
		echo "  ok   $desc"
		return 0
	fi
	fail "$desc (exit $rc)"
	tail -n 15 "$out" | sed 's/^/         | /'
	return 1
}

# same NAME GOT DESC: GOT must have the bytes of $SRC/NAME.
same() {
	local want=$SRC/$1 got=$2 desc=$3
	if [[ ! -f $got ]]; then
		fail "$desc: $1 missing (expected $got)"
		return 1
	fi
	if ! cmp -s "$want" "$got"; then
		fail "$desc: $1 differs ($(stat -c %s "$want") bytes sent, $(stat -c %s "$got") received)"
		return 1
	fi
	echo "  ok   $desc: $1 identical"
}

# ---- tool wrappers (set per pass) ---------------------------------------------

oras() { DOCKER_CONFIG=$PDIR/oras-docker "$TOOLS/oras" "$@" --registry-config "$PDIR/oras-auth.json" "${ORAS_FLAGS[@]}"; }
crane() { env DOCKER_CONFIG="$PDIR/crane-docker" "${CRANE_ENV[@]}" "$TOOLS/crane" "$@" "${CRANE_FLAGS[@]}"; }
# regctl also reads Docker's config.json: point it at an empty one so it
# only ever uses its own login.
regctl() { DOCKER_CONFIG=$PDIR/regctl-docker REGCTL_CONFIG=$PDIR/regctl.json "$TOOLS/regctl" "$@"; }

# in_dir DIR CMD...: run CMD (a wrapper function is fine) inside DIR.
in_dir() { (cd "$1" && shift && "$@"); }
# to_file FILE CMD...: run CMD with its stdout in FILE.
to_file() {
	local f=$1
	shift
	"$@" >"$f"
}
# lists LINE CMD...: CMD's output has LINE as one of its lines.
lists() {
	local want=$1 got
	shift
	got=$("$@") || return 1
	grep -qxF "$want" <<<"$got" && return 0
	echo "want a line '$want', got:"
	echo "$got"
	return 1
}

# ---- flows -----------------------------------------------------------------------

check_access() {
	local hdrs=$PDIR/v2.headers code
	code=$(curl -s -o /dev/null -D "$hdrs" -w '%{http_code}' "${CURL_TLS[@]}" "$SERVER_URL/v2/") || true
	if [[ $code != 401 ]]; then
		fail "anonymous GET /v2/ returned $code, want 401"
		return 1
	fi
	echo "  ok   anonymous GET /v2/: 401, $(grep -i '^www-authenticate:' "$hdrs" | tr -d '\r')"
	# A wrong password must be refused (crane's login does not check).
	if oras login -u "$CI_USER" -p wrong "$SERVER_HOST" >"$PDIR/step.log" 2>&1; then
		fail "oras login with a wrong password succeeded"
	else
		echo "  ok   oras login with a wrong password refused"
	fi
	if regctl registry login "$SERVER_HOST" -u "$CI_USER" -p wrong >"$PDIR/step.log" 2>&1; then
		fail "regctl registry login with a wrong password succeeded"
	else
		echo "  ok   regctl registry login with a wrong password refused"
	fi
	# Forget anything the failed attempts may have stored.
	rm -f "$PDIR/oras-auth.json" "$PDIR/regctl.json"
	regctl_setup
}

regctl_setup() {
	# --skip-check: it pings the registry, which fails before login.
	step "regctl registry set ${REGCTL_SET[*]:0:2}" regctl registry set "$SERVER_HOST" --skip-check "${REGCTL_SET[@]}" || return 1
}

login_all() {
	step "oras login" oras login -u "$CI_USER" --password-stdin "$SERVER_HOST" <<<"$CI_PASS" || return 1
	step "crane auth login" crane auth login "$SERVER_HOST" -u "$CI_USER" --password-stdin <<<"$CI_PASS" || return 1
	step "regctl registry login" regctl registry login "$SERVER_HOST" -u "$CI_USER" --pass-stdin <<<"$CI_PASS" || return 1
}

flow_oras() {
	local ref=$SERVER_HOST/peers/oras:v1 out=$PDIR/out-oras f
	# oras records each file's name (relative path) as its title.
	step "oras push $ref" in_dir "$SRC" \
		oras push "$ref" --artifact-type "$ARTIFACT_TYPE" "${FILES[@]}" || return 1
	step "oras repo tags" lists v1 oras repo tags "$SERVER_HOST/peers/oras" || return 1
	step "oras pull $ref" oras pull "$ref" -o "$out" || return 1
	for f in "${FILES[@]}"; do same "$f" "$out/$f" "oras -> oras" || return 1; done
	step "oras blob fetch big.bin" oras blob fetch "$SERVER_HOST/peers/oras@${DIGEST[big.bin]}" -o "$out/blob-big.bin" || return 1
	same big.bin "$out/blob-big.bin" "oras blob fetch"
}

flow_crane() {
	local ref=$SERVER_HOST/peers/crane:v1 out=$PDIR/out-crane f
	mkdir -p "$out/fs"
	# crane pushes images, not loose files: one layer holding the files.
	tar -C "$SRC" -cf "$PDIR/files.tar" "${FILES[@]}"
	step "crane append $ref" crane append --oci-empty-base -f "$PDIR/files.tar" -t "$ref" || return 1
	step "crane ls" lists v1 crane ls "$SERVER_HOST/peers/crane" || return 1
	step "crane export $ref" crane export "$ref" "$out/fs.tar" || return 1
	tar -C "$out/fs" -xf "$out/fs.tar"
	for f in "${FILES[@]}"; do same "$f" "$out/fs/$f" "crane -> crane" || return 1; done
}

flow_regctl() {
	local ref=$SERVER_HOST/peers/regctl:v1 out=$PDIR/out-regctl f
	local args=()
	mkdir -p "$out" # regctl artifact get -o wants an existing directory
	# regctl wants a media type for every file.
	for f in "${FILES[@]}"; do args+=(-f "$f" -m application/vnd.acrgo.peers.file); done
	step "regctl artifact put $ref" in_dir "$SRC" \
		regctl artifact put --artifact-type "$ARTIFACT_TYPE" --file-title "${args[@]}" "$ref" || return 1
	step "regctl tag ls" lists v1 regctl tag ls "$SERVER_HOST/peers/regctl" || return 1
	step "regctl artifact get $ref" regctl artifact get "$ref" -o "$out" || return 1
	for f in "${FILES[@]}"; do same "$f" "$out/$f" "regctl -> regctl" || return 1; done
}

flow_cross() {
	local out=$PDIR/out-cross f
	mkdir -p "$out"/{crane,regctl-blob,regctl-art,oras,copy}
	# What oras pushed, crane and regctl pull by digest and as an artifact.
	for f in "${FILES[@]}"; do
		step "crane blob ($f from oras)" to_file "$out/crane/$f" \
			crane blob "$SERVER_HOST/peers/oras@${DIGEST[$f]}" || return 1
		same "$f" "$out/crane/$f" "oras -> crane blob" || return 1
		step "regctl blob get ($f from oras)" to_file "$out/regctl-blob/$f" \
			regctl blob get "$SERVER_HOST/peers/oras" "${DIGEST[$f]}" || return 1
		same "$f" "$out/regctl-blob/$f" "oras -> regctl blob get" || return 1
	done
	step "regctl artifact get (from oras)" regctl artifact get "$SERVER_HOST/peers/oras:v1" -o "$out/regctl-art" || return 1
	for f in "${FILES[@]}"; do same "$f" "$out/regctl-art/$f" "oras -> regctl artifact get" || return 1; done
	# What regctl pushed, oras pulls.
	step "oras pull (from regctl)" oras pull "$SERVER_HOST/peers/regctl:v1" -o "$out/oras" || return 1
	for f in "${FILES[@]}"; do same "$f" "$out/oras/$f" "regctl -> oras pull" || return 1; done
	# What crane pushed, regctl reads a file out of the image layer.
	step "regctl image get-file big.bin (from crane)" \
		regctl image get-file "$SERVER_HOST/peers/crane:v1" big.bin "$out/crane-get-file.bin" || return 1
	same big.bin "$out/crane-get-file.bin" "crane -> regctl image get-file" || return 1
	# crane copy into another repository mounts the blobs across repositories
	# (POST ?mount=&from=); oras then pulls the copy.
	step "crane copy peers/oras:v1 -> peers/copy:v1" \
		crane copy "$SERVER_HOST/peers/oras:v1" "$SERVER_HOST/peers/copy:v1" || return 1
	step "oras pull (crane copy)" oras pull "$SERVER_HOST/peers/copy:v1" -o "$out/copy" || return 1
	for f in "${FILES[@]}"; do same "$f" "$out/copy/$f" "oras -> crane copy -> oras pull" || return 1; done
}

# ---- passes ------------------------------------------------------------------------

for PASS in ${passes//,/ }; do
	case $PASS in
	plain) opts=(memory) ;;
	tls) opts=(data tls) ;; # the self-signed certificate goes into the data dir
	*) die "unknown pass $PASS (want plain or tls)" ;;
	esac
	[[ $auth == 1 ]] && opts+=(auth)
	PDIR=$WORK/$PASS
	mkdir -p "$PDIR"/{oras-docker,crane-docker,regctl-docker}
	start_server "$target" "$PDIR/server" "${opts[@]}"
	echo "== $target ${opts[*]}: $SERVER_URL"
	if [[ $SERVER_TLS == 1 ]]; then
		ORAS_FLAGS=(--ca-file "$SERVER_CERT")
		CRANE_FLAGS=()
		CRANE_ENV=(SSL_CERT_FILE="$SERVER_CERT")
		REGCTL_SET=(--tls enabled --cacert "$(cat "$SERVER_CERT")")
		CURL_TLS=(--cacert "$SERVER_CERT")
	else
		ORAS_FLAGS=(--plain-http)
		CRANE_FLAGS=(--insecure)
		CRANE_ENV=()
		REGCTL_SET=(--tls disabled)
		CURL_TLS=()
	fi
	if regctl_setup; then
		if [[ $SERVER_AUTH == 1 ]]; then
			if check_access; then login_all || true; fi
		fi
		# Each flow stops at its first failure; the others still run.
		flow_oras || true
		flow_crane || true
		flow_regctl || true
		flow_cross || true
	fi
	stop_server "$SERVER_PID"
done

echo
if ((${#FAILURES[@]})); then
	echo "peers: ${#FAILURES[@]} FAILED:"
	printf '  %s\n' "${FAILURES[@]}"
	exit 1
fi
echo "peers: all passed ($target, passes: $passes, auth: $auth)"
