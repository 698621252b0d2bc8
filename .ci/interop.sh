#!/usr/bin/env bash
# acrctl as a client, side by side with oras, crane and regctl against one
# registry (`acrctl serve --memory --user`): what one pushes the others pull,
# bytes identical, and OCI image layouts written by one are read by the
# others. All tools share the docker config.json that `acrctl login` writes.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
need_tools oras crane regctl
init_work acrgo-interop
go build -o "$TOOLS/acrctl" ./cmd/acrctl
export PATH=$TOOLS:$PATH
export DOCKER_CONFIG=$WORK/docker REGCTL_CONFIG=$WORK/regctl.json
mkdir -p "$DOCKER_CONFIG"
start_server acrctl "$WORK/srv" memory auth
H=$SERVER_HOST
failures=0
step() { # DESCRIPTION CMD...
	local what=$1
	shift
	if "$@" >"$WORK/step.log" 2>&1; then
		echo "  ok   $what"
	else
		echo "  FAIL $what"
		sed 's/^/       /' "$WORK/step.log" | tail -n 8
		failures=$((failures + 1))
		return 1
	fi
}
same() { # FILE COPY WHAT
	if cmp -s "$1" "$2"; then echo "  ok   $3: $(basename "$1") identical"; else
		echo "  FAIL $3: $(basename "$1") differs or is missing"
		failures=$((failures + 1))
	fi
}

SRC=$WORK/src
mkdir -p "$SRC"
echo "hello from acrgo" >"$SRC/hello.txt"
echo '{"k":"v"}' >"$SRC/data.json"
head -c $((5 << 20)) /dev/urandom >"$SRC/big.bin"
FILES=(hello.txt data.json big.bin)
BIG=sha256:$(sha256sum "$SRC/big.bin" | cut -d' ' -f1)
AT=application/vnd.acrgo.interop

echo "== log in once with acrctl; every tool reads docker's config.json"
step "acrctl login" acrctl login "$H" -u "$CI_USER" --password-stdin <<<"$CI_PASS"
step "regctl registry set (plain http)" regctl registry set "$H" --skip-check --tls disabled

echo "== acrctl pushes; oras, regctl and crane pull"
step "acrctl push" bash -c "cd '$SRC' && acrctl push '$H/interop/acr:v1' ${FILES[*]} --artifact-type $AT --no-progress"
step "oras pull" oras pull --plain-http "$H/interop/acr:v1" -o "$WORK/o1"
for f in "${FILES[@]}"; do same "$SRC/$f" "$WORK/o1/$f" "acrctl -> oras"; done
mkdir -p "$WORK/r1"
step "regctl artifact get" regctl artifact get "$H/interop/acr:v1" -o "$WORK/r1"
for f in "${FILES[@]}"; do same "$SRC/$f" "$WORK/r1/$f" "acrctl -> regctl"; done
step "crane blob" bash -c "crane blob --insecure '$H/interop/acr@$BIG' >'$WORK/c1-big.bin'"
same "$SRC/big.bin" "$WORK/c1-big.bin" "acrctl -> crane"

echo "== oras and regctl push; acrctl pulls"
step "oras push" bash -c "cd '$SRC' && oras push --plain-http '$H/interop/oras:v1' ${FILES[*]} --artifact-type $AT"
step "acrctl pull (oras)" acrctl pull "$H/interop/oras:v1" --output-dir "$WORK/a1"
for f in "${FILES[@]}"; do same "$SRC/$f" "$WORK/a1/$f" "oras -> acrctl"; done
args=()
for f in "${FILES[@]}"; do args+=(-f "$f" -m application/octet-stream); done
step "regctl artifact put" bash -c "cd '$SRC' && regctl artifact put --artifact-type $AT --file-title ${args[*]} '$H/interop/regctl:v1'"
step "acrctl pull (regctl)" acrctl pull "$H/interop/regctl:v1" --output-dir "$WORK/a2"
for f in "${FILES[@]}"; do same "$SRC/$f" "$WORK/a2/$f" "regctl -> acrctl"; done
step "crane append" bash -c "cd '$SRC' && tar cf '$WORK/files.tar' ${FILES[*]} && crane append --insecure --oci-empty-base -f '$WORK/files.tar' -t '$H/interop/crane:v1'"
step "acrctl copy crane's image" acrctl copy "$H/interop/crane:v1" "$H/interop/crane-copy:v1" --no-progress
step "crane export of acrctl's copy" crane export --insecure "$H/interop/crane-copy:v1" "$WORK/crane-copy.tar"
mkdir -p "$WORK/cx" && tar xf "$WORK/crane-copy.tar" -C "$WORK/cx"
for f in "${FILES[@]}"; do same "$SRC/$f" "$WORK/cx/$f" "crane -> acrctl copy -> crane"; done

echo "== OCI layouts: written by each, read by the others"
step "acrctl copy to oci:" acrctl copy "$H/interop/acr:v1" "oci:$WORK/L-acr:v1" --no-progress
step "oras reads acrctl's layout" oras cp --from-oci-layout "$WORK/L-acr:v1" "$H/interop/via-oras:v1" --to-plain-http
step "regctl reads acrctl's layout" regctl image copy "ocidir://$WORK/L-acr:v1" "$H/interop/via-regctl:v1"
step "crane reads acrctl's layout" crane push --insecure "$WORK/L-acr" "$H/interop/via-crane:v1"
for via in oras regctl; do
	step "acrctl pull via-$via" acrctl pull "$H/interop/via-$via:v1" --output-dir "$WORK/via-$via"
	for f in "${FILES[@]}"; do same "$SRC/$f" "$WORK/via-$via/$f" "acrctl layout -> $via"; done
done
want=$(crane digest --insecure "$H/interop/acr:v1")
step "crane pushed acrctl's layout unchanged" test "$(crane digest --insecure "$H/interop/via-crane:v1" 2>/dev/null || true)" = "$want" -o -n "$(crane manifest --insecure "$H/interop/via-crane:v1" | grep -F "${want#sha256:}" || true)"
step "oras writes a layout" oras cp --from-plain-http "$H/interop/oras:v1" --to-oci-layout "$WORK/L-oras:v1"
step "regctl writes a layout" regctl image copy "$H/interop/regctl:v1" "ocidir://$WORK/L-regctl:v1"
step "crane writes a layout" crane pull --insecure --format=oci "$H/interop/crane:v1" "$WORK/L-crane"
step "acrctl reads oras's layout" acrctl copy "oci:$WORK/L-oras:v1" "$H/interop/from-oras-layout:v1" --no-progress
step "acrctl reads regctl's layout" acrctl copy "oci:$WORK/L-regctl:v1" "$H/interop/from-regctl-layout:v1" --no-progress
step "acrctl reads crane's layout (untagged)" acrctl copy "oci:$WORK/L-crane" "$H/interop/from-crane-layout:v1" --no-progress
for t in oras regctl; do
	step "acrctl pull from-$t-layout" acrctl pull "$H/interop/from-$t-layout:v1" --output-dir "$WORK/fl-$t"
	for f in "${FILES[@]}"; do same "$SRC/$f" "$WORK/fl-$t/$f" "$t layout -> acrctl"; done
done
step "crane's image survives its layout through acrctl" test "$(crane digest --insecure "$H/interop/from-crane-layout:v1")" = "$(crane digest --insecure "$H/interop/crane:v1")"

if ((failures)); then
	die "interop: $failures checks failed"
fi
echo "interop: all passed"
