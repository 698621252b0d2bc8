#!/usr/bin/env bash
# The side-by-side benchmark: clients acrctl, oras, crane, regctl and curl
# against our registry (`acrctl serve`, memory and disk), the reference
# registry (distribution v3.1.2, filesystem store) and, for curl, bench/floor
# (a server that stores and serves bytes and nothing else), all on loopback.
#
#   W1  push and pull of an image of one 1 GiB layer
#   W2  push, pull and registry-to-registry copy of an image of 8 x 64 MiB
#   W3  push and pull of an image of 1,000 layers of 4 KiB
#   W4  listing 10,000 tags
#   W5  a dry-run purge over 20,000 tags (acrctl; the peers have no purge)
#   W6  the registry under load: 32 clients each push then pull 50 small
#       images (bench/load: POST + PUT per blob, manifest PUT by tag, then
#       GET all back, verified), plain HTTP; throughput, p50/p99 latency of
#       every request and the server's peak RSS
#   W7  a large registry: 10,000 repositories, 100,000 tags (gentags through
#       the API); `acrctl repo list` (the catalog) and a dry-run purge over
#       every tag, with the client's and the server's peak RSS (our
#       registry only: the reference registry has no such API to compare)
#
# Push copies an OCI layout into the registry and pull copies it back into a
# new layout, with each tool's own command (so all do the same work); copy
# goes between two registries of the same kind. curl moves the blobs only
# (POST + monolithic PUT with ?digest=, GET to /dev/null, 8 in parallel,
# nothing verified): the floor of the transfer. All data is incompressible.
#
# Clients alternate run by run, the order rotating each run (A B C D E,
# B C D E A, ...), each run of W1-W3 on fresh servers; W4 and W5 run on one populated server per kind, and a
# separate pass through bench/reqcount counts each client's requests. We
# record wall time, the client's peak RSS (/usr/bin/time) and the server's
# (VmHWM), and print markdown tables of medians (min-max), ratios and the
# issue's targets, also written to bench/results/run-DATE.md.
#
# Usage: bench/run.sh
#   RUNS=3                              runs per client and server
#   SERVERS="memory disk reference floor"
#   CLIENTS="acrctl oras crane regctl curl"
#   WORKLOADS="W1 W2 W3 W4 W5 W6 W7"
#   BIG_MIB=1024 SMALL_N=1000 TAGS_N=10000 PURGE_N=20000   (smaller: a smoke run)
#   LOAD_CLIENTS=32 LOAD_IMAGES=50 W7_REPOS=10000 W7_TAGS=100000
#   WARM_GIB=6                          page cache warmed before the runs (see below)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/lib.sh"
cd "$ROOT"

RUNS=${RUNS:-3}
SERVERS=${SERVERS:-memory disk reference floor}
CLIENTS=${CLIENTS:-acrctl oras crane regctl curl}
WORKLOADS=${WORKLOADS:-W1 W2 W3 W4 W5 W6 W7}
BIG_MIB=${BIG_MIB:-1024}
SMALL_N=${SMALL_N:-1000}
TAGS_N=${TAGS_N:-10000}
PURGE_N=${PURGE_N:-20000}
LOAD_CLIENTS=${LOAD_CLIENTS:-32}
LOAD_IMAGES=${LOAD_IMAGES:-50}
W7_REPOS=${W7_REPOS:-10000}
W7_TAGS=${W7_TAGS:-100000}
KEEP_WORK=${KEEP_WORK:-0}
WARM_GIB=${WARM_GIB:-6}

need_tools oras crane regctl registry
init_work acr-bench
started=$EPOCHREALTIME
for cmd in acrctl genlayout gentags reqcount floor load; do
	case $cmd in
	acrctl) pkg=./cmd/acrctl ;;
	*) pkg=./bench/$cmd ;;
	esac
	go build -o "$TOOLS/$cmd" "$pkg"
done
export PATH=$TOOLS:$PATH
has() { [[ " $1 " == *" $2 "* ]]; }

# ---- test data -----------------------------------------------------------------

