"""Young-generation churn beside a long-lived heap: the CPython peer of bench/churn.cpp (same
shape, same verification; gc.callbacks time each automatic collection).
Usage: churn.py [--live 1000000] [--iters 2000000] [--reps 1]
"""
import gc
import time

from common import IMPL, arg, check, done, emit, tracer_figures


class Node:
    __slots__ = ("value", "next", "other")

    def __init__(self, value, nxt=None, other=None):
        self.value = value
        self.next = nxt
        self.other = other


def percentile(v, q):
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(int(q * (len(v) - 1) + 0.5), len(v) - 1)]


def run(live, iters, rep):
    root = tail = Node(0)
    for i in range(1, live):
        nxt = Node(i)
        tail.next = nxt
        tail = nxt
    del tail, nxt
    gc.collect()

    pauses, generations = [], []
    per_gen = [0, 0, 0]
    state = {"started": 0.0, "collected": 0}
    perf_counter = time.perf_counter

    def callback(phase, info):
        if phase == "start":
            state["started"] = perf_counter()
        else:
            pauses.append(perf_counter() - state["started"])
            generations.append(info["generation"])
            per_gen[info["generation"]] += 1
            state["collected"] += info["collected"]

    gc.callbacks.append(callback)
    ring = [None] * 1024
    cycles = 0
    t0 = perf_counter()
    for i in range(iters):
        tree = Node(i, Node(i), Node(i))
        del tree
        ring[i & 1023] = Node(i)
        if (i & 3) == 0:
            a = Node(i)
            b = Node(i)
            a.next = b
            b.next = a
            cycles += 1
    del a, b
    elapsed = perf_counter() - t0
    gc.callbacks.remove(callback)
    collected = state["collected"] + gc.collect()

    ring_sum = sum(r.value for r in ring)
    expect_ring = sum(range(max(0, iters - 1024), iters))
    count = 0
    p = root
    while p is not None:
        count += 1
        p = p.next
    ok = check(collected == 2 * cycles, "churn: every cycle collected")
    ok &= check(ring_sum == expect_ring, "churn: ring checksum")
    ok &= check(count == live, "churn: long-lived chain intact")
    young = [p for p, g in zip(pauses, generations) if g < 2]
    emit("churn", IMPL, "time_s", elapsed, "s", rep, ok, **tracer_figures(), live=live, iters=iters, collections=per_gen,
         collected=collected)
    emit("churn_pause_p50", IMPL, "pause_s", percentile(pauses, 0.5), "s", rep, ok)
    emit("churn_pause_p99", IMPL, "pause_s", percentile(pauses, 0.99), "s", rep, ok)
    emit("churn_pause_max", IMPL, "pause_s", percentile(pauses, 1.0), "s", rep, ok)
    emit("churn_young_pause_p99", IMPL, "pause_s", percentile(young, 0.99), "s", rep, ok)
    emit("churn_young_pause_max", IMPL, "pause_s", percentile(young, 1.0), "s", rep, ok)
    emit("churn_pauses", IMPL, "count", len(pauses), "", rep, ok,
         pauses_us=[round(x * 1e6, 3) for x in pauses], generations=generations)


def main():
    live = arg("--live", 1000000)
    iters = arg("--iters", 2000000)
    for rep in range(arg("--reps", 1)):
        run(live, iters, rep)


main()
done()
