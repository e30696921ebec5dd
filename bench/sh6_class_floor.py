#!/usr/bin/env python3
"""The memory floor of segregated size classes on the sh6bench-like shape (bench/alloc.cpp).

An allocator whose pools each serve one size class must, at some moment, hold every class's own
peak: memory a class needed once cannot serve another class until its pool empties entirely,
and in this shape long-lived blocks (every 10th, kept 10 rounds) sit in every pool. So no such
allocator's footprint goes below the sum over classes of each class's peak live bytes, while a
coalescing allocator (glibc) can get down to the peak of the total. This replays the shape's
block counts (same sizes, rounds and lifetimes; 16-byte classes, as the benchmark asks for
16-byte alignment) and prints both.

Usage: python3 bench/sh6_class_floor.py [rounds]   (default 1000, the benchmark's n=10M)
"""
import random
import sys


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    per_round = 10_000
    rng = random.Random(13)
    classes = 512 // 16 + 1
    live = [0] * classes      # blocks per class (class c holds blocks of c * 16 bytes)
    peak = [0] * classes      # each class's own peak
    peak_total = 0            # peak of all classes together
    kept = []                 # (class, round made)
    for r in range(rounds):
        made = [(16 + rng.randrange(497) + 15) // 16 for _ in range(per_round)]
        for c in made:
            live[c] += 1
        # The peak of a round is right after its allocations.
        peak = [max(p, n) for p, n in zip(peak, live)]
        peak_total = max(peak_total, sum(n * c * 16 for c, n in enumerate(live)))
        for i, c in enumerate(made):
            if i % 10 == 0:
                kept.append((c, r))
            else:
                live[c] -= 1
        still = []
        for c, m in kept:
            if r - m >= 10:
                live[c] -= 1
            else:
                still.append((c, m))
        kept = still
    floor = sum(n * c * 16 for c, n in enumerate(peak))
    print(f"peak of the total live bytes:        {peak_total / 1e6:.2f} MB")
    print(f"sum of each size class's own peak:   {floor / 1e6:.2f} MB "
          f"(+{100 * (floor / peak_total - 1):.1f}%)")


if __name__ == "__main__":
    main()
