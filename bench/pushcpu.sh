#!/usr/bin/env bash
# An A/B of pushes that reports what machine load does not blur: each
# variant pushes a workload's OCI layout to a fresh server, variants
# alternating run by run, and one line a run gives the wall time, the
# client's CPU (user + system, /usr/bin/time) and peak RSS, and the server's
# CPU (utime + stime from /proc/PID/stat, system time apart) and minor page
# faults over the push.
#
# Usage: bench/pushcpu.sh SERVER W VARIANT...
#   SERVER   memory, disk or reference; with -tls (memory-tls, ...) the
#            server has a self-signed certificate, which acrctl trusts
#            with --ca-file and the peers through SSL_CERT_FILE
#   W        w1 (1 x 1 GiB), w2 (8 x 64 MiB) or w3 (1,000 x 4 KiB)
#   VARIANT  CLIENT or BIN/CLIENT: CLIENT is acrctl, oras, crane, regctl or
#            acrctl-cN (acrctl with --concurrency N); BIN, when given, is an
#            acrctl binary to serve with instead of this tree's (for A/B of
#            the server: build the other commit's cmd/acrctl to a file);
#            acrctl@FILE (or acrctl-cN@FILE) pushes with the acrctl binary
#            FILE instead of this tree's (for A/B of the client), as in
#            git worktree add /tmp/old HEAD~1 && (cd /tmp/old && go build -o /tmp/acrctl-old ./cmd/acrctl)
#            bench/pushcpu.sh reference w1 acrctl acrctl@/tmp/acrctl-old regctl
#   RUNS=4   runs per variant; the variants' order rotates run by run, and
#            the medians per variant follow the runs' lines
#
# Before a push of big blobs it settles memory as bench/run.sh does (the
# source read into the page cache, 1.5 GiB written and deleted).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/lib.sh"
cd "$ROOT"
(($# >= 3)) || die "usage: bench/pushcpu.sh SERVER W VARIANT... (see the comment at its top)"
s=${1%-tls} w=$2 tls=
[[ $1 != *-tls ]] || tls=tls
shift 2
RUNS=${RUNS:-4}
need_tools oras crane regctl registry
init_work acr-pushcpu
BIN=$WORK/bin
mkdir -p "$BIN"
go build -o "$BIN/acrctl" ./cmd/acrctl
go build -o "$BIN/genlayout" ./bench/genlayout
case $w in
w1) "$BIN/genlayout" -dir "$WORK/src" -layers 1 -size $((1 << 30)) ;;
w2) "$BIN/genlayout" -dir "$WORK/src" -layers 8 -size $((64 << 20)) ;;
w3) "$BIN/genlayout" -dir "$WORK/src" -layers 1000 -size 4096 ;;
*) die "unknown workload $w (want w1, w2 or w3)" ;;
esac
export DOCKER_CONFIG=$WORK/docker REGCTL_CONFIG=$WORK/regctl.json
mkdir -p "$DOCKER_CONFIG"
src=$WORK/src
tck=$(getconf CLK_TCK)
TOOLS=$WORK/tools # start_server runs $TOOLS/acrctl and $TOOLS/registry
mkdir -p "$TOOLS"
ln -s "$ROOT/.tools/registry" "$TOOLS/registry"
variants=("$@")
for ((run = 1; run <= RUNS; run++)); do
	# The order rotates run by run (A B C, B C A, ...): with a fixed order
	# the later variants were favoured (bench/RESULTS.md, "The two rows
	# still under 1.0x").
	k=$(((run - 1) % ${#variants[@]}))
	for v in "${variants[@]:k}" "${variants[@]:0:k}"; do
		sv=$v cbin=$BIN/acrctl
		if [[ $sv == *@* ]]; then
			cbin=$(realpath "${sv#*@}") sv=${sv%%@*}
		fi
		c=${sv##*/} sbin=$BIN/acrctl
		[[ $sv != */* ]] || sbin=$(realpath "${sv%/*}")
		ln -sf "$sbin" "$TOOLS/acrctl"
		case $s in
		memory) start_server acrctl "$WORK/a" memory $tls ;;
		disk) start_server acrctl "$WORK/a" data $tls ;;
		reference) start_server reference "$WORK/a" data $tls ;;
		*) die "unknown server $s (want memory, disk or reference)" ;;
		esac
		"$ROOT/.tools/regctl" registry set "$SERVER_HOST" --skip-check --tls "$([[ $tls ]] && echo enabled || echo disabled)" >/dev/null
		ref=$SERVER_HOST/bench/$w:v1
		trust=() plain=(--to-plain-http) insecure=(--insecure)
		if [[ $tls ]]; then
			export SSL_CERT_FILE=$SERVER_CERT
			trust=(--ca-file "$SERVER_CERT") plain=() insecure=()
		fi
		case $c in
		acrctl) CMD=("$cbin" copy "oci:$src:v1" "$ref" --no-progress "${trust[@]}") ;;
		acrctl-c*) CMD=("$cbin" copy "oci:$src:v1" "$ref" --no-progress "${trust[@]}" --concurrency "${c#acrctl-c}") ;;
		oras) CMD=("$ROOT/.tools/oras" cp --from-oci-layout "$src:v1" "$ref" "${plain[@]}") ;;
		crane) CMD=("$ROOT/.tools/crane" push "${insecure[@]}" "$src" "$ref") ;;
		regctl) CMD=("$ROOT/.tools/regctl" image copy "ocidir://$src:v1" "$ref") ;;
		*) die "unknown client $c" ;;
		esac
		if [[ $w != w3 ]]; then
			cat "$src"/blobs/sha256/* >/dev/null
			head -c 1536M /dev/zero >"$WORK/ballast"
			rm -f "$WORK/ballast"
		fi
		read -r f0 _ _ _ u0 s0 < <(cut -d' ' -f10-15 "/proc/$SERVER_PID/stat")
		t0=$EPOCHREALTIME
		/usr/bin/time -f '%U %S %M' -o "$WORK/time" "${CMD[@]}" >/dev/null 2>"$WORK/err" || { log "FAIL: $v"; cat "$WORK/err" >&2; }
		t1=$EPOCHREALTIME
		read -r f1 _ _ _ u1 s1 < <(cut -d' ' -f10-15 "/proc/$SERVER_PID/stat")
		read -r cu cs crss <"$WORK/time"
		awk -v v="$v" -v r=$run -v a="$t0" -v b="$t1" -v cu="$cu" -v cs="$cs" -v rss="$crss" -v tck="$tck" \
			-v su=$((u1 + s1 - u0 - s0)) -v ss=$((s1 - s0)) -v mf=$((f1 - f0)) \
			'BEGIN {printf "%-24s run %d: wall %.2f s, client CPU %.2f s (%d MiB), server CPU %.2f s (system %.2f), server minflt %d\n",
				v, r, b - a, cu + cs, rss / 1024, su / tck, ss / tck, mf}' | tee -a "$WORK/lines"
		stop_server "$SERVER_PID"
		rm -rf "$WORK/a"
	done
done
# Medians per variant, in the order given.
echo
for v in "$@"; do
	grep -F "$v " "$WORK/lines" | awk -v v="$v" '$1 == v {w[++n] = $5; c[n] = $9; s[n] = $15}
		function med(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		END {if (n) printf "%-24s median of %d: wall %.2f s, client CPU %.2f s, server CPU %.2f s\n", v, n, med(w, n), med(c, n), med(s, n)}'
done
