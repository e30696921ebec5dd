#!/usr/bin/env python3
"""The scoreboard driver: runs every workload side by side (ouroboros and its peers, one process
after another, round-robin so machine noise hits all of them alike), checks that each program
verified its own result, and reports medians, spreads and ratios (ouroboros / peer).

Every workload is declared once, in WORKLOADS below: its programs (one per implementation) and
their arguments, processes and sizes for quick and full runs, the figures it reports with their
descriptions (in table order), and its targets. bench/CMakeLists.txt builds the C++ programs
from its own one-line-per-workload list.

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
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, "bench", "python")

# Display names of the implementations (the "impl" the programs print), in table order.
IMPLS = ["ouro", "ouro (link)", "ouro (gc disabled)", "cpython", "cpython-dict", "make_shared", "make_shared+mimalloc",
         "boehm", "std", "glibc", "mimalloc", "jemalloc"]
IMPL_LABEL = {
    "ouro": "ouroboros", "ouro (link)": "ouroboros, create-then-link idiom",
    "ouro (gc disabled)": "ouroboros, gc disabled (diagnostic)", "cpython": "CPython",
    "cpython-dict": "CPython (class with __dict__)", "make_shared": "std::make_shared",
    "make_shared+mimalloc": "make_shared + mimalloc", "boehm": "Boehm GC",
    "std": "std containers (of std::shared_ptr)", "glibc": "glibc malloc",
    "mimalloc": "mimalloc", "jemalloc": "jemalloc",
}
# Job names (what --only matches) whose programs print another impl name; the others print their own.
IMPL_OF_JOB = {"shared": "make_shared", "shared_mimalloc": "make_shared+mimalloc", "ouro-nogc": "ouro (gc disabled)",
               "ouro-link": "ouro (link)"}


# ---------------------------------------------------------------------------------------------
# The declarations: a workload, its programs, the figures it reports and its targets.

@dataclass
class Program:
    """One implementation's program in a workload: argv = program + args + the workload's args."""
    job: str              # the job's name, what --only matches ("ouro", "shared", "ouro-nogc", "cpython", ...)
    program: str          # a bench/ target ("collect_ouro") or a bench/python/ script ("collect.py")
    args: tuple = ()      # its own arguments, before the workload's
    procs: object = None  # processes: a number, or the name of a size; None: the workload's
    timeout: int = 600    # seconds per process


@dataclass
class Row:
    """A figure the workload's programs print (their "bench"), as the tables describe it."""
    bench: str
    title: object         # a string, or a function of the sizes
    what: str = ""        # what is timed
    peers: dict = field(default_factory=dict)  # peer impl -> the bench whose figure is that peer's here


CORE = "the collector and the allocator against their peers"
PROGRAMS = "collections and weak references in the programs people write"
CONTAINERS = "the containers against CPython's and the standard library's"
TARGET_GROUPS = [CORE, PROGRAMS, CONTAINERS]  # the order the targets are printed in


@dataclass
class PeerTime:
    """ouroboros' time ÷ a peer's, as in the ratios table, <= limit."""
    text: str
    bench: str
    peer: str
    limit: float
    group: str = CORE

    def evaluate(self, f):
        r = f.ratio(self.bench, self.peer)
        return {"target": self.text, "group": self.group, "bench": self.bench, "peer": self.peer, "limit": self.limit,
                "ratio": r["ratio"] if r else None, "met": bool(r and r["ok"] and r["ratio"] <= self.limit)}


@dataclass
class Overhead:
    """Per-object overhead in bytes (block - sizeof(Plain)) <= limit; not listed when not measured."""
    text: str
    bench: str
    limit: float = 16
    group: str = CORE

    def evaluate(self, f):
        st, live = f.result(self.bench, "ouro", "static_B"), f.result(self.bench, "ouro", "rss_live_B")
        if not st:
            return None
        return {"target": self.text, "bench": self.bench, "peer": None, "limit": self.limit, "value": st["median"],
                "value_live_rss": live["median"] if live else None, "met": st["ok"] and st["median"] <= self.limit}


