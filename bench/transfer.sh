#!/usr/bin/env bash
# Transfer benchmark: acrctl against oras, crane and regctl, side by side in
# one run, against the local registry (`acrctl serve --memory`, loopback):
#   big8   an image of 8 layers of 64 MiB      push, pull, registry-to-registry copy
#   big1   an image of one 1 GiB layer         push, pull
#   small  an image of 1,000 layers of 4 KiB   push, pull
# Push copies an OCI layout into the registry and pull copies it back into a
# new layout, with each tool's own command for that (so all four do the same
# work); copy goes between two registries. Tools alternate run by run
# (A B C D A B C D ...), each run on fresh servers. We record wall time and
# the client's peak RSS, and print a markdown table of medians (min-max) with
# acrctl's speed relative to the fastest peer, also written to
# bench/results/transfer-DATE.md.
#
# Usage: bench/transfer.sh        RUNS=3  TOOLS_UNDER_TEST="acrctl oras crane regctl"
#        WORKLOADS="big8 big1 small"  (smaller sets for a smoke run)
# shellcheck source-path=SCRIPTDIR source=../.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/lib.sh"
cd "$ROOT"
RUNS=${RUNS:-3}
TOOLS_UNDER_TEST=${TOOLS_UNDER_TEST:-acrctl oras crane regctl}
WORKLOADS=${WORKLOADS:-big8 big1 small}
need_tools oras crane regctl
KEEP_WORK=${KEEP_WORK:-0}
init_work acr-transfer
go build -o "$TOOLS/acrctl" ./cmd/acrctl
go build -o "$TOOLS/genlayout" ./bench/genlayout
export PATH=$TOOLS:$PATH

log "making layouts"
for w in $WORKLOADS; do
	case $w in
	big8) genlayout -dir "$WORK/src-$w" -layers 8 -size $((64 << 20)) ;;
	big1) genlayout -dir "$WORK/src-$w" -layers 1 -size $((1024 << 20)) ;;
	small) genlayout -dir "$WORK/src-$w" -layers 1000 -size 4096 ;;
	*) die "unknown workload $w" ;;
	esac
done

RESULTS=$WORK/results.tsv
: >"$RESULTS"

# timed TOOL WORKLOAD OP ARG1 ARG2: run the tool's command for OP, record
# seconds and the client's peak RSS.
timed() {
	local tool=$1 w=$2 op=$3 a=$4 b=$5 cmd
	case $op:$tool in
	push:acrctl) cmd=(acrctl copy "oci:$a:v1" "$b" --no-progress) ;;
	push:oras) cmd=(oras cp --from-oci-layout "$a:v1" "$b" --to-plain-http) ;;
	push:crane) cmd=(crane push --insecure "$a" "$b") ;;
	push:regctl) cmd=(regctl image copy "ocidir://$a:v1" "$b") ;;
	pull:acrctl) cmd=(acrctl copy "$a" "oci:$b:v1" --no-progress) ;;
	pull:oras) cmd=(oras cp --from-plain-http "$a" --to-oci-layout "$b:v1") ;;
	pull:crane) cmd=(crane pull --insecure --format=oci "$a" "$b") ;;
	pull:regctl) cmd=(regctl image copy "$a" "ocidir://$b:v1") ;;
	copy:acrctl) cmd=(acrctl copy "$a" "$b" --no-progress) ;;
	copy:oras) cmd=(oras cp --from-plain-http --to-plain-http "$a" "$b") ;;
	copy:crane) cmd=(crane copy --insecure "$a" "$b") ;;
	copy:regctl) cmd=(regctl image copy "$a" "$b") ;;
	esac
	if ! /usr/bin/time -o "$WORK/time.out" -f '%e %M' "${cmd[@]}" >"$WORK/cmd.log" 2>&1; then
		log "FAIL: $tool $w $op: ${cmd[*]}"
		tail -n 5 "$WORK/cmd.log" >&2
		printf '%s\t%s\t%s\tFAIL\t0\n' "$tool" "$w" "$op" >>"$RESULTS"
		return 0
	fi
	local secs rss
	read -r secs rss <"$WORK/time.out"
	printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$w" "$op" "$secs" "$rss" >>"$RESULTS"
	log "  $tool $w $op: ${secs}s, $((rss / 1024)) MiB"
}