log "making layouts: 1 x $BIG_MIB MiB, 8 x 64 MiB, $SMALL_N x 4 KiB"
has "$WORKLOADS" W1 && genlayout -dir "$WORK/src-w1" -layers 1 -size $((BIG_MIB << 20))
has "$WORKLOADS" W2 && genlayout -dir "$WORK/src-w2" -layers 8 -size $((64 << 20))
has "$WORKLOADS" W3 && genlayout -dir "$WORK/src-w3" -layers "$SMALL_N" -size 4096
# blobs-wN: "digest path" of every config and layer, for curl.
for w in w1 w2 w3; do
	[[ -d $WORK/src-$w ]] || continue
	python3 - "$WORK/src-$w" >"$WORK/blobs-$w" <<'PY'
import json, sys, os
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "index.json")))
m = idx["manifests"][0]["digest"]
man = json.load(open(os.path.join(d, "blobs", *m.split(":"))))
for desc in [man["config"]] + man["layers"]:
    print(desc["digest"], os.path.join(d, "blobs", *desc["digest"].split(":")))
PY
done

# This VM pages out memory that stays cold for a few seconds (DAMON
# "pageout"), and touching such memory again costs ~3 s of system time per
# GiB: the first 1 GiB file written after an idle spell took 3.2 s, the next
# 0.2 s (a Go program writing 512 KiB pieces, 2026-12-04). Writing and
# deleting a ballast first puts host-backed pages on the free list, so that
# the first tool to run does not pay for everyone.
log "warming $WARM_GIB GiB of page cache"
head -c "${WARM_GIB}G" /dev/zero >"$WORK/ballast"
rm -f "$WORK/ballast"

