"""Attributes in a per-instance dict against __slots__: the CPython peer of bench/attrs.cpp (same
shapes, same checks).
  static_B : bytes traced by tracemalloc per instance, over a separate batch of 10,000
  rss_B    : RSS grown while the n instances are made, / n
Usage: attrs.py --layout dict|slots [--n 1000000] [--passes 10] [--reps 3]
"""
import gc
import time
import tracemalloc

from common import IMPL, arg, check, done, emit, rss_bytes


class Dict:
    def __init__(self, x, y):
        self.x = x
        self.y = y


class Slots:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def traced_bytes(cls):
    batch = 10000
    objs = [None] * batch
    ints = [(i + 10**6, 2 * i + 10**6) for i in range(batch)]  # made before tracing: not counted
    tracemalloc.start()
    t0 = tracemalloc.get_traced_memory()[0]
    for i in range(batch):
        objs[i] = cls(*ints[i])
    t1 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (t1 - t0) / batch


def run(layout, n, passes, rep):
    cls = Slots if layout == "slots" else Dict
    static = traced_bytes(cls)
    xs = list(range(n))  # the int objects exist before the instances: not counted
    ys = [2 * i for i in xs]
    objs = [None] * n
    rss0 = rss_bytes()
    for i in range(n):
        objs[i] = cls(xs[i], ys[i])
    rss = (rss_bytes() - rss0) / n
    emit("attr_bytes_" + layout, IMPL, "static_B", static, "B", rep, True)
    emit("attr_bytes_" + layout, IMPL, "rss_B", rss, "B", rep, True)

    t0 = time.perf_counter()
    total = 0
    for _ in range(passes):
        for o in objs:
            total += o.x + o.y
    elapsed = time.perf_counter() - t0
    accesses = 2 * n * passes
    ok = check(total == passes * 3 * (n * (n - 1) // 2), "attrs: read sum")
    emit("attr_read_" + layout, IMPL, "time_s", elapsed, "s", rep, ok, ns_per_access=elapsed * 1e9 / accesses)

    t0 = time.perf_counter()
    for p in range(passes):
        for i, o in enumerate(objs):
            o.x = i + p
    elapsed = time.perf_counter() - t0
    total = sum(o.x for o in objs)
    ok = check(total == n * (n - 1) // 2 + n * (passes - 1), "attrs: write sum")
    emit("attr_write_" + layout, IMPL, "time_s", elapsed, "s", rep, ok, ns_per_access=elapsed * 1e9 / (accesses / 2))


def main():
    layout = arg("--layout", "dict")
    n = arg("--n", 1000000)
    passes = arg("--passes", 10)
    reps = arg("--reps", 3)
    gc.disable()
    for rep in range(reps):
        run(layout, n, passes, rep)


main()
done()
