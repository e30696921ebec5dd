"""Generators: the CPython peer of bench/generator.cpp (same shapes, same checks).
Usage: generator.py [--n 10000000] [--reps 3]
"""
import time

from common import IMPL, arg, check, done, emit, rss_bytes


def count_up_to(n):
    for i in range(n):
        yield i


def three(base):
    yield base
    yield base + 1
    yield base + 2


def iterate(n, rep):
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    total = 0
    for v in count_up_to(n):
        total += v
    elapsed = time.perf_counter() - t0
    grown = rss_bytes() - rss0
    ok = check(total == n * (n - 1) // 2, "gen_iterate: sum")
    emit("gen_iterate", IMPL, "time_s", elapsed, "s", rep, ok, n=n, ns_per_item=elapsed * 1e9 / n)
    emit("gen_iterate", IMPL, "rss_grown_B", grown, "B", rep, ok)


def create(n, rep):
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        for v in three(i):
            total += v
    elapsed = time.perf_counter() - t0
    ok = check(total == 3 * (n * (n - 1) // 2) + 3 * n, "gen_create: sum")
    emit("gen_create", IMPL, "time_s", elapsed, "s", rep, ok, n=n, ns_per_generator=elapsed * 1e9 / n)


def main():
    n = arg("--n", 10000000)
    reps = arg("--reps", 3)
    for rep in range(reps):
        iterate(n, rep)
    for rep in range(reps):
        create(n // 10, rep)


main()
done()
