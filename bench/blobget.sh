#!/usr/bin/env bash
# Download one large blob to a file, side by side: acrctl blob get, oras blob
# fetch, crane blob, regctl blob get and curl, against `acrctl serve`
# (memory store) and the reference registry (distribution v3.1.2, filesystem
# store), on loopback. curl writes the bytes and verifies nothing: the floor.
# The peers verify the digest while they write (oras, regctl) or not at all
# when writing to stdout (crane blob); acrctl verifies while it writes.
#
# Clients alternate run by run, the order rotating each run (A B C D E,
# B C D E A, ...). Before each timed run, dirty pages are synced and 1.5 GiB of
# warm pages are put on the free list (written and deleted; see the note on
# paged-out memory in bench/run.sh), and the last run's file is deleted. Each
# output is checked for the blob's size. Prints markdown tables of medians
# (min-max) of wall time and of the client's CPU time (user + system, from
# /usr/bin/time; steadier than wall time on a shared machine), in seconds,
# with each client's ratio to acrctl, and of the server's CPU time for each
# download (from /proc/PID/stat, in 10 ms ticks): on 2 cores a client that
# hashes on a second core shares the machine with the server, so the
# server's CPU shows in that client's wall time and not in curl's.
#
# Usage: bench/blobget.sh
#   RUNS=5 SIZE_MIB=512 SERVERS="acrctl reference" CLIENTS="acrctl oras crane regctl curl"
#   ACRCTL_FLAGS="--parts 4"   extra flags for acrctl blob get
#   ACRCTL_BASE=/path/to/acrctl   another build of acrctl, run as the client
#     "base" (add it to CLIENTS), for a before/after within one run
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/lib.sh"
cd "$ROOT"

RUNS=${RUNS:-5}
SIZE_MIB=${SIZE_MIB:-512}
SERVERS=${SERVERS:-acrctl reference}
CLIENTS=${CLIENTS:-acrctl oras crane regctl curl}
ACRCTL_FLAGS=${ACRCTL_FLAGS:-}
ACRCTL_BASE=${ACRCTL_BASE:-}
[[ " $CLIENTS " != *" base "* || -x $ACRCTL_BASE ]] || die "the client base needs ACRCTL_BASE, an acrctl binary"

need_tools oras crane regctl registry
have_acrctl || die "cmd/acrctl does not build"
export PATH=$TOOLS:$PATH
init_work acr-blobget
export DOCKER_CONFIG=$WORK/docker REGCTL_CONFIG=$WORK/regctl.json
mkdir -p "$DOCKER_CONFIG"

log "making a $SIZE_MIB MiB blob"
head -c "${SIZE_MIB}M" /dev/urandom >"$WORK/blob"
DIGEST=sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)
SIZE=$(stat -c %s "$WORK/blob")
REPO=bench/blob

# push HOST: the blob, with curl (POST, then a monolithic PUT with ?digest=).
push() {
	local loc
	loc=$(curl -fsS -X POST -o /dev/null -w '%header{location}' "http://$1/v2/$REPO/blobs/uploads/")
	[[ $loc == http* ]] || loc=http://$1$loc
	[[ $loc == *\?* ]] && loc+="&digest=$DIGEST" || loc+="?digest=$DIGEST"
	curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/blob" -o /dev/null "$loc"
}

read -ra acrctl_flags <<<"$ACRCTL_FLAGS"

# cmdline CLIENT HOST OUT: set CMD to the command that downloads the blob to
# OUT, and TO_STDOUT=1 when it writes the blob to stdout instead.
cmdline() {
	local ref=$2/$REPO@$DIGEST
	TO_STDOUT=0
	case $1 in
	acrctl) CMD=(acrctl blob get "$ref" --output-file "$3" --no-progress "${acrctl_flags[@]}") ;;
	base) CMD=("$ACRCTL_BASE" blob get "$ref" --output-file "$3" --no-progress "${acrctl_flags[@]}") ;;
	oras) CMD=(oras blob fetch --plain-http "$ref" --output "$3") ;;
	crane) CMD=(crane blob --insecure "$ref") TO_STDOUT=1 ;;
	regctl) CMD=(regctl blob get "$2/$REPO" "$DIGEST") TO_STDOUT=1 ;;
	curl) CMD=(curl -fsS -o "$3" "http://$2/v2/$REPO/blobs/$DIGEST") ;;
	*) die "unknown client $1" ;;
	esac
}

