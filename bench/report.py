#!/usr/bin/env python3
"""Turns bench/run.sh's measurements into markdown: tables of medians
(min-max) per server and client, the servers side by side, request counts,
peak RSS, and the targets of the performance issue, each marked met or not;
where acrctl is compared with the fastest peer, an exact Mann-Whitney test
of the two clients' runs says whether the runs tell them apart at all.

Input: results.tsv (server, client, op, seconds or FAIL, client peak RSS KiB,
request counts "TOTAL GET=n ...") and server-rss.tsv (server, group, KiB);
with --load, load.tsv (server, W6 or W7, run, key=value fields or FAIL).
"""
import argparse
import collections
import datetime
import itertools
import math
import statistics

p = argparse.ArgumentParser()
p.add_argument("results")
p.add_argument("server_rss")
for flag in ("runs", "servers", "clients", "big-mib", "small-n", "tags-n", "purge-n", "machine", "commit"):
    p.add_argument("--" + flag, required=True)
p.add_argument("--load")
for flag, default in (("load-clients", "32"), ("load-images", "50"), ("w7-repos", "10000"), ("w7-tags", "100000")):
    p.add_argument("--" + flag, default=default)
a = p.parse_args()
servers, clients = a.servers.split(), a.clients.split()
peers = [c for c in clients if c in ("oras", "crane", "regctl")]

times = collections.defaultdict(list)  # (server, client, op) -> [secs | None]
crss = collections.defaultdict(list)  # (server, client, op) -> [KiB]
reqs = {}  # (server, client, op) -> "TOTAL GET=.."
order = []
for line in open(a.results):
    s, c, op, secs, rss, rq = line.rstrip("\n").split("\t")
    if op not in order:
        order.append(op)
    if rq:
        reqs[(s, c, op)] = rq
        continue
    times[(s, c, op)].append(None if secs == "FAIL" else float(secs))
    crss[(s, c, op)].append(int(rss))
srss = collections.defaultdict(list)
for line in open(a.server_rss):
    s, group, kib = line.rstrip("\n").split("\t")
    srss[(s, group)].append(int(kib or 0))

big, small = int(a.big_mib), int(a.small_n)
label = {
    "push-w1": f"W1 push 1 x {big} MiB", "pull-w1": f"W1 pull 1 x {big} MiB",
    "push-w2": "W2 push 8 x 64 MiB", "pull-w2": "W2 pull 8 x 64 MiB", "copy-w2": "W2 copy 8 x 64 MiB",
    "push-w3": f"W3 push {small:,} x 4 KiB", "pull-w3": f"W3 pull {small:,} x 4 KiB",
    "list-tags": f"W4 list {int(a.tags_n):,} tags", "purge-purge": f"W5 dry-run purge, {int(a.purge_n):,} tags",
}


def med(s, c, op):
    v = times.get((s, c, op))
    if not v:
        return None
    if any(x is None for x in v):
        return "FAIL"
    return statistics.median(v), min(v), max(v)


def fmt(m):
    if m is None:
        return "—"
    if m == "FAIL":
        return "FAIL"
    f = "%.3f" if m[0] < 0.1 else "%.2f" if m[0] < 10 else "%.1f"
    return (f + " s (" + f + "–" + f + ")") % m


def val(s, c, op):
    m = med(s, c, op)
    return m[0] if isinstance(m, tuple) else None


def ratio(x, y):
    return f"{x / y:.2f}x" if x and y else "—"


def mib(kib):
    return f"{kib / 1024:.0f} MiB"


def fastest_peer(s, op):
    vs = [(val(s, c, op), c) for c in peers if val(s, c, op)]
    return min(vs) if vs else (None, None)


