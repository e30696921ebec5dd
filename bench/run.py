#!/usr/bin/env python3
"""The scoreboard driver: runs every workload side by side (ouroboros and its peers, one process
after another, round-robin so machine noise hits all of them alike), checks that each program
verified its own result, and reports medians, spreads and ratios (ouroboros / peer).

Outputs:
  stdout                    a table of medians [min - max] and ratios
  <build>/results.json      every figure (all repetitions, medians, ratios, targets, machine)
  docs/benchmarks.md        the generated sections between the BEGIN/END GENERATED markers
  docs/benchmarks.json      a copy of results.json            (with --write-docs)
  docs/benchmarks-ratios.svg, docs/benchmarks-pauses.svg   charts (with --write-docs)

Usage: bench/run.py [--quick] [--build-dir build/bench] [--write-docs] [--only REGEX]
                    [--bt-n N] [--procs K]
Normally started by scripts/bench.sh, which builds first.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, "bench", "python")

# Display names of the implementations, in table order.
IMPLS = ["ouro", "ouro (gc disabled)", "cpython", "cpython-dict", "make_shared", "make_shared+mimalloc", "boehm",
         "glibc", "mimalloc", "jemalloc"]
IMPL_LABEL = {
    "ouro": "ouroboros", "ouro (gc disabled)": "ouroboros, gc disabled (diagnostic)", "cpython": "CPython",
    "cpython-dict": "CPython (class with __dict__)", "make_shared": "std::make_shared",
    "make_shared+mimalloc": "make_shared + mimalloc", "boehm": "Boehm GC", "glibc": "glibc malloc",
    "mimalloc": "mimalloc", "jemalloc": "jemalloc",
}


# ---------------------------------------------------------------------------------------------
# The workloads and their sizes.

def sizes(quick, bt_n):
    if quick:
        return dict(procs=3, over_n=200000, coll_n=200000, bt_n=bt_n or 14, gcb=["--stretch", "14", "--long-lived", "12",
                    "--array", "125000", "--max", "12"], gcb_label="stretch 14, long-lived 12, array 125k, depths 4..12",
                    loops=10, btree_n=40000, btree_reps=1, churn=["--live", "200000", "--iters", "300000"],
                    weak_n=200000, alloc_n=1000000, cpy_procs=1)
    return dict(procs=5, over_n=1000000, coll_n=1000000, bt_n=bt_n or 18, gcb=[],
                gcb_label="stretch 18, long-lived 16, array 500k, depths 4..16", loops=100, btree_n=200000,
                btree_reps=3, churn=["--live", "1000000", "--iters", "2000000"], weak_n=1000000, alloc_n=10000000,
                cpy_procs=2)


def exe(build, name):
    return os.path.join(build, "bench", name)


def py(script):
    return ["python3", os.path.join(PY, script)]


class Job:
    """One program to run `procs` times in fresh processes; all its JSON lines are collected."""

    def __init__(self, group, impl, argv, procs):
        self.group, self.impl, self.argv, self.procs = group, impl, argv, procs


def jobs(build, s):
    J = []
    cpp_peers = lambda w: [(i, exe(build, "%s_%s" % (w, i))) for i in ("ouro", "shared", "boehm")]
    # 1. per-object overhead (one process per shape and implementation: RSS deltas need a clean process)
    for shape in ("ref", "int_ref", "ref_ref", "d3_ref"):
        for impl, path in cpp_peers("overhead"):
            J.append(Job("overhead", impl, [path, "--shape", shape, "--n", str(s["over_n"])], 1))
        J.append(Job("overhead", "cpython", py("overhead.py") + ["--shape", shape, "--n", str(s["over_n"])], 1))
    J.append(Job("overhead", "cpython", py("overhead.py") + ["--shape", "int_ref_dict", "--n", str(s["over_n"])], 1))
    # 2. full collections of big heaps (fresh process per repetition: the heap's history matters)
    for shape in ("chain", "shuffled", "cycles", "cycles_churned"):
        args = ["--shape", shape, "--n", str(s["coll_n"]), "--reps", "1"]
        J.append(Job("collect_" + shape, "ouro", [exe(build, "collect_ouro")] + args, s["procs"]))
        J.append(Job("collect_" + shape, "cpython", py("collect.py") + args, s["procs"]))
    # 3. binary-trees
    n = ["--n", str(s["bt_n"])]
    for impl, path in cpp_peers("binary_trees") + [("shared_mimalloc", exe(build, "binary_trees_shared_mimalloc"))]:
        J.append(Job("binary_trees", impl, [path] + n, 3))
    J.append(Job("binary_trees", "ouro-nogc", [exe(build, "binary_trees_ouro"), "--no-gc"] + n, 3))
    J.append(Job("binary_trees", "cpython", py("binary_trees.py") + n, s["cpy_procs"] - 1 or 1))
    # 4. GCBench
    for impl, path in cpp_peers("gcbench"):
        J.append(Job("gcbench", impl, [path] + s["gcb"], 3))
    J.append(Job("gcbench", "cpython", py("gcbench.py") + s["gcb"], s["cpy_procs"]))
    # 5. pyperformance shapes
    for b, extra in (("gc_collect", ["--loops", str(s["loops"])]), ("gc_traversal", ["--loops", str(max(10, s["loops"] // 5))]),
                     ("btree_gc", ["--n", str(s["btree_n"]), "--reps", str(s["btree_reps"])])):
        J.append(Job(b, "ouro", [exe(build, "pyperf_ouro"), "--bench", b] + extra, 1))
        J.append(Job(b, "cpython", py("pyperf.py") + ["--bench", b] + extra, 1))
    # 6. young-generation churn, 7. weak references
    J.append(Job("churn", "ouro", [exe(build, "churn_ouro")] + s["churn"], 3))
    J.append(Job("churn", "cpython", py("churn.py") + s["churn"], 3))
    w = ["--n", str(s["weak_n"]), "--reps", "3"]
    J.append(Job("weakref", "ouro", [exe(build, "weakref_churn_ouro")] + w, 1))
    J.append(Job("weakref", "cpython", py("weakref_churn.py") + w, 1))
    # 8. allocator shapes: a fresh process per shape (its peak RSS is its own), five processes
    # each, round-robin across the allocators (this machine's speed drifts between processes)
    for shape in ("lifo", "random", "batch", "test", "sh6", "simple", "mixed", "prodcons"):
        for impl in ("ouro", "glibc", "mimalloc", "jemalloc"):
            J.append(Job("alloc_" + shape, impl, [exe(build, "alloc_" + impl), "--shape", shape, "--n", str(s["alloc_n"]),
                                                  "--reps", "2"], 5))
    return J


# Workload descriptions for the tables: (title, what is timed).
def describe(s):
    n = s["coll_n"]
    return {
        "collect_chain": ("%s live objects in a chain, allocated in order" % human_count(n), "first full collect()"),
        "collect_chain_again": ("the same chain, collected again (all old)", "second full collect() after a reference drop"),
        "collect_shuffled": ("%s live objects linked in shuffled order" % human_count(n), "first full collect()"),
        "collect_shuffled_again": ("the same shuffled heap, collected again", "second full collect() after a reference drop"),
        "collect_cycles": ("%s garbage two-node cycles" % human_count(n // 2), "full collect()"),
        "collect_cycles_churned": ("%s garbage two-node cycles in a churned heap" % human_count(n // 2), "full collect()"),
        "binary_trees": ("binary-trees, n=%d" % s["bt_n"], "whole run"),
        "gcbench": ("GCBench (%s)" % s["gcb_label"], "whole run"),
        "gc_collect": ("pyperformance gc_collect: 100 rings of 21 nodes", "one collect()"),
        "gc_traversal": ("pyperformance gc_traversal: 1001 lists, 499,500 refs", "one collect() after a reference drop"),
        "gc_traversal_unchanged": ("pyperformance gc_traversal, its own protocol (nothing changed since the last collect)",
                                   "one collect()"),
        "btree_gc": ("pyperformance btree_gc: B-tree of %s records" % human_count(s["btree_n"]), "one collect()"),
        "btree_build": ("the same B-tree: build, delete and re-insert 20%", "build"),
        "churn": ("young-generation churn beside %s live objects" % human_count(int(s["churn"][1])), "whole loop"),
        "churn_pause_p50": ("churn: automatic collection pause, p50", "pause"),
        "churn_pause_p99": ("churn: automatic collection pause, p99", "pause"),
        "churn_pause_max": ("churn: automatic collection pause, max", "pause"),
        "churn_young_pause_p99": ("churn: young-generation pause, p99", "pause"),
        "churn_young_pause_max": ("churn: young-generation pause, max", "pause"),
        "weakref_churn": ("%s × (make, WeakRef with callback, drop)" % human_count(s["weak_n"]), "whole loop"),
        "weakref_bulk": ("%s live objects with a WeakRef each, then all dropped" % human_count(s["weak_n"]), "whole run"),
        "weakdict_churn": ("%s × (make, put in a WeakValueDictionary, read back, drop)" % human_count(s["weak_n"]), "whole loop"),
        "alloc_lifo": ("%s × allocate + free 32 B" % human_count(s["alloc_n"]), "whole loop"),
        "alloc_random": ("%s random replacements in a 100k working set, 16-256 B" % human_count(s["alloc_n"]), "whole loop"),
        "alloc_batch": ("10 × (%s random-size blocks, freed in random order)" % human_count(s["alloc_n"] // 10), "whole run"),
        "alloc_test": ("alloc-test: %s replacements in 50k live blocks, Pareto sizes 16-512 B" % human_count(s["alloc_n"]), "whole loop"),
        "alloc_sh6": ("sh6bench-like: %s blocks of 16-512 B in rounds of 10k, FIFO/LIFO halves, 10%% kept 10 rounds" % human_count(s["alloc_n"]), "whole run"),
        "alloc_simple": ("glibc-simple: %s × (100 blocks of 16..256 B allocated, then freed)" % human_count(s["alloc_n"] // 100), "whole run"),
        "alloc_mixed": ("%s blocks of 16-512 B, 90%% die within 64 allocations, 10%% long-lived (100k)" % human_count(s["alloc_n"]), "whole loop"),
        "alloc_prodcons": ("producer/consumer: %s steps through a 100k-block FIFO, 16-512 B" % human_count(s["alloc_n"]), "whole loop"),
    }


# Issue 2's figures.
TARGETS = [
    ("collect_chain", "cpython", 0.2, "full collection, 1M-object chain: >= 5x faster than CPython"),
    ("collect_shuffled", "cpython", 0.2, "full collection, 1M objects in shuffled order: >= 5x faster than CPython"),
    ("collect_cycles", "cpython", 0.2, "full collection, 500k garbage two-node cycles: >= 5x faster than CPython"),
    ("binary_trees", "make_shared", 1.0, "binary-trees: faster than std::make_shared"),
    ("binary_trees", "boehm", 1.0, "binary-trees: faster than Boehm GC"),
]


def human_count(n):
    if n >= 1000000 and n % 100000 == 0:
        return ("%.1fM" % (n / 1e6)).replace(".0M", "M")
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


# ---------------------------------------------------------------------------------------------
# Running.

IMPL_OF_JOB = {"shared": "make_shared", "shared_mimalloc": "make_shared+mimalloc", "ouro-nogc": "ouro (gc disabled)"}


def run_all(job_list, only, verbose=True):
    lines, failures, texts = [], [], []
    order = []  # round-robin: repetition r of every job of a group, then r+1
    groups = {}
    for j in job_list:
        if only and not re.search(only, j.group + ":" + j.impl):
            continue
        groups.setdefault(j.group, []).append(j)
    for g, js in groups.items():
        for r in range(max(j.procs for j in js)):
            order.extend(j for j in js if r < j.procs)
    for k, j in enumerate(order, 1):
        t0 = time.time()
        try:
            p = subprocess.run(j.argv, capture_output=True, text=True, timeout=600, cwd=ROOT)
            out, err, rc = p.stdout, p.stderr, p.returncode
        except (OSError, subprocess.TimeoutExpired) as e:
            out, err, rc = "", str(e), -1
        got = 0
        for line in out.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            rec["job"] = j.group
            lines.append(rec)
            got += 1
        if rc != 0 or got == 0:
            failures.append({"argv": j.argv, "rc": rc, "stderr": err[-2000:]})
        if verbose:
            print("[%3d/%d] %-14s %-22s %6.2fs %s" % (k, len(order), j.group, IMPL_OF_JOB.get(j.impl, j.impl),
                  time.time() - t0, "" if rc == 0 and got else "FAILED rc=%s %s" % (rc, err.strip()[-300:])),
                  file=sys.stderr, flush=True)
    return lines, failures


def check_text(build):
    """binary-trees output at n=10 against the reference text, for every implementation."""
    ref = open(os.path.join(ROOT, "bench", "binary_trees_n10.txt")).read()
    results = []
    progs = [(IMPL_OF_JOB.get(i, i), [exe(build, "binary_trees_" + i)]) for i in ("ouro", "shared", "shared_mimalloc", "boehm")]
    progs.append(("cpython", py("binary_trees.py")))
    for impl, argv in progs:
        if not os.path.exists(argv[-1]):
            continue
        p = subprocess.run(argv + ["--n", "10", "--text"], capture_output=True, text=True, cwd=ROOT)
        results.append({"impl": impl, "ok": p.returncode == 0 and p.stdout == ref})
    return results


# ---------------------------------------------------------------------------------------------
# Aggregation.

def aggregate(lines):
    groups = {}
    for rec in lines:
        groups.setdefault((rec["bench"], rec["impl"], rec["metric"]), []).append(rec)
    results = []
    for (bench, impl, metric), recs in groups.items():
        vals = [r["value"] for r in recs]
        results.append({
            "bench": bench, "impl": impl, "metric": metric, "unit": recs[0]["unit"],
            "median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals),
            "values": vals, "ok": all(r["ok"] for r in recs),
            "extra": {k: v for k, v in recs[-1].items()
                      if k not in ("bench", "impl", "metric", "value", "unit", "rep", "ok", "job", "pauses_us", "generations")},
        })
    results.sort(key=lambda r: (r["bench"], r["metric"], IMPLS.index(r["impl"]) if r["impl"] in IMPLS else 99))
    return results


def ratios(results):
    by = {(r["bench"], r["metric"], r["impl"]): r for r in results}
    out = []
    for r in results:
        if r["impl"] == "ouro" or r["metric"].endswith("_B") or r["metric"] in ("count", "peak_rss_MB"):
            continue
        o = by.get((r["bench"], r["metric"], "ouro"))
        if not o or r["median"] <= 0:
            continue
        out.append({"bench": r["bench"], "metric": r["metric"], "peer": r["impl"], "ouro": o["median"],
                    "peer_median": r["median"], "ratio": o["median"] / r["median"],
                    "ok": o["ok"] and r["ok"]})
    return out


def targets(results, rats):
    by = {(r["bench"], r["peer"]): r for r in rats if r["metric"] in ("collect_s", "time_s")}
    out = []
    for bench, peer, limit, text in TARGETS:
        r = by.get((bench, peer))
        out.append({"target": text, "bench": bench, "peer": peer, "limit": limit,
                    "ratio": r["ratio"] if r else None, "met": bool(r and r["ok"] and r["ratio"] <= limit)})
    res = {(r["bench"], r["impl"], r["metric"]): r for r in results}
    for shape in ("ref", "int_ref", "ref_ref", "d3_ref"):
        st = res.get(("overhead_" + shape, "ouro", "static_B"))
        live = res.get(("overhead_" + shape, "ouro", "rss_live_B"))
        if st:
            out.append({"target": "per-object overhead, %s: <= 16 bytes (block - sizeof(Plain))" % shape,
                        "bench": "overhead_" + shape, "peer": None, "limit": 16, "value": st["median"],
                        "value_live_rss": live["median"] if live else None, "met": st["ok"] and st["median"] <= 16})
    return out


def pauses(lines):
    out = {}
    for rec in lines:
        if rec["bench"] == "churn_pauses" and "pauses_us" in rec:
            out.setdefault(rec["impl"], {"pauses_us": [], "generations": []})
            out[rec["impl"]]["pauses_us"] += rec["pauses_us"]
            out[rec["impl"]]["generations"] += rec["generations"]
    return out


# ---------------------------------------------------------------------------------------------
# Formatting.

def fmt(v, unit):
    if unit == "s":
        a = abs(v)
        if a >= 1:
            return "%.2f s" % v
        if a >= 1e-3:
            return "%.3g ms" % (v * 1e3)
        return "%.3g µs" % (v * 1e6)
    if unit == "B":
        return "%.1f B" % v
    if unit == "MB":
        return "%.1f MB" % v
    return "%g" % v


def fmt_spread(r):
    if r["n"] == 1:
        return fmt(r["median"], r["unit"]) + " (1 run)"
    return "%s [%s – %s]" % (fmt(r["median"], r["unit"]), fmt(r["min"], r["unit"]).split()[0],
                              fmt(r["max"], r["unit"]))


def fmt_ratio(x):
    if x < 1:
        return "%.3g (%.1fx faster)" % (x, 1 / x)
    return "%.3g (%.1fx slower)" % (x, x)


def machine(cmd, mode):
    def sh(c):
        try:
            return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""
    model = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
        "memory": sh("free -g | awk '/^Mem:/ {print $2\" GiB\"}'"),
        "cxx": sh("c++ --version | head -1"), "python": sh("python3 --version"),
        "commit": sh("git -C %s rev-parse --short HEAD" % ROOT) + (" (+ uncommitted changes)" if sh(
            "git -C %s status --porcelain --untracked-files=no -- src include" % ROOT) else ""),
        "command": cmd, "mode": mode, "load": sh("cat /proc/loadavg | cut -d' ' -f1-3"),
    }


# Table order: issue 2's figures first, then the scoreboard's other workloads.
ORDER = ["collect_chain", "collect_chain_again", "collect_shuffled", "collect_shuffled_again", "collect_cycles",
         "collect_cycles_churned", "binary_trees", "gcbench", "gc_collect", "gc_traversal", "gc_traversal_unchanged",
         "btree_gc", "btree_build", "churn", "churn_pause_p50", "churn_pause_p99", "churn_pause_max",
         "churn_young_pause_p99", "churn_young_pause_max", "weakref_churn", "weakref_bulk", "weakdict_churn", "alloc_lifo",
         "alloc_random", "alloc_batch", "alloc_test", "alloc_sh6", "alloc_simple", "alloc_mixed", "alloc_prodcons"]


def order_key(bench):
    return ORDER.index(bench) if bench in ORDER else len(ORDER)


def ratio_rows(results, rats, desc):
    by = {(r["bench"], r["impl"], r["metric"]): r for r in results}
    rows = []
    for q in sorted(rats, key=lambda q: order_key(q["bench"])):
        if q["metric"] not in ("collect_s", "time_s", "pause_s"):
            continue
        o = by[(q["bench"], "ouro", q["metric"])]
        p = by[(q["bench"], q["peer"], q["metric"])]
        title, what = desc.get(q["bench"], (q["bench"], ""))
        rows.append((title + (" — " + what if what else ""), fmt_spread(o), IMPL_LABEL.get(q["peer"], q["peer"]),
                     fmt_spread(p), fmt_ratio(q["ratio"]), q["ok"], q))
    return rows


def stdout_table(results, rats, targ, desc, failures, texts):
    rows = ratio_rows(results, rats, desc)
    w0 = max([len(r[0]) for r in rows] + [10])
    print()
    print("%-*s  %-28s  %-24s  %-28s  %s" % (w0, "workload", "ouroboros", "peer", "peer's figure", "ouro / peer"))
    print("-" * (w0 + 120))
    for r in rows:
        print("%-*s  %-28s  %-24s  %-28s  %s%s" % (w0, r[0], r[1], r[2], r[3], r[4], "" if r[5] else "  UNVERIFIED"))
    print()
    print("Per-object overhead (bytes beyond sizeof(Plain)):")
    for line in overhead_lines(results, md=False):
        print("  " + line)
    print()
    print("Targets (issue 2):")
    for t in targ:
        val = ("ratio %.3g" % t["ratio"]) if t.get("ratio") is not None else (
            "%.1f B" % t["value"] if t.get("value") is not None else "not measured")
        print("  [%s] %s: %s" % ("met" if t["met"] else "MISSED", t["target"], val))
    for t in texts:
        print("  [%s] binary-trees n=10 output matches the reference text: %s" % ("ok" if t["ok"] else "FAILED", t["impl"]))
    if failures:
        print("\nFAILED PROGRAMS:")
        for f in failures:
            print("  rc=%s %s\n    %s" % (f["rc"], " ".join(f["argv"]), f["stderr"].strip()[-500:]))


def overhead_lines(results, md):
    by = {(r["bench"], r["impl"], r["metric"]): r for r in results}
    cols = [("ouro", "static_B"), ("ouro", "rss_live_B"), ("ouro", "rss_B"), ("ouro", "rss_after_collect_B"),
            ("make_shared", "rss_B"), ("boehm", "static_B"), ("boehm", "rss_B"), ("cpython", "static_B"),
            ("cpython", "rss_B"), ("cpython-dict", "rss_B")]
    head = ["shape", "sizeof(Plain)", "ouro block", "ouro RSS (live)", "ouro RSS", "ouro RSS after full collect",
            "make_shared RSS", "Boehm block", "Boehm RSS", "CPython getsizeof", "CPython RSS", "CPython __dict__ class RSS"]
    rows = []
    for shape in ("ref", "int_ref", "ref_ref", "d3_ref"):
        b = "overhead_" + shape
        plain = next((r["extra"].get("plain_B") for r in results if r["bench"] == b), None)
        if plain is None:
            continue
        row = [{"ref": "{Ref}", "int_ref": "{int; Ref}", "ref_ref": "{Ref; Ref}", "d3_ref": "{double×3; Ref}"}[shape], str(plain)]
        for impl, m in cols:
            r = by.get((b, impl, m))
            row.append("%.1f" % r["median"] if r else "–")
        rows.append(row)
    if md:
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    return ["  ".join("%-10s" % h[:10] for h in head)] + ["  ".join("%-10s" % c for c in r) for r in rows]


# ---------------------------------------------------------------------------------------------
# docs/benchmarks.md and the charts.

BEGIN = "<!-- BEGIN GENERATED: bench/run.py -->"
END = "<!-- END GENERATED: bench/run.py -->"


def markdown(meta, results, rats, targ, desc, texts, pz, failures):
    L = []
    L.append("_Generated by `%s` on %s (%s run)._" % (meta["command"], meta["date"], meta["mode"]))
    L.append("")
    L.append("Machine: %s, %s cores, %s RAM, Linux %s; %s; %s; ouroboros at %s. Load average when the run "
             "started: %s." % (meta["cpu"], meta["cores"], meta["memory"], meta["kernel"], meta["cxx"], meta["python"],
                               meta["commit"], meta["load"]))
    L.append("")
    L.append("### Targets (issue 2)")
    L.append("")
    L.append("| target | measured | met |")
    L.append("|---|---|---|")
    for t in targ:
        if t.get("ratio") is not None:
            val = "ouro ÷ peer = %.3g (%.1fx %s)" % (t["ratio"], 1 / t["ratio"] if t["ratio"] < 1 else t["ratio"],
                                                    "faster" if t["ratio"] < 1 else "slower")
        elif t.get("value") is not None:
            val = "%.0f B per object (block); %.1f B measured from RSS of live allocations" % (
                t["value"], t["value_live_rss"] or float("nan"))
        else:
            val = "not measured"
        L.append("| %s | %s | %s |" % (t["target"], val, "yes" if t["met"] else "**no**"))
    for t in texts:
        L.append("| binary-trees n=10 output = reference text (%s) | %s | %s |" % (
            IMPL_LABEL.get(t["impl"], t["impl"]), "identical" if t["ok"] else "differs", "yes" if t["ok"] else "**no**"))
    L.append("")
    L.append("### Times: medians [min – max] over repeated runs; ratio = ouroboros ÷ peer (below 1: ouroboros faster)")
    L.append("")
    L.append("| workload | ouroboros | peer | peer's figure | ouro ÷ peer |")
    L.append("|---|---|---|---|---|")
    for r in ratio_rows(results, rats, desc):
        L.append("| %s | %s | %s | %s | %s%s |" % (r[0], r[1], r[2], r[3], r[4], "" if r[5] else " UNVERIFIED"))
    L.append("")
    L.append("![ratios](benchmarks-ratios.svg)")
    L.append("")
    L.append("### Per-object overhead: bytes per object beyond `sizeof(Plain)` (the same fields in a plain struct)")
    L.append("")
    L.extend(overhead_lines(results, md=True))
    L.append("")
    L.append("### Pauses of automatic collections in the churn workload")
    L.append("")
    L.append("| implementation | collections (gen 0/1/2) | p50 | p90 | p99 | max | total |")
    L.append("|---|---|---|---|---|---|---|")
    for impl, d in pz.items():
        v = sorted(d["pauses_us"])
        if not v:
            continue
        gens = [d["generations"].count(g) for g in range(3)]
        q = lambda f: v[min(len(v) - 1, int(f * (len(v) - 1) + 0.5))]
        L.append("| %s | %s (all runs) | %.1f µs | %.1f µs | %.1f µs | %.1f µs | %.1f ms |" % (
            IMPL_LABEL.get(impl, impl), "/".join(map(str, gens)), q(0.5), q(0.9), q(0.99), v[-1], sum(v) / 1e3))
    L.append("")
    L.append("![pauses](benchmarks-pauses.svg)")
    L.append("")
    L.append("### Peak RSS and collector activity")
    L.append("")
    L.append("Allocator shapes also give the peak's growth past the resident size at the start of `main`")
    L.append("(the programs differ in code size: libouro is linked into one).")
    L.append("")
    L.append("| workload | implementation | peak RSS | growth past start | collections (gen 0/1/2) | time in collections |")
    L.append("|---|---|---|---|---|---|")
    for r in results:
        e = r["extra"]
        if r["metric"] not in ("time_s",) or "peak_rss_MB" not in e:
            continue
        cols = e.get("collections")
        cols = "/".join(map(str, cols)) if isinstance(cols, list) else (str(cols) if cols is not None else "–")
        growth = "%.1f MB" % e["rss_growth_MB"] if "rss_growth_MB" in e else "–"
        L.append("| %s | %s | %.1f MB | %s | %s | %s |" % (r["bench"], IMPL_LABEL.get(r["impl"], r["impl"]), e["peak_rss_MB"],
                                                            growth, cols, fmt(e["gc_pause_s"], "s") if "gc_pause_s" in e else "–"))
    L.append("")
    if failures:
        L.append("**Programs that failed in this run:** " + "; ".join("`%s` (rc %s)" % (" ".join(os.path.relpath(a, ROOT)
                 if a.startswith(ROOT) else a for a in f["argv"]), f["rc"]) for f in failures))
        L.append("")
    L.append("All figures, every repetition: [benchmarks.json](benchmarks.json).")
    return "\n".join(L)


def write_docs(md_text):
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    if os.path.exists(path):
        doc = open(path).read()
    else:
        doc = "# Benchmarks\n\n%s\n%s\n" % (BEGIN, END)
    if BEGIN not in doc or END not in doc:
        doc += "\n%s\n%s\n" % (BEGIN, END)
    a, rest = doc.split(BEGIN, 1)
    _, b = rest.split(END, 1)
    open(path, "w").write(a + BEGIN + "\n" + md_text + "\n" + END + b)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_ratios(rats, desc):
    rows = [q for q in rats if q["metric"] in ("collect_s", "time_s", "pause_s")]
    rows.sort(key=lambda q: q["ratio"])
    bar_h, left, width, right = 18, 430, 420, 110
    top = 40
    h = top + bar_h * len(rows) + 40
    lo, hi = -6.0, 3.0  # log2 range: 1/64 .. 8
    x = lambda lr: left + (min(max(lr, lo), hi) - lo) / (hi - lo) * width
    S = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
         % (left + width + right, h),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="18" font-size="13" font-weight="bold">ouroboros ÷ peer (median time, log scale; left of 1 = '
         'ouroboros faster)</text>']
    for t in range(int(lo), int(hi) + 1):
        X = x(t)
        S.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>' % (X, top - 6, X, h - 30,
                 "#444" if t == 0 else "#ddd"))
        S.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (X, h - 16, ("%g" % (2 ** t)) if t >= 0 else "1/%d" % 2 ** -t))
    for i, q in enumerate(rows):
        y = top + i * bar_h
        lr = math.log2(q["ratio"])
        x0, x1 = sorted((x(0), x(lr)))
        color = "#2a9d5c" if q["ratio"] < 1 else "#d1495b"
        label = "%s — vs %s" % (desc.get(q["bench"], (q["bench"],))[0], IMPL_LABEL.get(q["peer"], q["peer"]))
        S.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 6, y + 13, esc(label[:72])))
        S.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>' % (x0, y + 3, max(x1 - x0, 1), bar_h - 6, color))
        clipped = "◀ " if lr < lo else ("▶ " if lr > hi else "")  # beyond the axis
        S.append('<text x="%d" y="%d">%s%.3g</text>' % (left + width + 8, y + 13, clipped, q["ratio"]))
    S.append("</svg>")
    return "\n".join(S)


def svg_pauses(pz):
    """Cumulative distribution of the churn workload's pauses, log time axis."""
    w, h, left, top, pw, ph = 640, 320, 60, 30, 540, 240
    allv = [v for d in pz.values() for v in d["pauses_us"] if v > 0]
    if not allv:
        return None
    lo = math.floor(math.log10(min(allv)))
    hi = math.ceil(math.log10(max(allv)))
    hi = max(hi, lo + 1)
    X = lambda v: left + (math.log10(max(v, 10 ** lo)) - lo) / (hi - lo) * pw
    Y = lambda f: top + ph - f * ph
    S = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (w, h),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="18" font-size="13" font-weight="bold">Churn workload: automatic collection pauses '
         '(cumulative fraction; log time)</text>']
    for e in range(lo, hi + 1):
        S.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (X(10 ** e), top, X(10 ** e), top + ph))
        lab = "%g µs" % 10 ** e if e < 3 else "%g ms" % 10 ** (e - 3)
        S.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (X(10 ** e), top + ph + 14, lab))
    for f in (0, 0.5, 0.9, 0.99, 1):
        S.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (left, Y(f), left + pw, Y(f)))
        S.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (left - 4, Y(f) + 4, f))
    colors = {"ouro": "#2a9d5c", "cpython": "#3366cc"}
    for k, (impl, d) in enumerate(pz.items()):
        v = sorted(d["pauses_us"])
        n = len(v)
        step = max(1, n // 400)
        pts = ["%.1f,%.1f" % (X(v[i]), Y((i + 1) / n)) for i in range(0, n, step)] + ["%.1f,%.1f" % (X(v[-1]), Y(1))]
        c = colors.get(impl, "#888")
        S.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, " ".join(pts)))
        S.append('<text x="%d" y="%d" fill="%s">%s (%d pauses)</text>' % (left + 10, top + 14 + 14 * k, c,
                 IMPL_LABEL.get(impl, impl), n))
    S.append("</svg>")
    return "\n".join(S)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--only", default="", help="regex over 'group:impl' selecting the jobs to run")
    ap.add_argument("--bt-n", type=int, default=0, help="binary-trees depth (default 18, quick 14)")
    ap.add_argument("--procs", type=int, default=0, help="processes per measurement for the collect shapes")
    ap.add_argument("--command", default="", help="the command line to record (set by scripts/bench.sh)")
    a = ap.parse_args()
    s = sizes(a.quick, a.bt_n)
    if a.procs:
        s["procs"] = a.procs
    cmd = a.command or "bench/run.py " + " ".join(sys.argv[1:])
    meta = machine(cmd, "quick" if a.quick else "full")
    t0 = time.time()
    lines, failures = run_all(jobs(a.build_dir, s), a.only)
    texts = check_text(a.build_dir)
    results = aggregate(lines)
    rats = ratios(results)
    targ = targets(results, rats)
    pz = pauses(lines)
    desc = describe(s)
    meta["elapsed_s"] = round(time.time() - t0, 1)
    meta["sizes"] = s
    doc = {"meta": meta, "results": results, "ratios": rats, "targets": targ, "binary_trees_text": texts,
           "pauses": pz, "failures": failures}
    os.makedirs(a.build_dir, exist_ok=True)
    out = os.path.join(a.build_dir, "results.json")
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    stdout_table(results, rats, targ, desc, failures, texts)
    print("\nall figures: %s (%.0f s)" % (os.path.relpath(out, os.getcwd()), meta["elapsed_s"]))
    if a.write_docs:
        with open(os.path.join(ROOT, "docs", "benchmarks.json"), "w") as f:
            json.dump(doc, f, indent=1)
        with open(os.path.join(ROOT, "docs", "benchmarks-ratios.svg"), "w") as f:
            f.write(svg_ratios(rats, desc))
        sp = svg_pauses(pz)
        if sp:
            with open(os.path.join(ROOT, "docs", "benchmarks-pauses.svg"), "w") as f:
                f.write(sp)
        write_docs(markdown(meta, results, rats, targ, desc, texts, pz, failures))
        print("docs/benchmarks.md, docs/benchmarks.json and the SVG charts regenerated")
    bad = failures or any(not r["ok"] for r in results) or any(not t["ok"] for t in texts)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
