#!/usr/bin/env bash
# The emulator's registry benchmark: push and pull one 1 GiB incompressible
# blob and 1,000 small 4 KiB blobs through
#   acrctl     acrctl serve --data DIR
#   reference  distribution v3.1.2, filesystem store
#   floor      bench/floor: stores and serves bytes, nothing else (curl only)
# with the same clients: curl (POST + monolithic PUT ?digest=, GET to
# /dev/null) and oras (blob push / blob fetch for the big blob, push / pull of
# one 1,000-file artifact for the small ones).
#
# Servers alternate run by run (acrctl, reference, floor, acrctl, ...), each
# run on a fresh server and data dir; we record wall times per workload and
# the server's peak RSS (VmHWM) and CPU time, and print one markdown table of
# medians (min-max) and ratios, also written to bench/results/registry-DATE.md.
#
# Usage: bench/registry.sh
#   RUNS=3          runs per server
#   SERVERS="acrctl reference floor"
#   BIG_MIB=1024    size of the big blob; SMALL_N=1000 small blobs of 4 KiB
#                   (smaller values make a quick smoke run)
# Takes ~6-8 minutes at the defaults on a 2-vCPU machine.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/lib.sh"
cd "$ROOT"

RUNS=${RUNS:-3}
SERVERS=${SERVERS:-acrctl reference floor}
BIG_MIB=${BIG_MIB:-1024}
SMALL_N=${SMALL_N:-1000}
SMALL_SIZE=4096

need_tools oras registry
# Failing workloads print their log tails; keeping gigabytes of test data
# after a failure helps nobody, so the work dir goes unless KEEP_WORK=1.
KEEP_WORK=${KEEP_WORK:-0}
init_work acr-bench
started=$EPOCHREALTIME

# Our server is being written: skip it, loudly, until it exists and builds.
servers=()
for s in $SERVERS; do
	case $s in
	acrctl)
		if [[ ! -d cmd/acrctl ]]; then
			log "NOTE: skipping acrctl: ./cmd/acrctl does not exist yet (reference and floor only)"
			continue
		fi
		if ! go build -o "$TOOLS/acrctl" ./cmd/acrctl 2>"$WORK/acrctl-build.log"; then
			log "NOTE: skipping acrctl: ./cmd/acrctl does not build:"
			sed 's/^/  /' "$WORK/acrctl-build.log" >&2
			continue
		fi
		;;
	reference) ;;
	floor) go build -o "$TOOLS/floor" ./bench/floor ;;
	*) die "unknown server $s (want acrctl, reference, floor)" ;;
	esac
	servers+=("$s")
