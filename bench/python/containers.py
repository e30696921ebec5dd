"""The containers: the CPython peer of bench/containers.cpp (list of objects, dict of ints,
array.array('i'), deque of objects; the same loops, the same checks). Bytes per element are
sys.getsizeof(container) / n: the container only, as for ouroboros.
Usage: containers.py [--n 1000000] [--reps 3]
"""
import array
import collections
import sys
import time

from common import IMPL, Rng, arg, check, done, emit, shuffle


class Node:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


def timed(bench, t0, ok, what, n, rep):
    emit(bench, IMPL, "time_s", time.perf_counter() - t0, "s", rep, check(ok, what), n=n)


def size(bench, c, n, rep):
    emit(bench, IMPL, "bytes_per_elem", sys.getsizeof(c) / n, "B", rep, True, n=n)


def run_list(nodes, n, rep, total):
    l = []
    t0 = time.perf_counter()
    append = l.append
    for h in nodes:
        append(h)
    timed("containers_list_append", t0, len(l) == n, "list append: size", n, rep)
    size("containers_list_bytes", l, n, rep)
    t0 = time.perf_counter()
    s = 0
    for i in range(n):
        s += l[i].v
    timed("containers_list_index", t0, s == total, "list index: sum", n, rep)
    t0 = time.perf_counter()
    s = 0
    for h in l:
        s += h.v
    timed("containers_list_iterate", t0, s == total, "list iterate: sum", n, rep)
    t0 = time.perf_counter()
    s = 0
    pop = l.pop
    while l:
        s += pop().v
    timed("containers_list_pop", t0, s == total, "list pop: sum", n, rep)


def run_dict(order, lookups, n, rep, total):
    d = {}
    t0 = time.perf_counter()
    for k in order:
        d[k] = k
    timed("containers_dict_insert", t0, len(d) == n, "dict insert: size", n, rep)
    size("containers_dict_bytes", d, n, rep)
    t0 = time.perf_counter()
    s = 0
    for k in lookups:
        s += d[k]
    timed("containers_dict_lookup", t0, s == total, "dict lookup: sum", n, rep)
    t0 = time.perf_counter()
    s = 0
    for k, v in d.items():
        s += v
    timed("containers_dict_iterate", t0, s == total, "dict iterate: sum", n, rep)


def run_array(n, rep, total):
    a = array.array("i")
    t0 = time.perf_counter()
    append = a.append
    for i in range(n):
        append(i)
    timed("containers_array_append", t0, len(a) == n, "array append: size", n, rep)
    size("containers_array_bytes", a, n, rep)
    t0 = time.perf_counter()
    s = 0
    for i in range(n):
        s += a[i]
    timed("containers_array_index", t0, s == total, "array index: sum", n, rep)
    t0 = time.perf_counter()
    s = 0
    for x in a:
        s += x
    timed("containers_array_iterate", t0, s == total, "array iterate: sum", n, rep)


def run_deque(nodes, n, rep, total):
    d = collections.deque()
    t0 = time.perf_counter()
    append = d.append
    for h in nodes:
        append(h)
    timed("containers_deque_append", t0, len(d) == n, "deque append: size", n, rep)
    size("containers_deque_bytes", d, n, rep)
    t0 = time.perf_counter()
    s = 0
    for h in d:
        s += h.v
    timed("containers_deque_iterate", t0, s == total, "deque iterate: sum", n, rep)
    t0 = time.perf_counter()
    s = 0
    popleft = d.popleft
    while d:
        s += popleft().v
    timed("containers_deque_popleft", t0, s == total, "deque popleft: sum", n, rep)
    t0 = time.perf_counter()
    appendleft = d.appendleft
    for h in nodes:
        appendleft(h)
    timed("containers_deque_appendleft", t0, len(d) == n, "deque appendleft: size", n, rep)
    t0 = time.perf_counter()
    s = 0
    pop = d.pop
    while d:
        s += pop().v
    timed("containers_deque_pop", t0, s == total, "deque pop: sum", n, rep)


def main():
    n = arg("--n", 1000000)
    reps = arg("--reps", 3)
    nodes = [Node(i) for i in range(n)]
    order = list(range(n))
    lookups = list(order)
    shuffle(order, Rng(42))
    shuffle(lookups, Rng(7))
    total = n * (n - 1) // 2
    for rep in range(reps):
        run_list(nodes, n, rep, total)
        run_dict(order, lookups, n, rep, total)
        run_array(n, rep, total)
        run_deque(nodes, n, rep, total)


main()
done()