# settle OP W: just before a timed transfer of big blobs, put the source in
# the page cache and 1.5 GiB of warm pages on the free list (written and
# deleted), so that no tool pays for memory the VM paged out meanwhile.
settle() {
	[[ $2 != w3 ]] || return 0
	if [[ $1 == push ]]; then
		cat "$WORK/src-$2"/blobs/sha256/* >/dev/null
	fi
	head -c 1536M /dev/zero >"$WORK/ballast"
	rm -f "$WORK/ballast"
}

RESULTS=$WORK/results.tsv # server client op secs client_rss_kib requests
LOADTSV=$WORK/load.tsv    # server workload run key=value... (W6, W7)
: >"$LOADTSV"
SRSS=$WORK/server-rss.tsv # server op-group rss_kib
: >"$RESULTS"
: >"$SRSS"
export DOCKER_CONFIG=$WORK/docker REGCTL_CONFIG=$WORK/regctl.json
mkdir -p "$DOCKER_CONFIG"

# ---- servers -------------------------------------------------------------------

start_floor() {
	local dir=$1 port i
	mkdir -p "$dir/data"
	port=$(free_port)
	: >"$dir/stdout"
	floor -addr "127.0.0.1:$port" -dir "$dir/data" >"$dir/stdout" 2>"$dir/stderr" &
	SERVER_PID=$!
	SERVER_PIDS+=("$SERVER_PID")
	for ((i = 0; i < 200; i++)); do
		grep -q '^listening on ' "$dir/stdout" && break
		sleep 0.05
	done
	SERVER_URL=$(sed -n 's/^listening on //p' "$dir/stdout")
	[[ -n $SERVER_URL ]] || die "floor did not start: $(cat "$dir/stderr")"
	SERVER_HOST=${SERVER_URL#*://}
}

# start KIND DIR: a fresh server; sets SERVER_HOST, SERVER_URL, SERVER_PID.
start() {
	case $1 in
	memory) start_server acrctl "$2" memory ;;
	disk) start_server acrctl "$2" data ;;
	reference) start_server reference "$2" data ;;
	floor) start_floor "$2" ;;
	esac
	regctl registry set "$SERVER_HOST" --skip-check --tls disabled >/dev/null
}

# finish KIND GROUP PID: record the server's peak RSS and stop it.
finish() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$(peak_rss_kib "$3")" >>"$SRSS"
	stop_server "$3"
}

# ---- clients -------------------------------------------------------------------

# curl_push BASE REPO LIST: every blob of LIST, 8 at a time: one curl opens
# the upload sessions, a second PUTs the bytes with ?digest=.
curl_push() {
	local base=$1 repo=$2 list=$3 part
	# In batches of 100: our registry opens at most 128 upload sessions per
	# client at once (a hardening limit), and the POSTs all come first.
	rm -f "$WORK"/curl-part.*
	split -l 100 "$list" "$WORK/curl-part."
	for part in "$WORK"/curl-part.*; do
		curl_push_batch "$base" "$repo" "$part" || return 1
	done
}

# curl_push_batch BASE REPO LIST: POST a session for every blob of LIST,
# then PUT each into its session, 8 at a time.
curl_push_batch() {
	local base=$1 repo=$2 list=$3 n ok
	n=$(wc -l <"$list")
	awk -v u="$base/v2/$repo/blobs/uploads/" '{print "url = \"" u "\"\noutput = \"/dev/null\""}' "$list" >"$WORK/post.curlrc"
	curl -sS -X POST -K "$WORK/post.curlrc" -w '%{http_code} %header{location}\n' >"$WORK/post.out" || return 1
	ok=$(grep -c '^202 ' "$WORK/post.out") || true
	[[ $ok == "$n" ]] || { echo "POST: $ok of $n returned 202"; return 1; }
	cut -d' ' -f2- "$WORK/post.out" | tr -d '\r' | paste -d' ' - "$list" |
		awk -v base="$base" '{
			loc = $1; if (loc ~ /^\//) loc = base loc
			loc = loc ((loc ~ /\?/) ? "&" : "?") "digest=" $2
			print "url = \"" loc "\"\nupload-file = \"" $3 "\"\noutput = \"/dev/null\""
		}' >"$WORK/put.curlrc"
	curl -sS -Z --parallel-max 8 -K "$WORK/put.curlrc" -H 'Content-Type: application/octet-stream' \
		-H 'Expect:' -w '%{http_code}\n' >"$WORK/put.out" || return 1
	ok=$(grep -c '^201$' "$WORK/put.out") || true
	[[ $ok == "$n" ]] || { echo "PUT: $ok of $n returned 201"; return 1; }
}

# curl_pull BASE REPO LIST: GET every blob of LIST to /dev/null, 8 at a time.
curl_pull() {
	local base=$1 repo=$2 list=$3 n ok
	n=$(wc -l <"$list")
	awk -v u="$base/v2/$repo/blobs/" '{print "url = \"" u $1 "\"\noutput = \"/dev/null\""}' "$list" >"$WORK/get.curlrc"
	ok=$(curl -sS -Z --parallel-max 8 -K "$WORK/get.curlrc" -w '%{http_code}\n' | grep -c '^200$') || true
	[[ $ok == "$n" ]] || { echo "GET: $ok of $n blobs returned 200"; return 1; }
}

# curl_list BASE REPO N: the tag list, n=N a page, following Link, checking
# the count (gentags names tags tNNNNN).
curl_list() {
	local base=$1 url="/v2/$2/tags/list?n=$3" got=0
	while [[ -n $url ]]; do
		curl -fsS -D "$WORK/list.hdr" -o "$WORK/list.json" "$base$url" || return 1
		got=$((got + $(grep -o '"t[0-9]\{5\}"' "$WORK/list.json" | wc -l)))
		url=$(tr -d '\r' <"$WORK/list.hdr" | sed -n 's/^[Ll]ink: *<\([^>]*\)>.*/\1/p')
	done
	[[ $got == "$3" ]] || { echo "listed $got tags, want $3"; return 1; }
}
export -f curl_push curl_push_batch curl_pull curl_list
export WORK TAGS_N