def mann_whitney(xs, ys):
    """The exact two-sided p-value of the Mann-Whitney U test (midranks for
    ties, every split of the pooled runs enumerated): how likely a difference
    in rank sums at least as large is when both samples come from one
    distribution. None when the samples are too large to enumerate."""
    pooled = sorted(xs + ys)
    rank = {}
    for v in set(pooled):
        idx = [i for i, w in enumerate(pooled) if w == v]
        rank[v] = (idx[0] + idx[-1]) / 2 + 1
    n, m = len(xs), len(ys)
    if n == 0 or m == 0 or math.comb(n + m, n) > 200_000:
        return None
    ranks = [rank[v] for v in xs + ys]
    mid = n * (n + m + 1) / 2
    obs = abs(sum(ranks[:n]) - mid)
    hits = total = 0
    for pick in itertools.combinations(ranks, n):
        total += 1
        hits += abs(sum(pick) - mid) >= obs - 1e-9
    return hits / total


def versus(s, op, fp, who, ours):
    """Describes acrctl against the fastest peer on one row, with whether the
    runs tell them apart at all (a row bound by the server's disk is often a
    tie whose median lands on either side of 1.0x)."""
    xs, ys = times.get((s, "acrctl", op), []), times.get((s, who, op), [])
    pv = mann_whitney([x for x in xs if x is not None], [y for y in ys if y is not None])
    out = f"{fp / ours:.2f}x ({who} {fp:.2f} s, acrctl {ours:.2f} s"
    if pv is None:
        return out + ")"
    if pv >= 0.05:
        return out + f"; runs not told apart, Mann-Whitney p={pv:.2f})"
    return out + f"; acrctl {'faster' if ours < fp else 'slower'}, Mann-Whitney p={pv:.3f})"


