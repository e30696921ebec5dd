"""The pyperformance collector benchmarks (gc_collect, gc_traversal, btree_gc): the CPython peer
of bench/pyperf.cpp, the same shapes and verification, the same B-tree algorithm.
Usage: pyperf.py --bench gc_collect|gc_traversal|btree_gc [--loops L] [--n N] [--reps R]
"""
import gc
import random
import sys
import time

from common import IMPL, arg, check, done, emit


# ---- gc_collect (pyperformance's Node is an ordinary class) ------------------------------------
class RingNode:
    def __init__(self):
        self.next = None
        self.prev = None

    def link_next(self, nxt):
        self.next = nxt
        nxt.prev = self


def gc_collect(loops):
    cycles, links = 100, 20
    for loop in range(loops):
        gc.collect()
        all_rings = []
        for _ in range(cycles):
            node = RingNode()
            all_rings.append(node)
            current = node
            for _ in range(links):
                nxt = RingNode()
                current.link_next(nxt)
                current = nxt
            current.link_next(node)
        del all_rings, node, current, nxt
        t0 = time.perf_counter()
        found = gc.collect()
        elapsed = time.perf_counter() - t0
        ok = check(found >= cycles * (links + 1), "gc_collect: collected")
        emit("gc_collect", IMPL, "collect_s", elapsed, "s", loop, ok, collected=found)