# cmdline CLIENT OP A B W: the client's command line for OP (push, pull, copy,
# list, purge) on workload W (w1, w2, w3, tags, purge), from or to host A (and
# B for copy), in the array CMD; false when the client has no such command.
cmdline() {
	local c=$1 op=$2 a=$3 b=$4 w=$5
	local src=$WORK/src-$w out=$WORK/out ref=$a/bench/$w:v1
	case $op:$c in
	push:acrctl) CMD=(acrctl copy "oci:$src:v1" "$ref" --no-progress) ;;
	push:oras) CMD=(oras cp --from-oci-layout "$src:v1" "$ref" --to-plain-http) ;;
	push:crane) CMD=(crane push --insecure "$src" "$ref") ;;
	push:regctl) CMD=(regctl image copy "ocidir://$src:v1" "$ref") ;;
	push:curl) CMD=(bash -c 'curl_push "$@"' _ "http://$a" "bench/$w" "$WORK/blobs-$w") ;;
	pull:acrctl) CMD=(acrctl copy "$ref" "oci:$out:v1" --no-progress) ;;
	pull:oras) CMD=(oras cp --from-plain-http "$ref" --to-oci-layout "$out:v1") ;;
	pull:crane) CMD=(crane pull --insecure --format=oci "$ref" "$out") ;;
	pull:regctl) CMD=(regctl image copy "$ref" "ocidir://$out:v1") ;;
	pull:curl) CMD=(bash -c 'curl_pull "$@"' _ "http://$a" "bench/$w" "$WORK/blobs-$w") ;;
	copy:acrctl) CMD=(acrctl copy "$ref" "$b/bench/$w:v1" --no-progress) ;;
	copy:oras) CMD=(oras cp --from-plain-http --to-plain-http "$ref" "$b/bench/$w:v1") ;;
	copy:crane) CMD=(crane copy --insecure "$ref" "$b/bench/$w:v1") ;;
	copy:regctl) CMD=(regctl image copy "$ref" "$b/bench/$w:v1") ;;
	list:acrctl) CMD=(acrctl tag list "$a/bench/tags") ;;
	list:oras) CMD=(oras repo tags --plain-http "$a/bench/tags") ;;
	list:crane) CMD=(crane ls --insecure "$a/bench/tags") ;;
	list:regctl) CMD=(regctl tag ls "$a/bench/tags") ;;
	list:curl) CMD=(bash -c 'curl_list "$@"' _ "http://$a" bench/tags "$TAGS_N") ;;
	purge:acrctl) CMD=(acrctl purge "$a" --filter 'bench/purge:.*' --ago 0 --dry-run) ;;
	*) return 1 ;;
	esac
}

failed=0
# timed SERVER CLIENT OP LABEL: run CMD, record seconds and the client's peak
# RSS under LABEL (REQS, when set, is the request count to record).
timed() {
	local s=$1 c=$2 label=$4 secs rss t0
	# Wall time from the shell's microsecond clock: /usr/bin/time's %e has
	# 10 ms steps, as coarse as a whole W4 listing. It includes
	# /usr/bin/time's own start (about 1 ms), the same for every client.
	t0=$EPOCHREALTIME
	if ! /usr/bin/time -o "$WORK/time.out" -f '%e %M' "${CMD[@]}" >"$WORK/cmd.out" 2>"$WORK/cmd.err"; then
		log "FAIL: $s $c $label: ${CMD[*]}"
		tail -n 5 "$WORK/cmd.out" "$WORK/cmd.err" | sed 's/^/  /' >&2
		printf '%s\t%s\t%s\tFAIL\t0\t\n' "$s" "$c" "$label" >>"$RESULTS"
		failed=1
		return 0
	fi
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.4f", b - a}')
	read -r _ rss <"$WORK/time.out"
	printf '%s\t%s\t%s\t%s\t%s\t\n' "$s" "$c" "$label" "$secs" "$rss" >>"$RESULTS"
	line+=" $label=${secs}s"
}

# ---- W1-W3: transfers, each client on fresh servers ------------------------------