RESULTS=$WORK/results.tsv # server client wall_secs cpu_secs server_cpu_secs
# server_ticks PID: the process's user + system time so far, in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
: >"$RESULTS"
for s in $SERVERS; do
	case $s in
	acrctl) start_server acrctl "$WORK/srv-$s" memory ;;
	reference) start_server reference "$WORK/srv-$s" data ;;
	*) die "unknown server $s (want acrctl or reference)" ;;
	esac
	regctl registry set "$SERVER_HOST" --skip-check --tls disabled >/dev/null
	push "$SERVER_HOST"
	for ((r = 1; r <= RUNS; r++)); do
		read -ra order <<<"$CLIENTS"
		rot=$(((r - 1) % ${#order[@]}))
		order=("${order[@]:rot}" "${order[@]:0:rot}")
		line="run $r/$RUNS $s:"
		for c in "${order[@]}"; do
			out=$WORK/out-$c
			rm -f "$out"
			sync
			head -c 1536M /dev/zero >"$WORK/ballast"
			rm -f "$WORK/ballast"
			ok=1
			s0=$(server_ticks "$SERVER_PID")
			t0=$EPOCHREALTIME
			cmdline "$c" "$SERVER_HOST" "$out"
			if ((TO_STDOUT)); then
				/usr/bin/time -o "$WORK/time.out" -f '%U %S' "${CMD[@]}" >"$out" 2>"$WORK/cmd.err" || ok=0
			else
				/usr/bin/time -o "$WORK/time.out" -f '%U %S' "${CMD[@]}" >/dev/null 2>"$WORK/cmd.err" || ok=0
			fi
			((ok)) || die "$c failed against $s: ${CMD[*]}: $(tail -n 3 "$WORK/cmd.err")"
			t1=$EPOCHREALTIME
			s1=$(server_ticks "$SERVER_PID")
			got=$(stat -c %s "$out")
			((got == SIZE)) || die "$c wrote $got bytes, want $SIZE"
			read -r user sys <"$WORK/time.out"
			secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
			cpu=$(python3 -c "print(f'{$user + $sys:.2f}')")
			scpu=$(python3 -c "print(f'{($s1 - $s0) / $(getconf CLK_TCK):.2f}')")
			printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$c" "$secs" "$cpu" "$scpu" >>"$RESULTS"
			line+=" $c=${secs}s(cpu ${cpu}s, server ${scpu}s)"
		done
		rm -f "$WORK"/out-*
		log "$line"
	done
	stop_server "$SERVER_PID"
done

python3 - "$RESULTS" "$SIZE_MIB" "$RUNS" "$CLIENTS" <<'PY'
import statistics, sys
path, size, runs, clients = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
rows = {}
for line in open(path):
    s, c, wall, cpu, scpu = line.split("\t")
    rows.setdefault(s, {}).setdefault(c, []).append((float(wall), float(cpu), float(scpu)))
for k, what in ((0, "wall time"), (1, "client CPU time (user + system)"), (2, "the server's CPU time for the download")):
    print(f"blob get of {size} MiB to a file: {what}, median of {runs} (min-max), seconds; xN = median / acrctl's")
    print()
    print("| server | " + " | ".join(clients) + " |")
    print("|---" * (len(clients) + 1) + "|")
    for s, byc in rows.items():
        base = statistics.median(v[k] for v in byc["acrctl"]) if "acrctl" in byc else None
        cells = []
        for c in clients:
            v = [x[k] for x in byc.get(c, [])]
            if not v:
                cells.append("")
                continue
            m = statistics.median(v)
            cell = f"{m:.2f} ({min(v):.2f}-{max(v):.2f})"
            if base and c != "acrctl":
                cell += f" x{m / base:.2f}"
            cells.append(cell)
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()
PY