done
((${#servers[@]})) || die "no server to benchmark"

# ---- test data (made once; the page cache keeps it warm for every run) ------

log "making test data: 2 x $BIG_MIB MiB, 2 x $SMALL_N x 4 KiB"
DATA=$WORK/data
mkdir -p "$DATA/small-curl" "$DATA/small-oras"
# Two different big blobs and two small sets: every client skips blobs the
# repository already has, so curl and oras must not push the same bytes.
head -c "${BIG_MIB}M" /dev/urandom >"$DATA/big-curl.bin"
head -c "${BIG_MIB}M" /dev/urandom >"$DATA/big-oras.bin"
for set in curl oras; do
	head -c $((SMALL_N * SMALL_SIZE)) /dev/urandom |
		split -b "$SMALL_SIZE" -a 5 -d - "$DATA/small-$set/f"
done
# openssl uses SHA-NI; coreutils sha256sum is ~4x slower.
sha() { openssl dgst -sha256 -r "$@" | awk '{sub(/^\*/, "", $2); print "sha256:" $1, $2}'; }
BIG_CURL=$(sha "$DATA/big-curl.bin" | cut -d' ' -f1)
BIG_ORAS=$(sha "$DATA/big-oras.bin" | cut -d' ' -f1)
(cd "$DATA/small-curl" && sha f*) >"$DATA/small-curl.digests" # "digest file" lines
BIG_BYTES=$((BIG_MIB * 1024 * 1024))

# ---- clients -------------------------------------------------------------------

export DOCKER_CONFIG=$WORK/docker # no stray credentials for oras
mkdir -p "$DOCKER_CONFIG"
ORAS=("$TOOLS/oras")
oras_() { "${ORAS[@]}" "$@" --plain-http; }

# curl_push BASE REPO FILE DIGEST: POST, then monolithic PUT with ?digest=.
# `Expect:` stops curl from waiting for a 100-continue on large bodies.
curl_push() {
	local base=$1 repo=$2 file=$3 dgst=$4 loc code
	loc=$(curl -fsS -X POST -o /dev/null -w '%header{location}' "$base/v2/$repo/blobs/uploads/") || return 1
	[[ -n $loc ]] || { log "POST returned no Location"; return 1; }
	[[ $loc == /* ]] && loc=$base$loc # ACR returns relative locations
	if [[ $loc == *\?* ]]; then loc+="&digest=$dgst"; else loc+="?digest=$dgst"; fi
	code=$(curl -fsS -T "$file" -H 'Content-Type: application/octet-stream' -H 'Expect:' \
		-o /dev/null -w '%{http_code}' "$loc") || return 1
	[[ $code == 201 ]] || { log "PUT returned $code, want 201"; return 1; }
}

# curl_get_all BASE REPO DIGESTFILE: GET every blob over one connection.
curl_get_all() {
	local base=$1 repo=$2 list=$3 n ok
	awk -v u="$base/v2/$repo/blobs/" '{print "url = \"" u $1 "\"\noutput = \"/dev/null\""}' "$list" >"$WORK/get.curlrc"
	n=$(wc -l <"$list")
	ok=$(curl -sS -K "$WORK/get.curlrc" -w '%{http_code}\n' | grep -c '^200$') || true
	[[ $ok == "$n" ]] || { log "GET: $ok of $n blobs returned 200"; return 1; }
}

w_curl_push_big() { curl_push "$1" bench/curl "$DATA/big-curl.bin" "$BIG_CURL"; }
w_curl_pull_big() {
	local got
	got=$(curl -fsS -o /dev/null -w '%{size_download}' "$1/v2/bench/curl/blobs/$BIG_CURL") || return 1
	[[ $got == "$BIG_BYTES" ]] || { log "GET returned $got bytes, want $BIG_BYTES"; return 1; }
}
# Small pushes: one curl process per request would measure process start-up
# (~7 ms each here) more than the server, so one curl opens all the upload
# sessions over one connection, and a second completes them all.
w_curl_push_small() {
	local base=$1 repo=bench/curl-small n ok
	n=$(wc -l <"$DATA/small-curl.digests")
	awk -v u="$base/v2/$repo/blobs/uploads/" '{print "url = \"" u "\"\noutput = \"/dev/null\""}' \
		"$DATA/small-curl.digests" >"$WORK/post.curlrc"
	curl -sS -X POST -K "$WORK/post.curlrc" -w '%{http_code} %header{location}\n' >"$WORK/post.out" || return 1
	ok=$(grep -c '^202 ' "$WORK/post.out") || true
	[[ $ok == "$n" ]] || { log "POST: $ok of $n returned 202"; return 1; }
	# PUT each location with its blob and ?digest= (relative locations get the base).
	cut -d' ' -f2- "$WORK/post.out" | tr -d '\r' | paste -d' ' - "$DATA/small-curl.digests" |
		awk -v base="$base" -v dir="$DATA/small-curl" '{
			loc = $1; if (loc ~ /^\//) loc = base loc
			loc = loc ((loc ~ /\?/) ? "&" : "?") "digest=" $2
			print "url = \"" loc "\"\nupload-file = \"" dir "/" $3 "\"\noutput = \"/dev/null\""
		}' >"$WORK/put.curlrc"
	curl -sS -K "$WORK/put.curlrc" -H 'Content-Type: application/octet-stream' -H 'Expect:' \
		-w '%{http_code}\n' >"$WORK/put.out" || return 1
	ok=$(grep -c '^201$' "$WORK/put.out") || true
	[[ $ok == "$n" ]] || { log "PUT: $ok of $n returned 201"; return 1; }
}
w_curl_pull_small() { curl_get_all "$1" bench/curl-small "$DATA/small-curl.digests"; }
w_oras_push_big() { oras_ blob push "$2/bench/oras@$BIG_ORAS" "$DATA/big-oras.bin"; }
w_oras_pull_big() {
	# --output - to /dev/null: time the transfer and digest check, not a disk write.
	oras_ blob fetch "$2/bench/oras@$BIG_ORAS" --output - >/dev/null
}
w_oras_push_small() {
	(cd "$DATA/small-oras" && oras_ push "$2/bench/small:v1" --artifact-type application/vnd.acrgo.bench f*)
}
w_oras_pull_small() {
	rm -rf "$WORK/pull-small"
	oras_ pull "$2/bench/small:v1" -o "$WORK/pull-small" &&
		[[ $(find "$WORK/pull-small" -type f | wc -l) == "$SMALL_N" ]]
}

# Workloads in run order: id, label, clients that the floor supports.
WORKLOADS=(
	"curl_push_big|curl push ${BIG_MIB} MiB blob|floor"
	"curl_pull_big|curl pull ${BIG_MIB} MiB blob|floor"
	"oras_push_big|oras blob push ${BIG_MIB} MiB|"
	"oras_pull_big|oras blob fetch ${BIG_MIB} MiB|"
	"curl_push_small|curl push ${SMALL_N} x 4 KiB (all POSTs, then all PUTs)|floor"
	"curl_pull_small|curl pull ${SMALL_N} x 4 KiB (one connection)|floor"
	"oras_push_small|oras push ${SMALL_N} x 4 KiB (one artifact)|"
	"oras_pull_small|oras pull ${SMALL_N} x 4 KiB|"
)

# ---- runs ------------------------------------------------------------------------

TIMES=$WORK/times.tsv # server, workload id, seconds (or FAIL)
: >"$TIMES"
CLK_TCK=$(getconf CLK_TCK)
failed=0

start_floor() {
	local dir=$1 port
	mkdir -p "$dir/data"
	port=$(free_port)
	: >"$dir/stdout"
	"$TOOLS/floor" -addr "127.0.0.1:$port" -dir "$dir/data" >"$dir/stdout" 2>"$dir/stderr" &
	SERVER_PID=$!
	SERVER_PIDS+=("$SERVER_PID")
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q '^listening on ' "$dir/stdout" && break
		sleep 0.05
	done
	SERVER_URL=$(sed -n 's/^listening on //p' "$dir/stdout")
	[[ -n $SERVER_URL ]] || die "floor did not start: $(cat "$dir/stderr")"
	SERVER_HOST=${SERVER_URL#*://}
}

for ((run = 1; run <= RUNS; run++)); do
	for s in "${servers[@]}"; do
		dir=$WORK/run-$run-$s
		case $s in
		acrctl) start_server acrctl "$dir" data ;;
		reference) start_server reference "$dir" data ;;
		floor) start_floor "$dir" ;;
		esac
		line="run $run/$RUNS $s:"
		for w in "${WORKLOADS[@]}"; do
			IFS='|' read -r id label floor_ok <<<"$w"
			[[ $s != floor || -n $floor_ok ]] || continue
			t0=$EPOCHREALTIME
			if "w_$id" "$SERVER_URL" "$SERVER_HOST" >"$dir/$id.log" 2>&1; then
				secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')
				line+=" $id=${secs}s"
			else
				secs=FAIL
				failed=1
				log "FAIL: $s $id (run $run):"
				tail -n 10 "$dir/$id.log" | sed 's/^/  /' >&2
				line+=" $id=FAIL"
			fi
			printf '%s\t%s\t%s\n' "$s" "$id" "$secs" >>"$TIMES"
		done
		# Read peak RSS and CPU before stopping: /proc/PID goes with the process.
		rss=$(peak_rss_kib "$SERVER_PID")
		cpu=$(awk -v t="$CLK_TCK" '{printf "%.2f", ($14 + $15) / t}' "/proc/$SERVER_PID/stat")
		printf '%s\t%s\t%s\n' "$s" rss "$rss" "$s" cpu "$cpu" >>"$TIMES"
		stop_server "$SERVER_PID"
		rm -rf "$dir/data" # keep logs, free the disk
		log "$line rss=$((rss / 1024))MiB cpu=${cpu}s"
	done
done

# ---- report ------------------------------------------------------------------------

mkdir -p "$ROOT/bench/results"
out=$ROOT/bench/results/registry-$(date +%Y-%m-%d).md
[[ ! -e $out ]] || out=$ROOT/bench/results/registry-$(date +%Y-%m-%d-%H%M%S).md

# stats SERVER ID: "median min max" over the runs, or "FAIL" / "" (not run).
stats() {
	awk -F'\t' -v s="$1" -v w="$2" '
		$1 == s && $2 == w { if ($3 == "FAIL") bad = 1; else v[n++] = $3 + 0 }
		END {
			if (bad) { print "FAIL"; exit }
			if (n == 0) exit
			# insertion sort: n is tiny
			for (i = 1; i < n; i++) { x = v[i]; for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
			med = (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
			print med, v[0], v[n - 1]
		}' "$TIMES"
}
# cell SERVER ID UNIT: "median unit (min-max)".
cell() {
	local st
	st=$(stats "$1" "$2")
	case $st in
	"") echo "—" ;;
	FAIL) echo "FAIL" ;;
	*) awk -v u="$3" -v r="$RUNS" '{
			f = (u == "MiB") ? "%.0f" : (($1 < 10) ? "%.2f" : "%.1f")
			c = sprintf(f " %s", $1, u)
			if (r > 1) c = c sprintf(" (" f "–" f ")", $2, $3)
			print c }' <<<"$st" ;;
	esac
}
# ratio ID: reference median / acrctl median, i.e. our throughput relative to
# the reference (above 1: we are faster); for rss/cpu, above 1 means we use less.
ratio() {
	local a b
	a=$(stats acrctl "$1") b=$(stats reference "$1")
	[[ -n $a && -n $b && $a != FAIL && $b != FAIL ]] || { echo "—"; return; }
	awk -v a="${a%% *}" -v b="${b%% *}" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "—" }'
}

# Convert KiB to MiB for the RSS rows.
awk -F'\t' -v OFS='\t' '$2 == "rss" && $3 != "FAIL" { $3 = $3 / 1024 } 1' "$TIMES" >"$TIMES.mib"
mv "$TIMES.mib" "$TIMES"

{
	echo "# Registry benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "$(nproc) vCPU $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), $(go env GOVERSION)," \
		"commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)." \
		"RUNS=$RUNS per server, alternating ${servers[*]}; medians (min–max) of wall time;" \
		"each run on a fresh server and data dir."
	echo "acrctl: \`acrctl serve --data DIR\`; reference: distribution v3.1.2, filesystem store;" \
		"floor: bench/floor (stores and serves bytes, no hashing, no fsync)." \
		"Ratio = reference / acrctl (above 1: acrctl is faster, or uses less memory or CPU)."
	echo
	echo "| workload | acrctl | reference | floor | acrctl vs reference |"
	echo "|---|---|---|---|---|"
	for w in "${WORKLOADS[@]}"; do
		IFS='|' read -r id label _ <<<"$w"
		echo "| $label | $(cell acrctl "$id" s) | $(cell reference "$id" s) | $(cell floor "$id" s) | $(ratio "$id") |"
	done
	echo "| server peak RSS (VmHWM) | $(cell acrctl rss MiB) | $(cell reference rss MiB) | $(cell floor rss MiB) | $(ratio rss) |"
	echo "| server CPU time per run | $(cell acrctl cpu s) | $(cell reference cpu s) | $(cell floor cpu s) | $(ratio cpu) |"
	if [[ " ${servers[*]} " != *" acrctl "* ]]; then
		echo
		echo "acrctl was skipped: ./cmd/acrctl did not exist or did not build."
	fi
} >"$out"

echo
cat "$out"
echo
log "written to ${out#"$ROOT"/} in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}') s"
((failed == 0)) || die "some workloads failed (see above)"