for ((run = 1; run <= RUNS; run++)); do
	for tool in $TOOLS_UNDER_TEST; do
		log "run $run/$RUNS: $tool"
		start_server acrctl "$WORK/srv-a" memory
		A=$SERVER_HOST
		PA=${SERVER_PIDS[-1]}
		start_server acrctl "$WORK/srv-b" memory
		B=$SERVER_HOST
		PB=${SERVER_PIDS[-1]}
		export REGCTL_CONFIG=$WORK/regctl.json DOCKER_CONFIG=$WORK/docker
		regctl registry set "$A" --skip-check --tls disabled >/dev/null
		regctl registry set "$B" --skip-check --tls disabled >/dev/null
		for w in $WORKLOADS; do
			rm -rf "$WORK/out"
			timed "$tool" "$w" push "$WORK/src-$w" "$A/bench/$w:v1"
			timed "$tool" "$w" pull "$A/bench/$w:v1" "$WORK/out"
			if [[ $w == big8 ]]; then
				timed "$tool" "$w" copy "$A/bench/$w:v1" "$B/bench/$w:v1"
			fi
		done
		rm -rf "$WORK/out"
		stop_server "$PB"
		stop_server "$PA"
		rm -rf "$WORK/srv-a" "$WORK/srv-b"
	done
done

mkdir -p bench/results
report=bench/results/transfer-$(date -u +%Y-%m-%d-%H%M%S).md
python3 - "$RESULTS" "$RUNS" "$TOOLS_UNDER_TEST" >"$report" <<'PY'
import sys, statistics, collections, subprocess
path, runs, tools = sys.argv[1], sys.argv[2], sys.argv[3].split()
rows = collections.defaultdict(list)
rss = collections.defaultdict(list)
order = []
for line in open(path):
    tool, w, op, secs, kib = line.rstrip("\n").split("\t")
    key = (w, op)
    if key not in order:
        order.append(key)
    rows[(tool, w, op)].append(None if secs == "FAIL" else float(secs))
    rss[tool].append(int(kib))
names = {"big8": "8 x 64 MiB", "big1": "1 x 1 GiB", "small": "1,000 x 4 KiB"}
print(f"# Transfer benchmark, {subprocess.run(['date','-u','+%Y-%m-%d %H:%M UTC'],capture_output=True,text=True).stdout.strip()}\n")
print(f"Local registry (`acrctl serve --memory`, loopback), 2 vCPU. RUNS={runs} per tool, tools alternating; medians (min-max) of wall time. Push: OCI layout -> registry; pull: registry -> OCI layout; copy: registry -> registry.\n")
print("| workload | " + " | ".join(tools) + " | acrctl vs fastest peer |")
print("|---" * (len(tools) + 2) + "|")
def med(v):
    v = [x for x in v if x is not None]
    return (statistics.median(v), min(v), max(v)) if v else None
for w, op in order:
    cells, meds = [], {}
    for t in tools:
        m = med(rows[(t, w, op)])
        if m is None:
            cells.append("FAIL" if rows[(t, w, op)] else "—")
        else:
            meds[t] = m[0]
            cells.append(f"{m[0]:.2f} s ({m[1]:.2f}-{m[2]:.2f})")
    peers = [meds[t] for t in meds if t != "acrctl"]
    ratio = f"{min(peers) / meds['acrctl']:.2f}x" if peers and "acrctl" in meds else "—"
    print(f"| {op} {names.get(w, w)} | " + " | ".join(cells) + f" | {ratio} |")
print("| peak client RSS (max over runs) | " + " | ".join(f"{max(rss[t]) // 1024} MiB" if rss[t] else "—" for t in tools) + " | |")
PY
cat "$report"
log "written to $report"
