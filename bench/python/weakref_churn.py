"""Weak reference churn: the CPython peer of bench/weakref_churn.cpp (same shapes, same checks).
Usage: weakref_churn.py [--n 1000000] [--reps 3]
"""
import time
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


def main():
    n = arg("--n", 1000000)
    reps = arg("--reps", 3)
    for rep in range(reps):
        one_at_a_time(n, rep)
    for rep in range(reps):
        all_at_once(n, rep)
    for rep in range(reps):
        dictionary_churn(n, rep)


main()
done()