# ---- gc_traversal ----------------------------------------------------------------------------
def gc_traversal(loops):
    levels = 1000
    current = []
    for n in range(levels):
        current = [current] * n
    for touched in (False, True):  # the two protocols of bench/pyperf.cpp
        name = "gc_traversal" if touched else "gc_traversal_unchanged"
        for loop in range(loops):
            gc.collect()
            if touched:
                touch = current
                del touch
            t0 = time.perf_counter()
            found = gc.collect()
            elapsed = time.perf_counter() - t0
            ok = check(found == 0, "gc_traversal: nothing collected")
            ok &= check(len(current) == levels - 1, "gc_traversal: structure")
            emit(name, IMPL, "collect_s", elapsed, "s", loop, ok,
                 objects=levels + 1, references=levels * (levels - 1) // 2)


# ---- btree_gc --------------------------------------------------------------------------------
class Record:  # an ordinary class with six attributes, as pyperformance's
    def __init__(self, a, b, c, d, e, f):
        self.a = a
        self.b = b
        self.c = c
        self.d = d
        self.e = e
        self.f = f


T = 16  # minimum degree


class BNode:
    __slots__ = ("items", "nodes")  # items: [(key, record)], nodes: [BNode] ([] for a leaf)

    def __init__(self):
        self.items = []
        self.nodes = []

    def full(self):
        return len(self.items) == 2 * T - 1

    def position(self, key):
        items = self.items
        p = 0
        while p < len(items) and items[p][0] < key:
            p += 1
        return p

    def split_child(self, p):
        child = self.nodes[p]
        bigger = BNode()
        middle = T - 1
        median = child.items[middle]
        bigger.items = child.items[middle + 1:]
        del child.items[middle:]
        if child.nodes:
            bigger.nodes = child.nodes[middle + 1:]
            del child.nodes[middle + 1:]
        self.items.insert(p, median)
        self.nodes.insert(p + 1, bigger)

    def insert(self, item):
        key = item[0]
        p = self.position(key)
        if p < len(self.items) and self.items[p][0] == key:
            self.items[p] = item
        elif not self.nodes:
            self.items.insert(p, item)
        else:
            if self.nodes[p].full():
                self.split_child(p)
                if self.items[p][0] == key:
                    self.items[p] = item
                    return
                if key > self.items[p][0]:
                    p += 1
            self.nodes[p].insert(item)

    def max_item(self):
        return self.items[-1] if not self.nodes else self.nodes[-1].max_item()

    def min_item(self):
        return self.items[0] if not self.nodes else self.nodes[0].min_item()

    def remove(self, key):
        p = self.position(key)
        here = p < len(self.items) and self.items[p][0] == key
        if not self.nodes:
            if not here:
                raise KeyError(key)
            del self.items[p]
            return
        if here:
            if len(self.nodes[p].items) >= T:
                pred = self.nodes[p].max_item()
                self.nodes[p].remove(pred[0])
                self.items[p] = pred
            elif len(self.nodes[p + 1].items) >= T:
                succ = self.nodes[p + 1].min_item()
                self.nodes[p + 1].remove(succ[0])
                self.items[p] = succ
            else:
                self.merge(p)
                self.nodes[p].remove(key)
        else:
            if len(self.nodes[p].items) < T:
                p = self.grow_child(p)
            self.nodes[p].remove(key)

    def merge(self, p):
        left, right = self.nodes[p], self.nodes[p + 1]
        left.items.append(self.items[p])
        left.items.extend(right.items)
        left.nodes.extend(right.nodes)
        del self.items[p]
        del self.nodes[p + 1]

    def grow_child(self, p):
        child = self.nodes[p]
        if p > 0 and len(self.nodes[p - 1].items) >= T:
            left = self.nodes[p - 1]
            child.items.insert(0, self.items[p - 1])
            self.items[p - 1] = left.items.pop()
            if left.nodes:
                child.nodes.insert(0, left.nodes.pop())
            return p
        if p + 1 < len(self.nodes) and len(self.nodes[p + 1].items) >= T:
            right = self.nodes[p + 1]
            child.items.append(self.items[p])
            self.items[p] = right.items.pop(0)
            if right.nodes:
                child.nodes.append(right.nodes.pop(0))
            return p
        if p + 1 < len(self.nodes):
            self.merge(p)
            return p
        self.merge(p - 1)
        return p - 1

    def walk(self, f):
        nodes = self.nodes
        for i, item in enumerate(self.items):
            if nodes:
                nodes[i].walk(f)
            f(item)
        if nodes:
            nodes[-1].walk(f)

    def count_nodes(self):
        return 1 + sum(c.count_nodes() for c in self.nodes)


class BTree:
    __slots__ = ("root",)

    def __init__(self):
        self.root = BNode()

    def add(self, key, value):
        if self.root.full():
            node = BNode()
            node.nodes = [self.root]
            node.split_child(0)
            self.root = node
        self.root.insert((key, value))

    def remove(self, key):
        self.root.remove(key)
        if not self.root.items and self.root.nodes:
            self.root = self.root.nodes[0]


def btree_gc(n, reps):
    rnd = random.Random(0)
    interned = [sys.intern(str(i)) for i in range(31)]
    records = []
    d_expected = 0.0
    for node_id in range(n):
        d = rnd.random()
        d_expected += d
        records.append(Record(node_id, "node %d" % node_id, rnd.randbytes(node_id % 100), d,
                              interned[rnd.randrange(31)], rnd.choice((None, True, False))))
    for rep in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        tree = BTree()
        ids = list(range(n))
        random.Random(1 + rep).shuffle(ids)
        for i in ids:
            tree.add(i, records[i])
        remake = n // 5
        for i in range(remake):
            tree.remove(i)
        for i in range(remake):
            tree.add(i, records[i])
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = gc.collect()
        elapsed = time.perf_counter() - t0
        state = {"next": 0, "in_order": True, "d": 0.0}

        def visit(item):
            state["in_order"] &= item[0] == state["next"]
            state["next"] += 1
            state["d"] += item[1].d

        tree.root.walk(visit)
        ok = check(found == 0, "btree_gc: nothing collected")
        ok &= check(state["in_order"] and state["next"] == n, "btree_gc: keys in order")
        ok &= check(abs(state["d"] - d_expected) < 1e-6 * n, "btree_gc: sum")
        emit("btree_gc", IMPL, "collect_s", elapsed, "s", rep, ok, records=n,
             bnodes=tree.root.count_nodes(), build_s=build, tracked=len(gc.get_objects()))
        emit("btree_build", IMPL, "time_s", build, "s", rep, ok)
        del tree


def main():
    which = arg("--bench", "gc_collect")
    loops = arg("--loops", 50)
    if which == "gc_collect":
        gc_collect(loops)
    elif which == "gc_traversal":
        gc_traversal(loops)
    else:
        btree_gc(arg("--n", 200000), arg("--reps", 3))


main()
done()
