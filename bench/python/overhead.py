"""Per-object overhead of CPython objects, the peer of bench/overhead.cpp.

Same shapes and the same definition: bytes per object beyond sizeof(Plain), the fields as a plain
C struct (8 bytes per reference; an int field is a small cached int here, so it costs its slot).
  static_B : sys.getsizeof(obj) (which includes the GC header), plus its __dict__ when it has one
  rss_B    : RSS grown while N objects are built as a chain, / N
Usage: overhead.py --shape ref|int_ref|ref_ref|d3_ref|int_ref_dict --n N
"""
import gc
import sys

from common import IMPL, arg, check, done, emit, rss_bytes


class NRef:
    __slots__ = ("next",)

    def __init__(self, i, nxt):
        self.next = nxt


class NIntRef:
    __slots__ = ("value", "next")

    def __init__(self, i, nxt):
        self.value = i & 255  # a cached small int: no extra object per node
        self.next = nxt


class NRefRef:
    __slots__ = ("left", "right")

    def __init__(self, i, nxt):
        self.left = nxt
        self.right = None


class ND3Ref:
    __slots__ = ("x", "y", "z", "next")

    def __init__(self, i, nxt):
        f = float(i)
        self.x = f  # one float object shared by the three fields
        self.y = f
        self.z = f
        self.next = nxt


class NIntRefDict:  # an ordinary class: instance attributes in a (lazily created) dict
    def __init__(self, i, nxt):
        self.value = i & 255
        self.next = nxt


SHAPES = {
    "ref": (NRef, 8, "next"),
    "int_ref": (NIntRef, 16, "next"),
    "ref_ref": (NRefRef, 16, "left"),
    "d3_ref": (ND3Ref, 32, "next"),
    "int_ref_dict": (NIntRefDict, 16, "next"),
}


def main():
    shape = arg("--shape", "int_ref")
    n = arg("--n", 1000000)
    cls, plain, link = SHAPES[shape]
    warm = cls(0, None)
    before = rss_bytes()
    head = None
    for i in range(n):
        head = cls(i, head)
    after = rss_bytes()
    gc.collect()
    after_collect = rss_bytes()
    count = 0
    p = head
    while p is not None:
        count += 1
        p = getattr(p, link)
    ok = check(count == n, "chain length")
    static = sys.getsizeof(head)
    if hasattr(head, "__dict__"):
        static += sys.getsizeof(head.__dict__)
    per_obj = (after - before) / n
    extra = dict(shape=shape, plain_B=plain, objects=n, block_B=static, rss_per_object_B=per_obj,
                 python=sys.version.split()[0])
    bench = "overhead_" + ("int_ref" if shape == "int_ref_dict" else shape)
    impl = IMPL + ("-dict" if shape == "int_ref_dict" else "")
    emit(bench, impl, "static_B", static - plain, "B", 0, ok, **extra)
    emit(bench, impl, "rss_B", per_obj - plain, "B", 0, ok, **extra)
    emit(bench, impl, "rss_after_collect_B", (after_collect - before) / n - plain, "B", 0, ok, **extra)
    # A long chain of Python objects is released recursively but CPython's trashcan keeps it safe.
    del head, warm


main()
done()