@dataclass
class Compare:
    """A figure ÷ another, each (bench, impl, metric), <= limit (within: both ways); without `of`,
    a bound on the figure itself. The metric "gc_share" is the time a program's collections took
    ÷ its timed run, in the process where that is the median (the lower median of an even count)."""
    text: str
    figure: tuple
    of: tuple = None
    limit: float = 1.0
    within: bool = False
    group: str = PROGRAMS

    @property
    def bench(self):
        return self.figure[0]

    def evaluate(self, f):
        a = f.figure(*self.figure)
        b = f.figure(*self.of) if self.of else None
        out = {"target": self.text, "group": self.group, "bench": self.figure[0], "impl": self.figure[1],
               "metric": self.figure[2], "value": a["median"] if a else None}
        if self.of:
            out.update({"peer_bench": self.of[0], "peer": self.of[1], "peer_metric": self.of[2],
                        "peer_value": b["median"] if b else None})
        ratio = None
        if a and not self.of:
            ratio = a["median"]
        elif a and b and b["median"] > 0:
            ratio = a["median"] / b["median"]
        met = ratio is not None and a["ok"] and (b is None or b["ok"])
        if self.within:
            met = met and ratio > 0 and max(ratio, 1 / ratio) <= self.limit
        else:
            met = met and ratio <= self.limit
        out.update({"limit": self.limit, "within": self.within, "ratio": ratio, "met": bool(met)})
        if ratio is not None:
            name = lambda impl: IMPL_LABEL.get(impl, impl)
            if self.figure[2] == "gc_share":
                out["measured"] = "collections %s of a %s run" % (fmt(a["pause_s"], "s"), fmt(a["time_s"], "s"))
            elif self.figure[2].startswith("extra:"):
                out["measured"] = "%s %.3g" % (self.figure[2][len("extra:"):], a["median"])
            elif b:
                out["measured"] = "%s %s ÷ %s %s" % (name(self.figure[1]), fmt(a["median"], a["unit"]),
                                                    name(self.of[1]), fmt(b["median"], b["unit"]))
        return out


@dataclass
class Workload:
    """One job group: its programs' processes run round-robin (repetition r of each, then r+1)."""
    group: str
    programs: list
    args: object = ()     # every program's arguments: a list, or a function of the sizes
    procs: object = 1     # processes per program: a number, or the name of a size
    quick: dict = field(default_factory=dict)  # sizes, by a name unique across workloads (they are
    full: dict = field(default_factory=dict)   # results.json's meta.sizes; --bt-n and --procs override two)
    rows: list = field(default_factory=list)   # the figures it reports, in table order
    targets: list = field(default_factory=list)
    text: tuple = ()      # jobs whose --n 10 --text output must equal bench/<group>_n10.txt


OVERHEAD_SHAPES = ("ref", "int_ref", "ref_ref", "d3_ref")


def cpp_and_python(workload, script, args=(), cpython_procs=None):
    """<workload>_ouro, _shared and _boehm (jobs "ouro", "shared", "boehm") and bench/python/<script>."""
    return [Program(i, "%s_%s" % (workload, i), args) for i in ("ouro", "shared", "boehm")] + [
        Program("cpython", script, args, cpython_procs)]


def collect(shape, rows, target=None):
    """A full collection of a big heap (a fresh process per repetition: the heap's history matters)."""
    group = "collect_" + shape
    return Workload(group, [Program("ouro", "collect_ouro"), Program("cpython", "collect.py")],
                    args=lambda s: ["--shape", shape, "--n", s["coll_n"], "--reps", 1], procs="procs",
                    quick=dict(procs=3, coll_n=200000), full=dict(procs=5, coll_n=1000000), rows=rows,
                    targets=[PeerTime(target, group, "cpython", 0.2)] if target else [])


def collect_scaling(times):
    """The chain of collect() at `times` its size (10 M and 30 M objects in a full run): the cost
    per object as the heap grows, against CPython's."""
    group = "collect_chain_%dx" % times
    return Workload(group, [Program("ouro", "collect_ouro"), Program("cpython", "collect.py")],
                    args=lambda s: ["--shape", "chain", "--n", s["coll_n"] * times, "--reps", 1, "--label", "_%dx" % times],
                    procs="scale_procs", quick=dict(scale_procs=1), full=dict(scale_procs=3),
                    rows=[Row(group, lambda s: "%s live objects in a chain" % human_count(s["coll_n"] * times),
                              "first full collect()"),
                          Row(group + "_again", "the same chain, collected again (all old)",
                              "second full collect() after a reference drop")])


def pyperf(bench, args, rows, quick, full):
    """A pyperformance shape."""
    return Workload(bench, [Program("ouro", "pyperf_ouro"), Program("cpython", "pyperf.py")],
                    args=lambda s: ["--bench", bench] + args(s), quick=quick, full=full, rows=rows)


def alloc(shape, title, what):
    """An allocator shape: a fresh process per shape (its peak RSS is its own), five processes
    each, round-robin across the allocators (this machine's speed drifts between processes)."""
    return Workload("alloc_" + shape, [Program(i, "alloc_" + i) for i in ("ouro", "glibc", "mimalloc", "jemalloc")],
                    args=lambda s: ["--shape", shape, "--n", s["alloc_n"], "--reps", 2], procs=5,
                    quick=dict(alloc_n=1000000), full=dict(alloc_n=10000000),
                    rows=[Row("alloc_" + shape, title, what)])


