#!/usr/bin/env python3
"""tracemalloc's cost on binary-trees and the young-generation churn, beside its peers in the same
run: ouroboros untraced, traced (nframe 1 and 16, exact; nframe 1 sampled at a 512 KiB mean),
optionally the build without the tracer (--base-build, the A/B for "off"), CPython untraced and
with its tracemalloc on the Python ports, and heaptrack on the C++ programs. Processes run
round-robin; medians of --reps processes. Prints a Markdown table for docs/benchmarks.md.
Usage: bench/tracemalloc_overhead.py [--build-dir build/bench] [--base-build DIR] [--reps 5]
                                     [--bt-n 14] [--churn-live 200000] [--churn-iters 300000]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=1200, check=True).stdout
    d = json.loads(next(l for l in out.splitlines() if l.startswith("{")))  # heaptrack prints its own lines
    assert d["ok"], argv
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build/bench")
    ap.add_argument("--base-build")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--bt-n", type=int, default=14)
    ap.add_argument("--churn-live", type=int, default=200000)
    ap.add_argument("--churn-iters", type=int, default=300000)
    a = ap.parse_args()
    exe = lambda build, name: os.path.join(build, "bench", name)
    py = lambda name: ["python3", os.path.join(ROOT, "bench", "python", name)]
    heaptrack = shutil.which("heaptrack")
    workloads = {
        "binary_trees": (["--n", str(a.bt_n)], "binary_trees_ouro", "binary_trees.py", "binary_trees_shared"),
        "churn": (["--live", str(a.churn_live), "--iters", str(a.churn_iters)], "churn_ouro", "churn.py", None),
    }
    configs = []  # (workload, label, argv, baseline label)
    for w, (args, cpp, script, shared) in workloads.items():
        prog = exe(a.build_dir, cpp)
        configs += [(w, "ouro", [prog] + args, None),
                    (w, "ouro, tracemalloc nframe=1", [prog] + args + ["--tracemalloc", "1"], "ouro"),
                    (w, "ouro, tracemalloc nframe=16", [prog] + args + ["--tracemalloc", "16"], "ouro"),
                    (w, "ouro, sampled at 512 KiB", [prog] + args + ["--tracemalloc", "1", "--sample", "524288"], "ouro")]
        if a.base_build:
            configs.append((w, "ouro, build without the tracer", [exe(a.base_build, cpp)] + args, "ouro"))
        configs += [(w, "cpython", py(script) + args, None),
                    (w, "cpython, tracemalloc nframe=1", py(script) + args + ["--tracemalloc", "1"], "cpython"),
                    (w, "cpython, tracemalloc nframe=16", py(script) + args + ["--tracemalloc", "16"], "cpython")]
        if heaptrack:
            hargs = ["heaptrack", "-o", "/tmp/ouro-heaptrack"]
            configs.append((w, "ouro under heaptrack", hargs + [prog] + args, "ouro"))
            if shared:
                configs.append((w, "make_shared", [exe(a.build_dir, shared)] + args, None))
                configs.append((w, "make_shared under heaptrack", hargs + [exe(a.build_dir, shared)] + args, "make_shared"))
    times = {(w, l): [] for w, l, _, _ in configs}
    extra = {}
    for _ in range(a.reps):
        for w, label, argv, _ in configs:
            d = run(argv)
            times[(w, label)].append(d["value"])
            if "tracer_bytes_per_trace" in d:
                extra[(w, label)] = d["tracer_bytes_per_trace"]
    print("| workload | run | median s [min – max] | ÷ its untraced run | tracer bytes per trace |")
    print("|---|---|---|---|---|")
    for w, label, _, base in configs:
        t = times[(w, label)]
        m = statistics.median(t)
        ratio = "%.2f×" % (m / statistics.median(times[(w, base)])) if base else ""
        per = "%.1f" % extra[(w, label)] if (w, label) in extra else ""
        print("| %s | %s | %.3f [%.3f – %.3f] | %s | %s |" % (w, label, m, min(t), max(t), ratio, per))


if __name__ == "__main__":
    sys.exit(main())