transfer_ops=()
has "$WORKLOADS" W1 && transfer_ops+=(push:w1 pull:w1)
has "$WORKLOADS" W2 && transfer_ops+=(push:w2 pull:w2 copy:w2)
has "$WORKLOADS" W3 && transfer_ops+=(push:w3 pull:w3)
if ((${#transfer_ops[@]})); then
	for ((run = 1; run <= RUNS; run++)); do
		# Rotate the order each run (A B C, then B C A, ...): whoever runs
		# first after a pause pays for the VM's cold memory (see warm).
		read -ra order <<<"$CLIENTS"
		rot=$(((run - 1) % ${#order[@]}))
		order=("${order[@]:rot}" "${order[@]:0:rot}")
		for s in $SERVERS; do
			for c in "${order[@]}"; do
				[[ $s != floor || $c == curl ]] || continue
				start "$s" "$WORK/a"
				A=$SERVER_HOST PA=$SERVER_PID B= PB=
				if has "${transfer_ops[*]}" copy:w2 && cmdline "$c" copy x y w2; then
					start "$s" "$WORK/b"
					B=$SERVER_HOST PB=$SERVER_PID
				fi
				line="run $run/$RUNS $s $c:"
				for t in "${transfer_ops[@]}"; do
					op=${t%:*} w=${t#*:}
					cmdline "$c" "$op" "$A" "$B" "$w" || continue
					rm -rf "$WORK/out"
					settle "$op" "$w"
					timed "$s" "$c" "$op" "$op-$w"
				done
				rm -rf "$WORK/out"
				finish "$s" transfer "$PA"
				[[ -z $PB ]] || finish "$s" transfer "$PB"
				rm -rf "$WORK/a" "$WORK/b"
				log "$line"
			done
		done
	done
fi

# start_counter: a bench/reqcount proxy in front of SERVER_HOST; sets
# COUNTER_HOST and COUNTER_PID.
start_counter() {
	local i
	: >"$WORK/reqcount.out"
	reqcount -to "http://$SERVER_HOST" >"$WORK/reqcount.out" 2>"$WORK/reqcount.err" &
	COUNTER_PID=$!
	SERVER_PIDS+=("$COUNTER_PID")
	for ((i = 0; i < 200; i++)); do
		grep -q '^listening on ' "$WORK/reqcount.out" && break
		sleep 0.05
	done
	COUNTER_HOST=$(sed -n 's#^listening on http://##p' "$WORK/reqcount.out")
	[[ -n $COUNTER_HOST ]] || die "reqcount did not start: $(cat "$WORK/reqcount.err")"
	regctl registry set "$COUNTER_HOST" --skip-check --tls disabled >/dev/null
}

# The requests of a W3 push (1,000 small blobs: where round trips cost the
# most), by kind, each client on a fresh server through the counting proxy.
if has "$WORKLOADS" W3; then
	for s in $SERVERS; do
		for c in $CLIENTS; do
			[[ $s != floor || $c == curl ]] || continue
			cmdline "$c" push x "" w3 || continue
			start "$s" "$WORK/a"
			start_counter
			cmdline "$c" push "$COUNTER_HOST" "" w3
			if "${CMD[@]}" >/dev/null 2>"$WORK/cmd.err"; then
				printf '%s\t%s\tpush-w3\t\t\t%s\n' "$s" "$c" "$(curl -fsS "http://$COUNTER_HOST/-/count?by=kind")" >>"$RESULTS"
			else
				log "FAIL (counting pass): $s $c push-w3"
				sed 's/^/  /' "$WORK/cmd.err" >&2
				failed=1
			fi
			stop_server "$COUNTER_PID"
			stop_server "$SERVER_PID"
			rm -rf "$WORK/a"
		done
	done
	log "W3 push requests counted"
fi

# ---- W4, W5: listing and purge over many tags -----------------------------------

meta_ops=()
has "$WORKLOADS" W4 && meta_ops+=(list:tags)
has "$WORKLOADS" W5 && meta_ops+=(purge:purge)
if ((${#meta_ops[@]})); then
	for s in $SERVERS; do
		[[ $s != floor ]] || continue
		dir=$WORK/meta-$s
		t0=$EPOCHREALTIME
		if [[ $s == reference ]]; then
			# Its API takes ~9 ms of CPU per manifest: write its files directly.
			has "$WORKLOADS" W4 && gentags -distribution "$dir/data" -repo bench/tags -n "$TAGS_N"
			has "$WORKLOADS" W5 && gentags -distribution "$dir/data" -repo bench/purge -n "$PURGE_N"
			start "$s" "$dir"
		else
			start "$s" "$dir"
			has "$WORKLOADS" W4 && gentags -url "$SERVER_URL" -repo bench/tags -n "$TAGS_N"
			has "$WORKLOADS" W5 && gentags -url "$SERVER_URL" -repo bench/purge -n "$PURGE_N"
		fi
		log "$s: populated in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}') s"
		P=$SERVER_PID H=$SERVER_HOST
		for ((run = 1; run <= RUNS; run++)); do
			line="run $run/$RUNS $s:"
			for c in $CLIENTS; do
				for t in "${meta_ops[@]}"; do
					op=${t%:*} w=${t#*:}
					cmdline "$c" "$op" "$H" "" "$w" || continue
					timed "$s" "$c" "$op" "$op-$w"
				done
			done
			log "$line"
		done
		# The request count: one more pass through the counting proxy.
		start_counter
		RP=$COUNTER_PID PH=$COUNTER_HOST
		curl -fsS "http://$PH/-/count" >/dev/null # reset
		for c in $CLIENTS; do
			for t in "${meta_ops[@]}"; do
				op=${t%:*} w=${t#*:}
				cmdline "$c" "$op" "$PH" "" "$w" || continue
				if "${CMD[@]}" >/dev/null 2>"$WORK/cmd.err"; then
					printf '%s\t%s\t%s\t\t\t%s\n' "$s" "$c" "$op-$w" "$(curl -fsS "http://$PH/-/count")" >>"$RESULTS"
				else
					log "FAIL (counting pass): $s $c $op-$w"
					sed 's/^/  /' "$WORK/cmd.err" >&2
					failed=1
				fi
			done
		done
		stop_server "$RP"
		finish "$s" meta "$P"
		rm -rf "$dir"
	done
fi

# ---- W6: the registry under many clients ------------------------------------------

if has "$WORKLOADS" W6; then
	read -ra w6servers <<<"$SERVERS"
	for ((run = 1; run <= RUNS; run++)); do
		# Rotate the servers' order each run, as the clients' above.
		rot=$(((run - 1) % ${#w6servers[@]}))
		order=("${w6servers[@]:rot}" "${w6servers[@]:0:rot}")
		for s in "${order[@]}"; do
			[[ $s != floor ]] || continue
			# Each run on a fresh server whose data stays until the end of
			# W6: removing thousands of files just before a run makes the
			# next run's inode allocations slow on ext4 without a journal
			# (see RESULTS.md, "traps").
			dir=$WORK/w6-$s-$run
			start "$s" "$dir"
			if load -url "$SERVER_URL" -pid "$SERVER_PID" -clients "$LOAD_CLIENTS" -images "$LOAD_IMAGES" \
				>"$WORK/load.out" 2>"$WORK/load.err"; then
				printf '%s\tW6\t%s\t%s\n' "$s" "$run" "$(cat "$WORK/load.out")" >>"$LOADTSV"
				log "run $run/$RUNS W6 $s: $(cat "$WORK/load.out")"
			else
				log "FAIL: W6 $s run $run"
				sed 's/^/  /' "$WORK/load.err" >&2
				printf '%s\tW6\t%s\tFAIL\n' "$s" "$run" >>"$LOADTSV"
				failed=1
			fi
			stop_server "$SERVER_PID"
		done
	done
	rm -rf "$WORK"/w6-*
fi

# ---- W7: a large registry ---------------------------------------------------------

# w7_timed SERVER OP CHECK: run CMD, check its output with CHECK (a command
# reading it on stdin), record seconds and client peak RSS.
w7_timed() {
	local s=$1 op=$2 secs rss
	if /usr/bin/time -o "$WORK/time.out" -f '%e %M' "${CMD[@]}" >"$WORK/cmd.out" 2>"$WORK/cmd.err" &&
		"${@:3}" <"$WORK/cmd.out"; then
		read -r secs rss <"$WORK/time.out"
		printf '%s\tW7\t%s\top=%s\tsecs=%s\tclient_peak_kib=%s\n' "$s" "$run" "$op" "$secs" "$rss" >>"$LOADTSV"
		line+=" $op=${secs}s"
	else
		log "FAIL: W7 $s $op: ${CMD[*]}"
		tail -n 5 "$WORK/cmd.out" "$WORK/cmd.err" | sed 's/^/  /' >&2
		printf '%s\tW7\t%s\top=%s\tFAIL\n' "$s" "$run" "$op" >>"$LOADTSV"
		failed=1
	fi
}
# want_lines N: stdin has exactly N lines.
want_lines() { local n; n=$(wc -l); [[ $n == "$1" ]] || { log "got $n lines, want $1"; return 1; }; }
# want_purge N: a dry-run purge lists N tags, one line each.
want_purge() { local n; n=$(grep -c '^tag	'); [[ $n == "$1" ]] || { log "the purge listed $n tags, want $1"; return 1; }; }

if has "$WORKLOADS" W7; then
	for s in $SERVERS; do
		[[ $s == memory || $s == disk ]] || continue
		dir=$WORK/w7-$s
		start "$s" "$dir"
		t0=$EPOCHREALTIME
		gentags -url "$SERVER_URL" -repo w7/r -repos "$W7_REPOS" -n "$W7_TAGS" -concurrency 32 2>"$WORK/gentags.err" ||
			die "W7: populating $s failed: $(cat "$WORK/gentags.err")"
		pop=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
		log "W7 $s: $W7_REPOS repositories, $W7_TAGS tags populated in $pop s"
		printf '%s\tW7\t0\top=populate\tsecs=%s\tserver_peak_kib=%s\n' "$s" "$pop" "$(peak_rss_kib "$SERVER_PID")" >>"$LOADTSV"
		# The server's peak is read after the listings, so reset what
		# populating it left: restart it on the same data.
		if [[ $s == disk ]]; then
			log "W7 $s: meta.db is $(stat -c %s "$dir/data/meta.db") bytes"
			stop_server "$SERVER_PID"
			start "$s" "$dir"
		fi
		for ((run = 1; run <= RUNS; run++)); do
			line="run $run/$RUNS W7 $s:"
			CMD=(acrctl repo list "$SERVER_HOST" -o name)
			w7_timed "$s" catalog want_lines "$W7_REPOS"
			CMD=(acrctl purge "$SERVER_HOST" --filter 'w7/.*:.*' --ago 0 --dry-run)
			w7_timed "$s" purge want_purge "$W7_TAGS"
			log "$line"
		done
		# VmHWM counts the pages of meta.db that bbolt's read-only mmap
		# touched (file-backed, shared with the page cache): record the
		# split between them and the heap as it stands at the end.
		printf '%s\tW7\t0\top=server\tserver_peak_kib=%s\tanon_kib=%s\tfile_kib=%s\n' "$s" "$(peak_rss_kib "$SERVER_PID")" \
			"$(awk '/^RssAnon:/ {print $2}' "/proc/$SERVER_PID/status")" \
			"$(awk '/^RssFile:/ {print $2}' "/proc/$SERVER_PID/status")" >>"$LOADTSV"
		stop_server "$SERVER_PID"
		rm -rf "$dir"
	done
fi

# ---- report ------------------------------------------------------------------------

mkdir -p bench/results
report=bench/results/run-$(date -u +%Y-%m-%d-%H%M%S).md
machine="$(nproc) vCPU $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(go env GOVERSION), Linux $(uname -r)"
python3 bench/report.py "$RESULTS" "$SRSS" --load "$LOADTSV" --load-clients "$LOAD_CLIENTS" --load-images "$LOAD_IMAGES" \
	--w7-repos "$W7_REPOS" --w7-tags "$W7_TAGS" \
	--runs "$RUNS" --servers "$SERVERS" --clients "$CLIENTS" --big-mib "$BIG_MIB" \
	--small-n "$SMALL_N" --tags-n "$TAGS_N" --purge-n "$PURGE_N" \
	--machine "$machine" --commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >"$report"
cat "$report"
log "written to $report in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}') s"
((failed == 0)) || die "some workloads failed (see above)"
