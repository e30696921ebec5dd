"""Full gc.collect() of large heaps: the CPython peer of bench/collect.cpp (same shapes, same
verification). Objects are built with the collector disabled; only gc.collect() is timed.
Usage: collect.py --shape chain|shuffled|cycles|cycles_churned --n N --reps R [--label SUFFIX]
"""
import gc
import random
import time

from common import IMPL, arg, check, done, emit, peak_rss_bytes


class Node:
    __slots__ = ("value", "next")

    def __init__(self, value):
        self.value = value
        self.next = None


def emit_collect(bench, seconds, count, rep, ok, **extra):
    """The figure, and the same per object (what the scaling rows compare as the heap grows)."""
    emit(bench, IMPL, "collect_s", seconds, "s", rep, ok, **extra)
    emit(bench, IMPL, "collect_ns_per_object", seconds * 1e9 / count, "ns", rep, ok)


def run_live(name, shape, n, rep):
    t0 = time.perf_counter()
    if shape == "chain":
        root = tail = Node(0)
        for i in range(1, n):
            nxt = Node(i)
            tail.next = nxt
            tail = nxt
        del tail, nxt
    else:
        nodes = [Node(i) for i in range(n)]
        random.Random(42 + rep).shuffle(nodes)
        for i in range(n - 1):
            nodes[i].next = nodes[i + 1]
        root = nodes[0]
        del nodes
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = gc.collect()
    first = time.perf_counter() - t0
    touch = root  # the same reference drop as the C++ side (which needs it to look again)
    del touch
    t0 = time.perf_counter()
    found_again = gc.collect()
    again = time.perf_counter() - t0
    count = total = 0
    p = root
    while p is not None:
        total += p.value
        count += 1
        p = p.next
    ok = check(found == 0 and found_again == 0, "live heap: nothing collected")
    ok &= check(count == n and total == n * (n - 1) // 2, "live heap: chain intact")
    extra = dict(objects=n, collected=found, build_s=build)
    emit_collect(name, first, n, rep, ok, **extra)
    emit_collect(name + "_again", again, n, rep, ok, **extra)
    del root, p


def run_garbage(name, shape, n, rep):
    filler = None
    if shape == "cycles_churned":
        filler = [Node(i) for i in range(2 * n)]
        random.Random(7 + rep).shuffle(filler)
        del filler[n:]  # frees a random half, in random order
    # No __del__ to count deaths (it would put CPython on its slower finalizer path): the
    # count gc.collect() returns is the verification.
    t0 = time.perf_counter()
    for i in range(n // 2):
        a = Node(i)
        b = Node(i)
        a.next = b
        b.next = a
    del a, b
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = gc.collect()
    elapsed = time.perf_counter() - t0
    ok = check(found == n // 2 * 2, "garbage: collected count")
    emit_collect(name, elapsed, n // 2 * 2, rep, ok, objects=n // 2 * 2, collected=found, build_s=build)
    del filler


def main():
    shape = arg("--shape", "chain")
    n = arg("--n", 1000000)
    reps = arg("--reps", 5)
    name = "collect_" + shape + arg("--label", "")
    gc.collect()
    gc.disable()
    for rep in range(reps):
        if shape in ("chain", "shuffled"):
            run_live(name, shape, n, rep)
        else:
            run_garbage(name, shape, n, rep)
        gc.collect()
    emit(name, IMPL, "peak_rss_MB", peak_rss_bytes() / 1e6, "MB", 0, True)


main()
done()
