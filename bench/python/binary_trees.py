"""binary-trees (Benchmarks Game shape, single process): the CPython peer of bench/binary_trees.cpp.
Usage: binary_trees.py --n N [--text]
"""
import gc
import time

from common import IMPL, arg, check, done, emit, flag, peak_rss_bytes, tracer_figures


class TreeNode:
    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left = left
        self.right = right


def bottom_up(depth):
    if depth <= 0:
        return TreeNode(None, None)
    return TreeNode(bottom_up(depth - 1), bottom_up(depth - 1))


def check_tree(node):
    return 1 + check_tree(node.left) + check_tree(node.right) if node.left is not None else 1


def expected(depth):
    return (2 << depth) - 1


def main():
    n = max(6, arg("--n", 18))
    min_depth = 4
    ok = True
    out = []
    nodes = 0
    t0 = time.perf_counter()
    stretch = bottom_up(n + 1)
    c = check_tree(stretch)
    del stretch
    ok &= check(c == expected(n + 1), "stretch tree check")
    nodes += c
    out.append("stretch tree of depth %d\t check: %d" % (n + 1, c))
    long_lived = bottom_up(n)
    nodes += expected(n)
    for d in range(min_depth, n + 1, 2):
        iterations = 1 << (n - d + min_depth)
        c = 0
        for _ in range(iterations):
            c += check_tree(bottom_up(d))
        ok &= check(c == iterations * expected(d), "trees check")
        nodes += c
        out.append("%d\t trees of depth %d\t check: %d" % (iterations, d, c))
    c = check_tree(long_lived)
    ok &= check(c == expected(n), "long-lived tree check")
    out.append("long lived tree of depth %d\t check: %d" % (n, c))
    elapsed = time.perf_counter() - t0
    if flag("--text"):
        print("\n".join(out))
        return
    stats = gc.get_stats()
    kept = bottom_up(n)  # a tree alive for the tracer's figures
    figures = tracer_figures()
    del kept
    emit("binary_trees", IMPL, "time_s", elapsed, "s", 0, ok, n=n, nodes=nodes,
         peak_rss_MB=peak_rss_bytes() / 1e6, collections=[s["collections"] for s in stats], **figures)


main()
done()
