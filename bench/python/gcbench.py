"""GCBench: the CPython peer of bench/gcbench.cpp (same shape, same verification).
Usage: gcbench.py [--stretch 18] [--long-lived 16] [--array 500000] [--max 16] [--tag name]
"""
import gc
import time
from array import array as make_array

from common import IMPL, arg, check, done, emit, peak_rss_bytes

made = 0


class Node:
    __slots__ = ("left", "right", "i", "j")

    def __init__(self, left=None, right=None):
        global made
        made += 1
        self.left = left
        self.right = right
        self.i = 0
        self.j = 0


def tree_size(depth):
    return (1 << (depth + 1)) - 1


def populate(depth, node):
    if depth <= 0:
        return
    depth -= 1
    node.left = Node()
    node.right = Node()
    populate(depth, node.left)
    populate(depth, node.right)


def make_tree(depth):
    if depth <= 0:
        return Node()
    return Node(make_tree(depth - 1), make_tree(depth - 1))


def count(node):
    return 1 + count(node.left) + count(node.right) if node is not None else 0


def main():
    stretch = arg("--stretch", 18)
    long_lived_depth = arg("--long-lived", 16)
    array_size = arg("--array", 500000)
    max_depth = arg("--max", 16)
    tag = arg("--tag", "gcbench")
    min_depth = 4
    expected = 0
    t0 = time.perf_counter()
    temp = make_tree(stretch)
    expected += tree_size(stretch)
    del temp
    long_lived = Node()
    populate(long_lived_depth, long_lived)
    expected += tree_size(long_lived_depth)
    arr = make_array("d", bytes(8 * array_size))
    for i in range(1, array_size // 2):
        arr[i] = 1.0 / i
    for d in range(min_depth, max_depth + 1, 2):
        iters = 2 * tree_size(stretch) // tree_size(d)
        for _ in range(iters):
            temp = Node()
            populate(d, temp)
        for _ in range(iters):
            temp = make_tree(d)
        del temp
        expected += 2 * iters * tree_size(d)
    elapsed = time.perf_counter() - t0
    ok = check(made == expected, "nodes made")
    ok &= check(count(long_lived) == tree_size(long_lived_depth), "long-lived tree intact")
    ok &= check(array_size < 2000 or arr[1000] == 1.0 / 1000.0, "array intact")
    emit(tag, IMPL, "time_s", elapsed, "s", 0, ok, nodes=made, peak_rss_MB=peak_rss_bytes() / 1e6,
         stretch=stretch, collections=[s["collections"] for s in gc.get_stats()])


main()
done()