# The containers workload: (bench suffix, description, what is timed).
CONTAINER_OPS = [
    ("list_append", "List: append", "n appends of references"),
    ("list_index", "List: l[i]", "n indexings (checked: std uses at())"),
    ("list_iterate", "List: iterate", "a loop over n references"),
    ("list_pop", "List: pop()", "n pops from the end"),
    ("dict_insert", "Dict<long, long>: d[k] = v", "n insertions, keys shuffled"),
    ("dict_lookup", "Dict<long, long>: d[k]", "n lookups"),
    ("dict_iterate", "Dict<long, long>: items()", "a loop over n entries"),
    ("array_append", "Array<int>: append", "n appends"),
    ("array_index", "Array<int>: a[i]", "n indexings (checked: std uses at())"),
    ("array_iterate", "Array<int>: iterate", "a loop over n values"),
    ("deque_append", "Deque: append", "n appends at the right (warm)"),
    ("deque_appendleft", "Deque: appendleft", "n appends at the left"),
    ("deque_pop", "Deque: pop()", "n pops at the right"),
    ("deque_popleft", "Deque: popleft()", "n pops at the left"),
    ("deque_iterate", "Deque: iterate", "a loop over n references"),
]
CONTAINER_BYTES = [("list_bytes", "List of n references"), ("dict_bytes", "Dict<long, long> of n entries"),
                   ("array_bytes", "Array<int> of n values"), ("deque_bytes", "Deque of n references")]


def containers_workload():
    rows = [Row("containers_" + op, lambda s, t=title: "%s, n=%s" % (t, human_count(s["cont_n"])), what)
            for op, title, what in CONTAINER_OPS]
    # No target: the floor under the appends of references (bench/containers.cpp copy_floor).
    rows.append(Row("containers_copy_floor", lambda s: "floor: n reference copies into a reserved std::vector, n=%s"
                    % human_count(s["cont_n"]), "what every append of a reference costs at least"))
    targets = []
    for op, title, _ in CONTAINER_OPS:
        b = "containers_" + op
        targets.append(Compare("%s: >= 10x faster than CPython" % title, (b, "ouro", "time_s"), (b, "cpython", "time_s"),
                               0.1, group=CONTAINERS))
        targets.append(Compare("%s: within 1.5x of the std container" % title, (b, "ouro", "time_s"), (b, "std", "time_s"),
                               1.5, group=CONTAINERS))
    for op, title in CONTAINER_BYTES:
        b = "containers_" + op
        targets.append(Compare("%s: bytes per element <= CPython's (sys.getsizeof)" % title, (b, "ouro", "bytes_per_elem"),
                               (b, "cpython", "bytes_per_elem"), 1.0, group=CONTAINERS))
    return Workload("containers", [Program("ouro", "containers_ouro"), Program("std", "containers_std"),
                                   Program("cpython", "containers.py", procs=1)],
                    args=lambda s: ["--n", s["cont_n"], "--reps", 3], procs=3,
                    quick=dict(cont_n=200000), full=dict(cont_n=1000000), rows=rows, targets=targets)


def scene_targets(parent, label):
    """The scene's targets for one kind of parent link, against make_shared's weak_ptr version."""
    b = "scene_" + parent
    return [
        Compare("scene, %s parents: time <= 1.2x the shared_ptr/weak_ptr version's" % label,
                (b, "ouro", "time_s"), ("scene_weak", "make_shared", "time_s"), 1.2),
        Compare("scene, %s parents: collections <= 10%% of the run" % label, (b, "ouro", "gc_share"), None, 0.10),
        Compare("scene, %s parents: peak RSS <= 1.2x the weak_ptr version's" % label,
                (b, "ouro", "peak_rss_MB"), ("scene_weak", "make_shared", "peak_rss_MB"), 1.2),
        Compare("scene, %s parents: CPython (same parent links) >= 3x slower" % label,
                (b, "ouro", "time_s"), (b, "cpython", "time_s"), 1 / 3),
    ]