print(f"# Benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
print(f"Machine: {a.machine}. Commit {a.commit}. Command: `bench/run.sh` (RUNS={a.runs}).\n")
print("Clients alternate run by run; medians (min–max) of wall time over the runs. Push: OCI layout to registry; pull: "
      "registry to a new OCI layout; copy: registry to registry (same server kind). curl moves the blobs only "
      "(POST + PUT ?digest=, GET to /dev/null, 8 in parallel, unverified). Servers: memory = `acrctl serve --memory`, "
      "disk = `acrctl serve --data DIR`, reference = distribution v3.1.2 (filesystem), floor = bench/floor (stores and "
      "serves bytes, no hashing). \"vs fastest peer\" = the fastest of oras, crane, regctl divided by acrctl (above 1: "
      "acrctl is faster); \"vs curl\" = acrctl / curl (the floor; 1.00 is the floor itself).\n")

transfer_ops = [op for op in order if op.split("-")[0] in ("push", "pull", "copy")]
meta_ops = [op for op in order if op not in transfer_ops]

for s in servers:
    cs = [c for c in clients if any(times.get((s, c, op)) for op in order)]
    if not cs:
        continue
    print(f"## Against {s}\n")
    extra = "acrctl" in cs and peers
    print("| workload | " + " | ".join(cs) + (" | acrctl vs fastest peer | acrctl vs curl |" if extra else " |"))
    print("|---" * (len(cs) + 1 + (2 if extra else 0)) + "|")
    for op in order:
        if not any(times.get((s, c, op)) for c in cs):
            continue
        row = [fmt(med(s, c, op)) for c in cs]
        if extra:
            fp, _ = fastest_peer(s, op)
            ours, curl = val(s, "acrctl", op), val(s, "curl", op)
            row += [ratio(fp, ours), ratio(ours, curl)]
        print(f"| {label.get(op, op)} | " + " | ".join(row) + " |")
    row = []
    for c in cs:
        k = [max(crss[(s, c, op)]) for op in order if crss.get((s, c, op))]
        row.append(mib(max(k)) if k else "—")
    print("| client peak RSS, max over workloads | " + " | ".join(row) + (" | | |" if extra else " |"))
    print()

if reqs:
    print("## Requests issued (one counted pass through bench/reqcount)\n")
    ms = [s for s in servers if any(k[0] == s for k in reqs)]
    print("| workload | client | " + " | ".join(ms) + " |")
    print("|---|---|" + "---|" * len(ms))
    for op in [op for op in order if any(k[2] == op for k in reqs)]:
        for c in clients:
            if not any((s, c, op) in reqs for s in ms):
                continue
            print(f"| {label.get(op, op)} | {c} | " + " | ".join(reqs.get((s, c, op), "—") for s in ms) + " |")
    print()

print("## The servers side by side (same client)\n")
ss = [s for s in servers if any(k[0] == s for k in times)]
print("| workload | client | " + " | ".join(ss) + " | reference / disk | reference / memory |")
print("|---|---|" + "---|" * (len(ss) + 2))
for op in order:
    for c in ("acrctl", "curl"):
        if not any(times.get((s, c, op)) for s in ss):
            continue
        print(f"| {label.get(op, op)} | {c} | " + " | ".join(fmt(med(s, c, op)) for s in ss) +
              f" | {ratio(val('reference', c, op), val('disk', c, op))} | {ratio(val('reference', c, op), val('memory', c, op))} |")
for group, what in (("transfer", "W1-W3"), ("meta", "W4-W5, with the population of 30,000 manifests")):
    row = []
    for s in ss:
        k = srss.get((s, group), [])
        row.append(mib(max(k)) if k else "—")
    print(f"| server peak RSS (VmHWM), max, {what} | | " + " | ".join(row) + " | | |")
print()

# ---- W6, W7: the registry under load and at scale ------------------------------

load = collections.defaultdict(list)  # (server, workload, op) -> [dict | None]
if a.load:
    for line in open(a.load):
        f = line.rstrip("\n").split("\t")
        s, w, kv = f[0], f[1], dict(x.split("=", 1) for x in f[3:] if "=" in x)
        load[(s, w, kv.get("op", ""))].append(None if "FAIL" in f[3:] else kv)


def lmed(s, w, op, key):
    v = load.get((s, w, op))
    if not v:
        return None
    if any(x is None for x in v):
        return "FAIL"
    xs = [float(x[key]) for x in v if key in x]
    return (statistics.median(xs), min(xs), max(xs)) if xs else None


def lfmt(m, unit="", scale=1.0, digits=0):
    if m is None:
        return "—"
    if m == "FAIL":
        return "FAIL"
    f = lambda x: f"{x / scale:,.{digits}f}"
    return f"{f(m[0])}{unit} ({f(m[1])}–{f(m[2])})"


w6 = [s for s in servers if (s, "W6", "") in load]
if w6:
    print("## W6: the registry under load\n")
    print(f"{int(a.runs)} runs per server (medians, min–max); each run {a.load_clients} clients x {a.load_images} images, "
          "11 requests an image "
          "(3 x POST + PUT of a blob, PUT of the manifest by tag; GET of the manifest and the 3 blobs, each verified).\n")
    print("| server | wall time | images/s | requests/s | p50 | p99 | slowest | server peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for s in w6:
        print(f"| {s} | {lfmt(lmed(s, 'W6', '', 'secs'), ' s', digits=2)} | {lfmt(lmed(s, 'W6', '', 'images_per_s'))} "
              f"| {lfmt(lmed(s, 'W6', '', 'requests_per_s'))} | {lfmt(lmed(s, 'W6', '', 'p50_ms'), ' ms', digits=1)} "
              f"| {lfmt(lmed(s, 'W6', '', 'p99_ms'), ' ms', digits=1)} | {lfmt(lmed(s, 'W6', '', 'max_ms'), ' ms', digits=1)} "
              f"| {lfmt(lmed(s, 'W6', '', 'server_peak_kib'), ' MiB', scale=1024)} |")
    kinds = sorted({k[:-len("_p99_ms")] for v in load[(w6[0], "W6", "")] if v for k in v if k.endswith("_p99_ms")})
    if kinds:
        print("\np99 by request kind (median over runs):\n")
        print("| server | " + " | ".join(kinds) + " |")
        print("|---|" + "---|" * len(kinds))
        for s in w6:
            print(f"| {s} | " + " | ".join(lfmt(lmed(s, "W6", "", k + "_p99_ms"), " ms", digits=1) for k in kinds) + " |")
    print()

w7 = [s for s in servers if (s, "W7", "catalog") in load]
if w7:
    print("## W7: a large registry\n")
    print(f"{int(a.runs)} runs per server (medians, min–max) over {int(a.w7_repos):,} repositories and {int(a.w7_tags):,} tags "
          "(one manifest each).\n")
    print("| server | populate (gentags, 32 in flight) | catalog (`acrctl repo list`) | client peak RSS | "
          "dry-run purge over every tag | client peak RSS | server peak RSS (catalog + purge) | of it at the end: heap / meta.db mmap |")
    print("|---|---|---|---|---|---|---|---|")
    for s in w7:
        print(f"| {s} | {lfmt(lmed(s, 'W7', 'populate', 'secs'), ' s', digits=1)} "
              f"| {lfmt(lmed(s, 'W7', 'catalog', 'secs'), ' s', digits=2)} "
              f"| {lfmt(lmed(s, 'W7', 'catalog', 'client_peak_kib'), ' MiB', scale=1024)} "
              f"| {lfmt(lmed(s, 'W7', 'purge', 'secs'), ' s', digits=2)} "
              f"| {lfmt(lmed(s, 'W7', 'purge', 'client_peak_kib'), ' MiB', scale=1024)} "
              f"| {lfmt(lmed(s, 'W7', 'server', 'server_peak_kib'), ' MiB', scale=1024)} "
              f"| {lfmt(lmed(s, 'W7', 'server', 'anon_kib'), ' MiB', scale=1024)} / {lfmt(lmed(s, 'W7', 'server', 'file_kib'), ' MiB', scale=1024)} |")
    print()

# ---- targets -------------------------------------------------------------------

rows = []


def target(name, measured, ok):
    rows.append((name, measured, "met" if ok else ("**not met**" if ok is not None else "not measured")))


R = "reference"
gib = big / 1024
if val(R, "acrctl", "push-w1"):
    ours, curl = val(R, "acrctl", "push-w1"), val(R, "curl", "push-w1")
    target("W1 push vs reference: within 1.1x of the curl floor", ratio(ours, curl), ours <= 1.1 * curl if curl else None)
# Issue 20: every W1-W3 row and W4 on every server at least 1.0x the
# fastest peer.
for s in servers:
    for op in ("push-w1", "pull-w1", "push-w2", "pull-w2", "copy-w2", "push-w3", "pull-w3", "list-tags"):
        ours = val(s, "acrctl", op)
        fp, who = fastest_peer(s, op)
        if ours and fp:
            target(f"{label[op]} vs {s}: acrctl at least 1.0x the fastest peer", versus(s, op, fp, who, ours), fp >= ours)
for op in ("pull-w1", "pull-w2", "push-w3", "pull-w3"):
    ours = val(R, "acrctl", op)
    fp, who = fastest_peer(R, op)
    if ours and fp:
        target(f"{label[op]} vs reference: at least 1.5x the fastest peer", versus(R, op, fp, who, ours), fp / ours >= 1.5)
for op, need in (("push-w1", 1.5), ("push-w2", 1.5), ("push-w3", 3.0)):
    r, d = val(R, "acrctl", op), val("disk", "acrctl", op)
    if r and d:
        target(f"our registry (disk) vs reference, acrctl client, {label[op]}: at least {need}x", f"{r / d:.2f}x", r / d >= need)
for op in ("pull-w1", "pull-w2"):
    f = val("floor", "curl", op)
    for s in ("disk", "memory"):
        v = val(s, "curl", op)
        if f and v:
            target(f"our registry ({s}) pull vs the sendfile floor, curl, {label[op]}: within 1.1x", f"{v / f:.2f}x", v <= 1.1 * f)
for s in ("memory", "disk"):
    v = val(s, "acrctl", "push-w1")
    if v:
        target(f"against {s}: acrctl W1 push within 1.3x of 1 s/GiB", f"{v / gib:.2f} s/GiB", v / gib <= 1.3)
    v = val(s, "acrctl", "pull-w1")
    if v:
        target(f"against {s}: acrctl W1 pull within 1.3x of 0.8 s/GiB", f"{v / gib:.2f} s/GiB", v / gib <= 1.04)
k = [max(v) for (s, c, op), v in crss.items() if c == "acrctl" and v]
if k:
    target("acrctl peak RSS at most 64 MiB on every workload", mib(max(k)), max(k) <= 64 << 10)
for group, what in (("transfer", "W1-W3"), ("meta", "W4-W5")):
    k = srss.get(("disk", group))
    if k:
        target(f"our registry's peak RSS at most 64 MiB, {what} (disk; the memory store holds blobs by design)",
               mib(max(k)), max(k) <= 64 << 10)
w1 = [max(v) for (s, c, op), v in crss.items() if c == "acrctl" and op.endswith("w1") and v]
w2 = [max(v) for (s, c, op), v in crss.items() if c == "acrctl" and op.endswith("w2") and v]
if w1 and w2:
    target("acrctl peak RSS flat from 64 MiB to 1 GiB blobs (W2 vs W1, within 16 MiB)", f"{mib(max(w2))} vs {mib(max(w1))}",
           max(w1) - max(w2) <= 16 << 10)
for op, n in (("list-tags", int(a.tags_n)), ("purge-purge", int(a.purge_n))):
    for s in servers:
        rq = reqs.get((s, "acrctl", op))
        if rq:
            total = int(rq.split()[0])
            acrcli = -(-n // 100)
            t = val(s, "acrctl", op)
            target(f"{label[op]} on {s}: fewer requests than acr-cli's 100-per-page listing ({acrcli:,}+)",
                   f"{total:,} requests in {t:.2f} s" if t else f"{total:,} requests",
                   total < acrcli if s != "reference" or op == "list-tags" else None)

ours6, ref6 = lmed("disk", "W6", "", "images_per_s"), lmed("reference", "W6", "", "images_per_s")
if isinstance(ours6, tuple) and isinstance(ref6, tuple):
    target("W6 our registry (disk) at least 5x the reference registry's throughput",
           f"{ours6[0] / ref6[0]:.2f}x ({ours6[0]:.0f} vs {ref6[0]:.0f} images/s)", ours6[0] >= 5 * ref6[0])
p99, rss6 = lmed("disk", "W6", "", "p99_ms"), lmed("disk", "W6", "", "server_peak_kib")
if isinstance(p99, tuple):
    target("W6 our registry (disk): p99 at most 50 ms", f"{p99[0]:.1f} ms ({p99[1]:.1f}–{p99[2]:.1f})", p99[0] <= 50)
if isinstance(rss6, tuple):
    target("W6 our registry (disk): peak RSS at most 128 MiB", mib(rss6[2]), rss6[2] <= 128 << 10)
for op, what in (("catalog", "catalog of 10,000 repositories"), ("purge", "dry-run purge over 100,000 tags")):
    m, c = lmed("disk", "W7", op, "secs"), lmed("disk", "W7", op, "client_peak_kib")
    if isinstance(m, tuple):
        target(f"W7 {what} (disk): under 5 s, client under 256 MiB", f"{m[0]:.2f} s, client {mib(c[2])}",
               m[0] < 5 and c[2] < 256 << 10)
m = lmed("disk", "W7", "server", "server_peak_kib")
if isinstance(m, tuple):
    target("W7 our registry (disk): server under 256 MiB", mib(m[2]), m[2] < 256 << 10)

print("## Targets\n")
print("| target | measured | |")
print("|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
