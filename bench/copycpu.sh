#!/usr/bin/env bash
# An A/B of registry-to-registry copies (W2, 8 x 64 MiB) in the manner of
# pushcpu.sh: the image waits in a source server of the given kind, each
# variant copies it to a fresh destination server of the same kind, the
# variants' order rotating run by run, and one line a run gives the wall
# time, the client's CPU (user + system, /usr/bin/time) and each server's
# CPU over the copy (utime + stime from /proc/PID/stat). On two cores all
# three are busy at once, so the client's CPU shows in the wall time.
#
# Usage: bench/copycpu.sh SERVER VARIANT...
#   SERVER   memory, disk or reference
#   VARIANT  acrctl, oras, crane or regctl; acrctl@FILE copies with the
#            acrctl binary FILE instead of this tree's (for A/B of the
#            client), as in
#            git worktree add /tmp/old HEAD~1 && (cd /tmp/old && go build -o /tmp/acrctl-old ./cmd/acrctl)
#            bench/copycpu.sh memory acrctl acrctl@/tmp/acrctl-old oras
#   RUNS=6   runs per variant; the medians per variant follow the runs'
#            lines
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/lib.sh"
cd "$ROOT"
(($# >= 2)) || die "usage: bench/copycpu.sh SERVER VARIANT... (see the comment at its top)"
s=$1
shift
RUNS=${RUNS:-6}
need_tools oras crane regctl registry
init_work acr-copycpu
BIN=$WORK/bin
mkdir -p "$BIN"
go build -o "$BIN/acrctl" ./cmd/acrctl
go build -o "$BIN/genlayout" ./bench/genlayout
"$BIN/genlayout" -dir "$WORK/src" -layers 8 -size $((64 << 20))
export DOCKER_CONFIG=$WORK/docker REGCTL_CONFIG=$WORK/regctl.json
mkdir -p "$DOCKER_CONFIG"
tck=$(getconf CLK_TCK)
TOOLS=$WORK/tools # start_server runs $TOOLS/acrctl and $TOOLS/registry
mkdir -p "$TOOLS"
ln -s "$BIN/acrctl" "$TOOLS/acrctl"
ln -s "$ROOT/.tools/registry" "$TOOLS/registry"
start() { # DIR: starts a server of kind $s
	case $s in
	memory) start_server acrctl "$1" memory ;;
	disk) start_server acrctl "$1" data ;;
	reference) start_server reference "$1" data ;;
	*) die "unknown server $s (want memory, disk or reference)" ;;
	esac
	"$ROOT/.tools/regctl" registry set "$SERVER_HOST" --skip-check --tls disabled >/dev/null
}
cpu() { # PID: its user + system clock ticks so far
	local u st
	read -r u st < <(cut -d' ' -f14-15 "/proc/$1/stat")
	echo $((u + st))
}
start "$WORK/from"
spid=$SERVER_PID from=$SERVER_HOST/bench/w2:v1
"$BIN/acrctl" copy "oci:$WORK/src:v1" "$from" --no-progress >/dev/null
variants=("$@")
for ((run = 1; run <= RUNS; run++)); do
	k=$(((run - 1) % ${#variants[@]}))
	for v in "${variants[@]:k}" "${variants[@]:0:k}"; do
		c=$v cbin=$BIN/acrctl
		if [[ $c == *@* ]]; then
			cbin=$(realpath "${c#*@}") c=${c%%@*}
		fi
		start "$WORK/to"
		to=$SERVER_HOST/bench/w2:v1
		case $c in
		acrctl) CMD=("$cbin" copy "$from" "$to" --no-progress) ;;
		oras) CMD=("$ROOT/.tools/oras" cp --from-plain-http --to-plain-http "$from" "$to") ;;
		crane) CMD=("$ROOT/.tools/crane" copy --insecure "$from" "$to") ;;
		regctl) CMD=("$ROOT/.tools/regctl" image copy "$from" "$to") ;;
		*) die "unknown client $c" ;;
		esac
		s0=$(cpu "$spid") d0=$(cpu "$SERVER_PID")
		t0=$EPOCHREALTIME
		/usr/bin/time -f '%U %S' -o "$WORK/time" "${CMD[@]}" >/dev/null 2>"$WORK/err" || { log "FAIL: $v"; cat "$WORK/err" >&2; }
		t1=$EPOCHREALTIME
		s1=$(cpu "$spid") d1=$(cpu "$SERVER_PID")
		read -r cu cs <"$WORK/time"
		awk -v v="$v" -v r=$run -v a="$t0" -v b="$t1" -v c="$(awk -v u="$cu" -v s="$cs" 'BEGIN {print u + s}')" \
			-v src=$((s1 - s0)) -v dst=$((d1 - d0)) -v tck="$tck" \
			'BEGIN {printf "%-24s run %d: wall %.2f s, client CPU %.2f s, source CPU %.2f s, destination CPU %.2f s\n",
				v, r, b - a, c, src / tck, dst / tck}' | tee -a "$WORK/lines"
		stop_server "$SERVER_PID"
		rm -rf "$WORK/to"
	done
done
# Medians per variant, in the order given.
echo
for v in "$@"; do
	awk -v v="$v" '$1 == v {w[++n] = $5; c[n] = $9; d[n] = $17}
		function med(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		END {if (n) printf "%-24s median of %d: wall %.2f s, client CPU %.2f s, destination CPU %.2f s\n", v, n, med(w, n), med(c, n), med(d, n)}' "$WORK/lines"
done