# The workloads, in the order they run (and their figures are listed in).
WORKLOADS = [
    # 1. per-object overhead (one process per shape and implementation: RSS deltas need a clean process)
    Workload("overhead",
             [p for shape in OVERHEAD_SHAPES for p in cpp_and_python("overhead", "overhead.py", args=("--shape", shape))]
             + [Program("cpython", "overhead.py", ("--shape", "int_ref_dict"))],
             args=lambda s: ["--n", s["over_n"]], quick=dict(over_n=200000), full=dict(over_n=1000000),
             targets=[Overhead("per-object overhead, %s: <= 16 bytes (block - sizeof(Plain))" % shape, "overhead_" + shape)
                      for shape in OVERHEAD_SHAPES]),
    # 2. full collections of big heaps
    collect("chain", [
        Row("collect_chain", lambda s: "%s live objects in a chain, allocated in order" % human_count(s["coll_n"]),
            "first full collect()"),
        Row("collect_chain_again", "the same chain, collected again (all old)", "second full collect() after a reference drop")],
        "full collection, 1M-object chain: >= 5x faster than CPython"),
    collect("shuffled", [
        Row("collect_shuffled", lambda s: "%s live objects linked in shuffled order" % human_count(s["coll_n"]),
            "first full collect()"),
        Row("collect_shuffled_again", "the same shuffled heap, collected again", "second full collect() after a reference drop")],
        "full collection, 1M objects in shuffled order: >= 5x faster than CPython"),
    collect("cycles", [Row("collect_cycles", lambda s: "%s garbage two-node cycles" % human_count(s["coll_n"] // 2),
                           "full collect()")],
            "full collection, 500k garbage two-node cycles: >= 5x faster than CPython"),
    collect_scaling(10),
    collect_scaling(30),
    collect("cycles_churned", [Row("collect_cycles_churned", lambda s: "%s garbage two-node cycles in a churned heap"
                                   % human_count(s["coll_n"] // 2), "full collect()")]),
    # 3. binary-trees, in the constructor idiom (make<Node>(left, right)) and create-then-link
    Workload("binary_trees",
             [Program("ouro", "binary_trees_ouro"), Program("ouro-link", "binary_trees_ouro", ("--idiom", "link")),
              Program("shared", "binary_trees_shared"), Program("boehm", "binary_trees_boehm"),
              Program("shared_mimalloc", "binary_trees_shared_mimalloc"),
              Program("ouro-nogc", "binary_trees_ouro", ("--no-gc",)), Program("cpython", "binary_trees.py", procs=1)],
             args=lambda s: ["--n", s["bt_n"]], procs=3, quick=dict(bt_n=14), full=dict(bt_n=18),
             rows=[Row("binary_trees", lambda s: "binary-trees, n=%d" % s["bt_n"], "whole run")],
             text=("ouro", "ouro-link", "shared", "shared_mimalloc", "boehm", "cpython"),
             targets=[
                 PeerTime("binary-trees: faster than std::make_shared", "binary_trees", "make_shared", 1.0),
                 PeerTime("binary-trees: faster than Boehm GC", "binary_trees", "boehm", 1.0),
                 Compare("binary-trees, create-then-link idiom: faster than std::make_shared",
                         ("binary_trees", "ouro (link)", "time_s"), ("binary_trees", "make_shared", "time_s"), 1.0),
                 Compare("binary-trees, create-then-link idiom: faster than Boehm GC",
                         ("binary_trees", "ouro (link)", "time_s"), ("binary_trees", "boehm", "time_s"), 1.0),
                 Compare("binary-trees: the two idioms (link, ctor) within 1.15x of each other",
                         ("binary_trees", "ouro (link)", "time_s"), ("binary_trees", "ouro", "time_s"), 1.15, within=True),
                 Compare("binary-trees: young collections <= 10 ns per object they trace",
                         ("binary_trees", "ouro", "extra:young_ns_per_traced"), None, 10),
                 Compare("binary-trees, create-then-link idiom: young collections <= 10 ns per object they trace",
                         ("binary_trees", "ouro (link)", "extra:young_ns_per_traced"), None, 10),
             ]),
    # 4. GCBench
    Workload("gcbench", cpp_and_python("gcbench", "gcbench.py", cpython_procs="cpy_procs"),
             args=lambda s: s["gcb"], procs=3,
             quick=dict(gcb=["--stretch", "14", "--long-lived", "12", "--array", "125000", "--max", "12"],
                        gcb_label="stretch 14, long-lived 12, array 125k, depths 4..12", cpy_procs=1),
             full=dict(gcb=[], gcb_label="stretch 18, long-lived 16, array 500k, depths 4..16", cpy_procs=2),
             rows=[Row("gcbench", lambda s: "GCBench (%s)" % s["gcb_label"], "whole run")]),
    # 5. pyperformance shapes
    pyperf("gc_collect", lambda s: ["--loops", s["loops"]],
           [Row("gc_collect", "pyperformance gc_collect: 100 rings of 21 nodes", "one collect()")],
           quick=dict(loops=10), full=dict(loops=100)),
    pyperf("gc_traversal", lambda s: ["--loops", max(10, s["loops"] // 5)], [
        Row("gc_traversal", "pyperformance gc_traversal: 1001 lists, 499,500 refs", "one collect() after a reference drop"),
        Row("gc_traversal_unchanged", "pyperformance gc_traversal, its own protocol (nothing changed since the last collect)",
            "one collect()")],
           quick=dict(loops=10), full=dict(loops=100)),
    pyperf("btree_gc", lambda s: ["--n", s["btree_n"], "--reps", s["btree_reps"]], [
        Row("btree_gc", lambda s: "pyperformance btree_gc: B-tree of %s records" % human_count(s["btree_n"]), "one collect()"),
        Row("btree_build", "the same B-tree: build, delete and re-insert 20%", "build")],
           quick=dict(btree_n=40000, btree_reps=1), full=dict(btree_n=200000, btree_reps=3)),
    # 6. young-generation churn
    Workload("churn", [Program("ouro", "churn_ouro"), Program("cpython", "churn.py")], args=lambda s: s["churn"], procs=3,
             quick=dict(churn=["--live", "200000", "--iters", "300000"]),
             full=dict(churn=["--live", "1000000", "--iters", "2000000"]),
             rows=[Row("churn", lambda s: "young-generation churn beside %s live objects" % human_count(int(s["churn"][1])),
                       "whole loop"),
                   Row("churn_pause_p50", "churn: automatic collection pause, p50", "pause"),
                   Row("churn_pause_p99", "churn: automatic collection pause, p99", "pause"),
                   Row("churn_pause_max", "churn: automatic collection pause, max", "pause"),
                   Row("churn_young_pause_p99", "churn: young-generation pause, p99", "pause"),
                   Row("churn_young_pause_max", "churn: young-generation pause, max", "pause")]),
    # 7. weak references (the std::weak_ptr peer has no callbacks: it counts the deaths itself)
    Workload("weakref", [Program("ouro", "weakref_churn_ouro"), Program("shared", "weakref_churn_shared"),
                         Program("cpython", "weakref_churn.py")],
             args=lambda s: ["--n", s["weak_n"], "--reps", 3], quick=dict(weak_n=200000), full=dict(weak_n=1000000),
             rows=[Row("weakref_churn", lambda s: "%s × (make, WeakRef with callback, drop)" % human_count(s["weak_n"]),
                       "whole loop"),
                   Row("weakref_churn_plain", lambda s: "%s × (make, WeakRef, drop)" % human_count(s["weak_n"]),
                       "whole loop"),
                   Row("weakref_churn_live", lambda s: "%s × (WeakRef to one of 1024 live objects, drop it)"
                       % human_count(s["weak_n"]), "whole loop"),
                   Row("weakref_bulk", lambda s: "%s live objects with a WeakRef each, then all dropped"
                       % human_count(s["weak_n"]), "whole run"),
                   Row("weak_parent_build", lambda s: "%s children, each with a WeakRef to one of %s parents"
                       % (human_count(s["weak_n"]), human_count(s["weak_n"] // 16)), "build"),
                   Row("weak_parent_deref", "10 rounds of `if (auto p = child->parent())` over those children",
                       "the rounds"),
                   Row("weakdict_churn", lambda s: "%s × (make, put in a WeakValueDictionary, read back, drop)"
                       % human_count(s["weak_n"]), "whole loop"),
                   Row("weakdict_index", lambda s: "weak index over the 100k newest of %s objects: put, a live and a "
                       "dead lookup, the oldest dies" % human_count(s["weak_n"]), "whole loop")],
             targets=[PeerTime("weak references, %s: at least as fast as std::weak_ptr" % b, b, "make_shared", 1.0, PROGRAMS)
                      for b in ("weakref_churn", "weakref_churn_plain", "weakref_churn_live", "weakref_bulk",
                                "weak_parent_build", "weak_parent_deref", "weakdict_churn", "weakdict_index")]),
    Workload("weakref_memory", [Program("ouro", "weakref_churn_ouro"), Program("shared", "weakref_churn_shared"),
                                Program("cpython", "weakref_churn.py")],
             args=lambda s: ["--shape", "memory", "--n", s["weak_mem_n"]], quick=dict(weak_mem_n=1000000),
             full=dict(weak_mem_n=1000000),
             rows=[Row("mem_handle", "bytes of a weak reference handle (CPython: the weakref object)", "bytes"),
                   Row("mem_shared_parent", lambda s: "bytes per weak reference, %s to %s objects (shared records)"
                       % (human_count(s["weak_mem_n"]), human_count(s["weak_mem_n"] // 100)), "heap growth + handle"),
                   Row("mem_own_referent", lambda s: "bytes per weak reference, %s objects with one each"
                       % human_count(s["weak_mem_n"]), "heap growth + handle"),
                   Row("mem_index_entry", lambda s: "bytes per WeakValueDictionary<int, T> entry beyond the key, %s "
                       "entries (std: unordered_map<int, weak_ptr>)" % human_count(s["weak_mem_n"]), "heap growth")],
             targets=[Compare("WeakRef handle no bigger than std::weak_ptr", ("mem_handle", "ouro", "bytes"),
                              ("mem_handle", "make_shared", "bytes"), 1.0),
                      Compare("WeakValueDictionary entry <= 64 bytes beyond the key and value",
                              ("mem_index_entry", "ouro", "bytes"), None, 64)]),
    # 8. a scene tree under edits, its parent links Refs (cycles for the collector) or WeakRefs;
    # the peers: make_shared with weak_ptr parents (the same program for both), CPython with both.
    # At 1M nodes a process takes ~40-80 s in C++ and minutes in CPython (one process each).
    Workload("scene",
             [Program("ouro-ref", "scene_ouro", ("--parent", "ref"), timeout=1200),
              Program("ouro-weak", "scene_ouro", ("--parent", "weak"), timeout=1200),
              Program("shared", "scene_shared", timeout=1200),
              Program("cpython-ref", "scene.py", ("--parent", "ref"), procs=1, timeout=1800),
              Program("cpython-weak", "scene.py", ("--parent", "weak"), procs=1, timeout=1800)],
             args=lambda s: ["--nodes", s["scene_nodes"], "--rounds", s["scene_rounds"]], procs="scene_procs",
             quick=dict(scene_nodes=100000, scene_rounds=20, scene_procs=3),
             full=dict(scene_nodes=1000000, scene_rounds=200, scene_procs=2),
             rows=[Row("scene_ref", lambda s: "scene tree, %s nodes × %d rounds of edits, Ref parents (make_shared: weak_ptr)"
                       % (human_count(s["scene_nodes"]), s["scene_rounds"]), "whole run", peers={"make_shared": "scene_weak"}),
                   Row("scene_weak", "the same scene, WeakRef parents (make_shared: weak_ptr)", "whole run")],
             targets=scene_targets("ref", "Ref") + scene_targets("weak", "WeakRef")),
    # 9. a tiny interpreter: every call leaves an Env <-> Closure cycle (make_shared leaks them all)
    Workload("interp", [Program("ouro", "interp_ouro"), Program("shared", "interp_shared"),
                        Program("cpython", "interp.py", procs=1)],
             args=lambda s: ["--calls", s["interp_calls"]], procs=3,
             quick=dict(interp_calls=200000), full=dict(interp_calls=2000000),
             rows=[Row("interp", lambda s: "tiny interpreter: %s calls, each leaving an Env-Closure cycle (make_shared leaks)"
                       % human_count(s["interp_calls"]), "whole run")],
             targets=[Compare("interp: faster than std::make_shared (which leaks every call's cycle)",
                              ("interp", "ouro", "time_s"), ("interp", "make_shared", "time_s"), 1.0),
                      Compare("interp: peak RSS <= 1/10 of std::make_shared's",
                              ("interp", "ouro", "peak_rss_MB"), ("interp", "make_shared", "peak_rss_MB"), 0.1)]),
    # 10. allocator shapes
    alloc("lifo", lambda s: "%s × allocate + free 32 B" % human_count(s["alloc_n"]), "whole loop"),
    alloc("random", lambda s: "%s random replacements in a 100k working set, 16-256 B" % human_count(s["alloc_n"]), "whole loop"),
    alloc("batch", lambda s: "10 × (%s random-size blocks, freed in random order)" % human_count(s["alloc_n"] // 10), "whole run"),
    alloc("test", lambda s: "alloc-test: %s replacements in 50k live blocks, Pareto sizes 16-512 B" % human_count(s["alloc_n"]),
          "whole loop"),
    alloc("sh6", lambda s: "sh6bench-like: %s blocks of 16-512 B in rounds of 10k, FIFO/LIFO halves, 10%% kept 10 rounds"
          % human_count(s["alloc_n"]), "whole run"),
    alloc("simple", lambda s: "glibc-simple: %s × (100 blocks of 16..256 B allocated, then freed)" % human_count(s["alloc_n"] // 100),
          "whole run"),
    alloc("mixed", lambda s: "%s blocks of 16-512 B, 90%% die within 64 allocations, 10%% long-lived (100k)"
          % human_count(s["alloc_n"]), "whole loop"),
    alloc("prodcons", lambda s: "producer/consumer: %s steps through a 100k-block FIFO, 16-512 B" % human_count(s["alloc_n"]),
          "whole loop"),
    # 11. the containers: List, Dict, Array, Deque against CPython's and the standard library's
    containers_workload(),
    # 12. generators: one long generator (constant memory), and many short ones (a frame each)
    Workload("generator", [Program("ouro", "generator_ouro"), Program("cpython", "generator.py")],
             args=lambda s: ["--n", s["gen_n"], "--reps", 3], procs=3,
             quick=dict(gen_n=1000000), full=dict(gen_n=10000000),
             rows=[Row("gen_iterate", lambda s: "sum(count_up_to(%s)): one generator" % human_count(s["gen_n"]),
                       "whole loop"),
                   Row("gen_create", lambda s: "%s × (make a generator of three ints, consume it)"
                       % human_count(s["gen_n"] // 10), "whole loop")]),
    # 13. attributes in a per-instance dictionary (DynObject; a class with __dict__) against a fixed
    # layout (a struct; __slots__). Bytes per instance are in results.json (attr_bytes_*).
    Workload("attrs",
             [Program("ouro-" + layout, "attrs_ouro", ("--layout", layout)) for layout in ("dict", "slots")]
             + [Program("cpython-" + layout, "attrs.py", ("--layout", layout)) for layout in ("dict", "slots")],
             args=lambda s: ["--n", s["attr_n"], "--passes", 10, "--reps", 1], procs=3,
             quick=dict(attr_n=200000), full=dict(attr_n=1000000),
             rows=[Row("attr_read_" + layout, lambda s, label=label: "%s instances with two int attributes, %s: "
                       "10 passes reading o.x + o.y" % (human_count(s["attr_n"]), label), "the passes")
                   for layout, label in (("dict", "DynObject / __dict__"), ("slots", "fixed layout / __slots__"))]
             + [Row("attr_write_" + layout, "the same, %s: 10 passes setting o.x" % label, "the passes")
                for layout, label in (("dict", "DynObject / __dict__"), ("slots", "fixed layout / __slots__"))]),
]

ROWS = [r for w in WORKLOADS for r in w.rows]
ORDER = [r.bench for r in ROWS]  # table order
assert len(set(ORDER)) == len(ORDER), "a figure is described twice"


def sizes(quick, bt_n=0, procs=0):
    s = {}
    for w in WORKLOADS:
        for k, v in (w.quick if quick else w.full).items():
            assert s.get(k, v) == v, "size %s declared twice with different values" % k
            s[k] = v
    if bt_n:
        s["bt_n"] = bt_n
    if procs:
        s["procs"] = procs
    return s


def describe(s):
    """Workload descriptions for the tables: bench -> (title, what is timed)."""
    return {r.bench: (r.title(s) if callable(r.title) else r.title, r.what) for r in ROWS}


def exe(build, name):
    return os.path.join(build, "bench", name)


def py(script):
    return ["python3", os.path.join(PY, script)]


def program_argv(build, p):
    return py(p.program) if p.program.endswith(".py") else [exe(build, p.program)]


class Job:
    """One program to run `procs` times in fresh processes; all its JSON lines are collected."""

    def __init__(self, group, impl, argv, procs, timeout=600):
        self.group, self.impl, self.argv, self.procs, self.timeout = group, impl, argv, procs, timeout


def jobs(build, s):
    J = []
    for w in WORKLOADS:
        wargs = w.args(s) if callable(w.args) else w.args
        for p in w.programs:
            procs = w.procs if p.procs is None else p.procs
            J.append(Job(w.group, p.job, program_argv(build, p) + [str(a) for a in list(p.args) + list(wargs)],
                         s[procs] if isinstance(procs, str) else procs, p.timeout))
    return J


def human_count(n):
    if n >= 1000000 and n % 100000 == 0:
        return ("%.1fM" % (n / 1e6)).replace(".0M", "M")
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


# ---------------------------------------------------------------------------------------------
# Running.

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
            p = subprocess.run(j.argv, capture_output=True, text=True, timeout=j.timeout, cwd=ROOT)
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
    """Output at --n 10 against the reference text (bench/<group>_n10.txt: binary-trees), for the
    jobs a workload lists."""
    results = []
    for w in WORKLOADS:
        if not w.text:
            continue
        ref = open(os.path.join(ROOT, "bench", w.group + "_n10.txt")).read()
        progs = {p.job: p for p in w.programs}
        for job in w.text:
            p = progs[job]
            argv = program_argv(build, p)
            if not os.path.exists(argv[-1]):
                continue
            r = subprocess.run(argv + list(p.args) + ["--n", "10", "--text"], capture_output=True, text=True, cwd=ROOT)
            results.append({"impl": IMPL_OF_JOB.get(job, job), "ok": r.returncode == 0 and r.stdout == ref})
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
    """ouroboros ÷ each peer, per figure; a Row's `peers` takes a peer's figure from another bench."""
    by = {(r["bench"], r["metric"], r["impl"]): r for r in results}
    borrowed = [(row.bench, peer, src) for row in ROWS for peer, src in row.peers.items()]
    out = []
    for r in results + [dict(r, bench=b, peer_bench=src) for b, peer, src in borrowed for r in results
                        if r["bench"] == src and r["impl"] == peer]:
        if r["impl"] == "ouro" or r["metric"].endswith("_B") or r["unit"] in ("B", "MB") or r["metric"] == "count":
            continue
        o = by.get((r["bench"], r["metric"], "ouro"))
        if not o or r["median"] <= 0:
            continue
        q = {"bench": r["bench"], "metric": r["metric"], "peer": r["impl"], "ouro": o["median"],
             "peer_median": r["median"], "ratio": o["median"] / r["median"], "ok": o["ok"] and r["ok"]}
        if "peer_bench" in r:
            q["peer_bench"] = r["peer_bench"]
        out.append(q)
    return out


class Figures:
    """What the targets read: medians by (bench, impl, metric), ratios, and collection shares."""

    def __init__(self, results, rats, lines):
        self.res = {(r["bench"], r["impl"], r["metric"]): r for r in results}
        self.rats = {(r["bench"], r["peer"]): r for r in rats if r["metric"] in ("collect_s", "time_s")}
        self.lines = lines

    def result(self, bench, impl, metric):
        return self.res.get((bench, impl, metric))

    def ratio(self, bench, peer):
        return self.rats.get((bench, peer))

    def figure(self, bench, impl, metric):
        if metric.startswith("extra:"):  # a field of the time_s lines, its median over the processes
            key = metric[len("extra:"):]
            vals = sorted(r[key] for r in self.lines if (r["bench"], r["impl"], r["metric"]) == (bench, impl, "time_s")
                          and key in r)
            if not vals:
                return None
            return {"median": vals[(len(vals) - 1) // 2], "unit": "", "ok": True}
        if metric != "gc_share":
            return self.result(bench, impl, metric)
        recs = [r for r in self.lines if (r["bench"], r["impl"], r["metric"]) == (bench, impl, "time_s")
                and "gc_pause_s" in r and r["value"] > 0]
        if not recs:
            return None
        # the process whose share is the median (the lower one of an even count), so that its
        # figures can be shown beside it
        rec = sorted(recs, key=lambda r: r["gc_pause_s"] / r["value"])[(len(recs) - 1) // 2]
        return {"median": rec["gc_pause_s"] / rec["value"], "unit": "", "ok": all(r["ok"] for r in recs),
                "pause_s": rec["gc_pause_s"], "time_s": rec["value"]}


def targets(results, rats, lines):
    f = Figures(results, rats, lines)
    decl = [t for w in WORKLOADS for t in w.targets]
    decl.sort(key=lambda t: (TARGET_GROUPS.index(t.group), order_key(t.bench)))  # stable: table order
    return [e for e in (t.evaluate(f) for t in decl) if e is not None]


def pauses(lines):
    out = {}
    for rec in lines:
        if rec["bench"] == "churn_pauses" and "pauses_us" in rec:
            out.setdefault(rec["impl"], {"pauses_us": [], "generations": []})
            out[rec["impl"]]["pauses_us"] += rec["pauses_us"]
            out[rec["impl"]]["generations"] += rec["generations"]
    return out


def order_key(bench):
    return ORDER.index(bench) if bench in ORDER else len(ORDER)

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


def ratio_rows(results, rats, desc):
    by = {(r["bench"], r["impl"], r["metric"]): r for r in results}
    rows = []
    for q in sorted(rats, key=lambda q: order_key(q["bench"])):
        if q["metric"] not in ("collect_s", "time_s", "pause_s"):
            continue
        o = by[(q["bench"], "ouro", q["metric"])]
        p = by[(q.get("peer_bench", q["bench"]), q["peer"], q["metric"])]
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
    for group in TARGET_GROUPS:
        print()
        print("Targets (%s):" % group)
        for t in targ:
            if t.get("group", CORE) != group:
                continue
            val = ("ratio %.3g" % t["ratio"]) if t.get("ratio") is not None else (
                "%.1f B" % t["value"] if t.get("value") is not None else "not measured")
            if t.get("measured"):
                val += " (%s)" % t["measured"]
            print("  [%s] %s: %s" % ("met" if t["met"] else "MISSED", t["target"], val))
        if group == CORE:
            for t in texts:
                print("  [%s] binary-trees n=10 output matches the reference text: %s" % (
                    "ok" if t["ok"] else "FAILED", t["impl"]))
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
    for group in TARGET_GROUPS:
        L.append("### Targets (%s)" % group)
        L.append("")
        L.append("| target | measured | met |")
        L.append("|---|---|---|")
        for t in targ:
            if t.get("group", CORE) != group:
                continue
            if t.get("measured"):
                val = "%s = %.3g" % (t["measured"], t["ratio"])
            elif t.get("ratio") is not None:
                val = "ouro ÷ peer = %.3g (%.1fx %s)" % (t["ratio"], 1 / t["ratio"] if t["ratio"] < 1 else t["ratio"],
                                                        "faster" if t["ratio"] < 1 else "slower")
            elif t.get("value") is not None:
                val = "%.0f B per object (block); %.1f B measured from RSS of live allocations" % (
                    t["value"], t["value_live_rss"] or float("nan"))
            else:
                val = "not measured"
            L.append("| %s | %s | %s |" % (t["target"], val, "yes" if t["met"] else "**no**"))
        if group == CORE:
            for t in texts:
                L.append("| binary-trees n=10 output = reference text (%s) | %s | %s |" % (
                    IMPL_LABEL.get(t["impl"], t["impl"]), "identical" if t["ok"] else "differs",
                    "yes" if t["ok"] else "**no**"))
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
    s = sizes(a.quick, a.bt_n, a.procs)
    cmd = a.command or "bench/run.py " + " ".join(sys.argv[1:])
    meta = machine(cmd, "quick" if a.quick else "full")
    t0 = time.time()
    lines, failures = run_all(jobs(a.build_dir, s), a.only)
    texts = check_text(a.build_dir)
    results = aggregate(lines)
    rats = ratios(results)
    targ = targets(results, rats, lines)
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
