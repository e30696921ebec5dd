"""The Python side of tests/test_containers_python.cpp: runs a list of operations on a real list,
array.array('l'), dict or collections.deque and prints one line per operation — its result or the
exception's class, then '|' and the size of the storage (what sys.getsizeof measures, as a
capacity) — so the C++ test can compare ouro::List, Array, Dict and Deque line by line.

Usage: python3 containers_oracle.py list|array|dict|deque < ops
The first line of a deque's ops is "new <maxlen or N>"."""
import array
import collections
import sys


def arg(v):
    return None if v == "N" else int(v)


def ints(v):
    return [int(x) for x in v.split(",")] if v else []


def show(x):
    if x is None:
        return "None"
    if isinstance(x, bool):
        return "True" if x else "False"
    if isinstance(x, tuple):
        return " ".join(show(v) for v in x)
    if isinstance(x, (list, array.array, collections.deque)):
        return "[" + " ".join(str(v) for v in x) + "]"
    return str(x)


def sequence_op(s, op, a):
    if op == "append":
        return s.append(int(a[0]))
    if op == "extend":
        return s.extend(ints(a[0] if a else ""))
    if op == "extend_self":
        return s.extend(s)
    if op == "insert":
        return s.insert(int(a[0]), int(a[1]))
    if op == "pop":
        return s.pop(int(a[0])) if a else s.pop()
    if op == "remove":
        return s.remove(int(a[0]))
    if op == "index":
        return s.index(int(a[0]), *[int(x) for x in a[1:]])
    if op == "count":
        return s.count(int(a[0]))
    if op == "contains":
        return int(a[0]) in s
    if op == "reverse":
        return s.reverse()
    if op == "get":
        return s[int(a[0])]
    if op == "set":
        s[int(a[0])] = int(a[1])
        return None
    if op == "del":
        del s[int(a[0])]
        return None
    if op == "clear":
        del s[:]
        return None
    if op == "len":
        return len(s)
    if op == "dump":
        return s
    if op == "slice":
        return s[arg(a[0]):arg(a[1]):int(a[2])]
    if op == "delslice":
        del s[arg(a[0]):arg(a[1]):int(a[2])]
        return None
    if op == "setslice":
        items = ints(a[3] if len(a) > 3 else "")
        if isinstance(s, array.array):  # an array's slice takes an array
            items = array.array(s.typecode, items)
        if int(a[2]) == 1:
            s[arg(a[0]):arg(a[1])] = items
        else:
            s[arg(a[0]):arg(a[1]):int(a[2])] = items
        return None
    raise KeyError(op)


def run_list(lines):
    s = []
    base = sys.getsizeof([])
    for line in lines:
        op, *a = line.split()
        try:
            if op == "sort":
                r = s.sort(reverse=bool(int(a[0])))
            elif op == "sortkey":
                r = s.sort(key=lambda x: x % 3, reverse=bool(int(a[0])))
            else:
                r = sequence_op(s, op, a)
            out = show(r)
        except Exception as e:  # the class is the result
            out = type(e).__name__
        print(out, "|", (sys.getsizeof(s) - base) // 8)


def run_array(lines):
    s = array.array("l")
    base = sys.getsizeof(array.array("l"))
    for line in lines:
        op, *a = line.split()
        try:
            if op == "frombytes":
                r = s.frombytes(array.array("l", ints(a[0] if a else "")).tobytes())
            elif op == "frombytes_bad":
                r = s.frombytes(b"\0" * int(a[0]))
            elif op == "byteswap":
                s.byteswap()
                r = s[0] if s else None
                s.byteswap()
            elif op == "extend_array":
                r = s.extend(array.array("l", ints(a[0] if a else "")))
            else:
                r = sequence_op(s, op, a)
            out = show(r)
        except Exception as e:
            out = type(e).__name__
        print(out, "|", (sys.getsizeof(s) - base) // s.itemsize)


# getsizeof(dict) = the object, then (when it has its own keys) a 32-byte header, 1 << log2 index
# slots of 1, 2, 4 or 8 bytes and usable = (2 << log2) // 3 entries of 24 bytes: print log2.
def dict_log2(d):
    extra = sys.getsizeof(d) - sys.getsizeof({})
    if extra == 0:
        return 0
    for log2 in range(3, 40):
        ix = 1 if log2 < 8 else 2 if log2 < 16 else 4 if log2 < 32 else 8
        if 32 + (ix << log2) + ((2 << log2) // 3) * 24 == extra:
            return log2
    return -1


def run_dict(lines):
    d = {}
    for line in lines:
        op, *a = line.split()
        try:
            if op == "set":
                d[int(a[0])] = int(a[1])
                r = None
            elif op == "at":
                r = d[int(a[0])]
            elif op == "get":
                r = d.get(int(a[0]))
            elif op == "getd":
                r = d.get(int(a[0]), int(a[1]))
            elif op == "pop":
                r = d.pop(int(a[0]))
            elif op == "popd":
                r = d.pop(int(a[0]), int(a[1]))
            elif op == "popitem":
                r = d.popitem()
            elif op == "setdefault":
                r = d.setdefault(int(a[0]), int(a[1]))
            elif op == "del":
                del d[int(a[0])]
                r = None
            elif op == "contains":
                r = int(a[0]) in d
            elif op == "update":
                r = d.update({int(k): int(v) for k, v in (p.split(":") for p in a[0].split(","))} if a else {})
            elif op == "clear":
                r = d.clear()
            elif op == "len":
                r = len(d)
            elif op == "dump":
                r = " ".join("%d:%d" % kv for kv in d.items())
            else:
                raise KeyError(op)
            out = show(r)
        except Exception as e:
            out = type(e).__name__
        print(out, "|", dict_log2(d))


def run_deque(lines):
    maxlen = arg(lines[0].split()[1])
    d = collections.deque(maxlen=maxlen)
    base = sys.getsizeof(collections.deque())
    block = 66 * 8  # CPython's block: 64 items and two links
    for line in lines[1:]:
        op, *a = line.split()
        try:
            if op == "appendleft":
                r = d.appendleft(int(a[0]))
            elif op == "popleft":
                r = d.popleft()
            elif op == "extendleft":
                r = d.extendleft(ints(a[0] if a else ""))
            elif op == "rotate":
                r = d.rotate(int(a[0]))
            elif op == "clear":
                r = d.clear()
            else:
                r = sequence_op(d, op, a)
            out = show(r)
        except Exception as e:
            out = type(e).__name__
        print(out, "|", (sys.getsizeof(d) - base) // block + 1)


def main():
    lines = [l for l in sys.stdin.read().splitlines() if l.strip()]
    {"list": run_list, "array": run_array, "dict": run_dict, "deque": run_deque}[sys.argv[1]](lines)


main()
