"""Weak reference churn: the CPython peer of bench/weakref_churn.cpp (same shapes, same checks).
--shape memory reports the bytes a weak reference costs instead (the C++ program's mem_* figures),
from tracemalloc: what the interpreter allocated while the references were made.
Usage: weakref_churn.py [--n 1000000] [--reps 3] [--shape all|memory]
"""
import sys
import time
import tracemalloc
import weakref

from common import IMPL, arg, check, done, emit


class Target:
    __slots__ = ("value", "__weakref__")

    def __init__(self, value):
        self.value = value


def one_at_a_time(n, rep):
    fired = [0]

    def callback(_ref):
        fired[0] += 1

    dead = 0
    ref = weakref.ref
    t0 = time.perf_counter()
    for i in range(n):
        obj = Target(i)
        weak = ref(obj, callback)
        del obj
        dead += weak() is None
    elapsed = time.perf_counter() - t0
    ok = check(fired[0] == n and dead == n, "weakref churn: callbacks and deaths")
    emit("weakref_churn", IMPL, "time_s", elapsed, "s", rep, ok, n=n)


def all_at_once(n, rep):
    fired = [0]

    def callback(_ref):
        fired[0] += 1

    ref = weakref.ref
    t0 = time.perf_counter()
    objs = [Target(i) for i in range(n)]
    weaks = [ref(o, callback) for o in objs]
    alive = sum(w() is not None for w in weaks)
    del objs
    dead = sum(w() is None for w in weaks)
    del weaks
    elapsed = time.perf_counter() - t0
    ok = check(alive == n and fired[0] == n and dead == n, "weakref bulk: callbacks and deaths")
    emit("weakref_bulk", IMPL, "time_s", elapsed, "s", rep, ok, n=n)


def dictionary_churn(n, rep):
    found = 0
    cache = weakref.WeakValueDictionary()
    t0 = time.perf_counter()
    for i in range(n):
        obj = Target(i)
        cache[i] = obj
        found += cache.get(i) is obj
        del obj
    elapsed = time.perf_counter() - t0
    ok = check(found == n and len(cache) == 0, "weak dictionary churn: reads and vanished entries")
    emit("weakdict_churn", IMPL, "time_s", elapsed, "s", rep, ok, n=n)


def traced(build):
    """Bytes allocated by build() and still held (its result is kept until then)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown, kept


def memory(n):
    ref = weakref.ref
    emit("mem_handle", IMPL, "bytes", sys.getsizeof(ref(Target(0))), "B", 0, True)
    parents = [Target(i) for i in range(max(1, n // 100))]
    m = len(parents)
    grown, refs = traced(lambda: [ref(parents[i % m]) for i in range(n)])  # shared: the same ref each time
    emit("mem_shared_parent", IMPL, "bytes", grown / n, "B", 0, len(refs) == n, n=n)
    del refs, parents
    objs = [Target(i) for i in range(n)]
    grown, refs = traced(lambda: [ref(o) for o in objs])
    emit("mem_own_referent", IMPL, "bytes", grown / n, "B", 0, len(refs) == n, n=n)
    del refs
    keys = list(range(n))  # made before: the entries hold them, as the C++ entries hold their int
    grown, d = traced(lambda: weakref.WeakValueDictionary(zip(keys, objs)))
    emit("mem_index_entry", IMPL, "bytes", grown / n, "B", 0, check(len(d) == n, "memory: index entries"), n=n)


def main():
    n = arg("--n", 1000000)
    reps = arg("--reps", 3)
    if arg("--shape", "all") == "memory":
        memory(n)
        return
    for rep in range(reps):
        one_at_a_time(n, rep)
    for rep in range(reps):
        all_at_once(n, rep)
    for rep in range(reps):
        dictionary_churn(n, rep)


main()
done()
