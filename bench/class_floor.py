#!/usr/bin/env python3
"""The memory floor of segregated size classes on three of bench/alloc.cpp's shapes.

An allocator whose pools each serve one size class holds, at some moment, every class's own peak:
memory a class needed once cannot serve another class until a whole pool of it empties, and in
these shapes long-lived blocks sit in every pool (sh6bench-like: every 10th block, kept 10 rounds;
producer/consumer: the whole queue; mixed lifetimes: the 100k long-lived set). So no such allocator
(ouroboros' pools, mimalloc's, jemalloc's) goes below the sum over classes of each class's peak
live bytes. An allocator that splits and coalesces chunks of any size (glibc) needs only the
peak of all its chunks together, each a request plus an 8-byte header, rounded to 16 bytes
(32 at least). This replays a shape's block sizes and lifetimes (16-byte classes, as the benchmark
asks for 16-byte alignment) and prints the three figures, in MB of block memory (no page
rounding, no metadata, no benchmark vectors).

Usage: python3 bench/class_floor.py [sh6|prodcons|mixed] [n]   (default: all three, n = 10M as
the benchmark runs them; smaller n runs faster and peaks a little lower)
"""
import random
import sys


class Tally:
    """Live blocks per 16-byte class, each class's peak, and the peaks of the two totals."""

    def __init__(self) -> None:
        self.live = [0] * 33          # blocks per class: class c holds blocks of c * 16 bytes
        self.peak = [0] * 33
        self.bytes = self.peak_bytes = 0
        self.chunks = self.peak_chunks = 0  # glibc's chunk bytes

    @staticmethod
    def chunk(size: int) -> int:
        return max(32, (size + 8 + 15) & ~15)

    def add(self, size: int) -> int:
        c = (size + 15) // 16
        self.live[c] += 1
        self.peak[c] = max(self.peak[c], self.live[c])
        self.bytes += c * 16
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        self.chunks += self.chunk(size)
        self.peak_chunks = max(self.peak_chunks, self.chunks)
        return size

    def remove(self, size: int) -> None:
        c = (size + 15) // 16
        self.live[c] -= 1
        self.bytes -= c * 16
        self.chunks -= self.chunk(size)

    def floor(self) -> int:
        return sum(n * c * 16 for c, n in enumerate(self.peak))


def size(rng: random.Random) -> int:
    return 16 + rng.randrange(497)  # uniform_16_512


def sh6(n: int, t: Tally, rng: random.Random) -> None:
    kept = []  # (size, round made)
    for r in range(n // 10_000):
        made = [t.add(size(rng)) for _ in range(10_000)]
        for i, s in enumerate(made):
            if i % 10 == 0:
                kept.append((s, r))
            else:
                t.remove(s)
        still = []
        for s, m in kept:
            if r - m >= 10:
                t.remove(s)
            else:
                still.append((s, m))
        kept = still


def prodcons(n: int, t: Tally, rng: random.Random) -> None:
    queue = [t.add(size(rng)) for _ in range(100_000)]
    for i in range(n):
        t.remove(queue[i % 100_000])
        queue[i % 100_000] = t.add(size(rng))


def mixed(n: int, t: Tally, rng: random.Random) -> None:
    old = [t.add(size(rng)) for _ in range(100_000)]
    young = [t.add(size(rng)) for _ in range(64)]
    for i in range(n):
        if rng.randrange(10) == 0:
            s = rng.randrange(100_000)
            t.remove(old[s])
            old[s] = t.add(size(rng))
        else:
            t.remove(young[i % 64])
            young[i % 64] = t.add(size(rng))


def main() -> None:
    shapes = {"sh6": sh6, "prodcons": prodcons, "mixed": mixed}
    names = [a for a in sys.argv[1:] if a in shapes] or list(shapes)
    n = next((int(a) for a in sys.argv[1:] if a.isdigit()), 10_000_000)
    for name in names:
        t = Tally()
        shapes[name](n, t, random.Random(13))
        floor = t.floor()
        print(f"{name:9s} peak of live bytes {t.peak_bytes / 1e6:6.2f} MB | segregated classes' floor "
              f"{floor / 1e6:6.2f} MB (+{100 * (floor / t.peak_bytes - 1):4.1f}%) | "
              f"glibc's chunks at their peak {t.peak_chunks / 1e6:6.2f} MB", flush=True)


if __name__ == "__main__":
    main()
