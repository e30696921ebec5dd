"""A tiny interpreter's memory behaviour: the CPython peer of bench/interp.cpp (same stream, same
program, same checksum). Env and Closure are plain classes modelling a tree-walking
interpreter's objects (not Python's own closures): calling a closure makes an Env whose parent is
the closure's Env, and a function that defines a local function stores a Closure capturing its
own Env in that Env, so every call leaves an Env <-> Closure cycle for the cycle collector.
bench/interp.cpp describes the interpreted program.

Usage: interp.py [--calls 2000000] [--update-every 1000]
"""
import gc
import time

from common import IMPL, Rng, arg, check, done, emit, peak_rss_bytes

X, Y, G, H, FIRST_GLOBAL = 1, 2, 3, 4, 100
ONE, TWO, ADD, MUL = 0, 1, 2, 3
GLOBALS = 1000
M64 = (1 << 64) - 1


class Env:
    __slots__ = ("parent", "vars")

    def __init__(self, parent):
        self.parent = parent
        self.vars = {}

    def lookup(self, name):
        e = self
        while True:
            v = e.vars.get(name)
            if v is not None or e.parent is None:
                return v
            e = e.parent


class Closure:
    __slots__ = ("code", "env")

    def __init__(self, code, env):
        self.code = code
        self.env = env


def global_number(env, key):
    return env.lookup(FIRST_GLOBAL + 4 * (key % 250))


def call(f, a):
    code = f.code
    if code == ONE:
        frame = Env(f.env)
        frame.vars[X] = a
        frame.vars[G] = Closure(ADD, frame)
        return call(frame.lookup(G), a + 1)
    if code == TWO:
        frame = Env(f.env)
        frame.vars[X] = a
        frame.vars[G] = Closure(MUL, frame)
        frame.vars[H] = Closure(ADD, frame)
        return call(frame.lookup(G if a & 1 else H), a) + 1
    frame = Env(f.env)
    frame.vars[Y] = a
    x = frame.lookup(X)
    y = frame.lookup(Y)
    if code == ADD:
        return x + y + global_number(frame, x + y)
    return (3 * x + y) * (global_number(frame, x * y) + 1) % 1000003


def direct(module, code, x):
    """The same functions computed directly on the module's numbers, to check the interpreter."""
    def add(a, b):
        return a + b + global_number(module, a + b)

    def mul(a, b):
        return (3 * a + b) * (global_number(module, a * b) + 1) % 1000003

    if code == ONE:
        return add(x, x + 1)
    return (mul(x, x) if x & 1 else add(x, x)) + 1


def main():
    calls = max(0, arg("--calls", 2000000))
    update_every = max(1, arg("--update-every", 1000))

    pauses = []
    started = []

    def on_gc(phase, info):
        if phase == "start":
            started.append(time.perf_counter())
        else:
            pauses.append(time.perf_counter() - started.pop())

    gc.callbacks.append(on_gc)

    rng = Rng(7)
    t0 = time.perf_counter()
    module = Env(None)
    for i in range(GLOBALS):
        module.vars[FIRST_GLOBAL + i] = i * 7 % 1000 if i % 4 == 0 else Closure(TWO if i % 4 == 1 else ONE, module)

    checksum = 0
    mismatches = 0
    for i in range(calls):
        if i % update_every == update_every - 1:
            slot = rng.below(GLOBALS)
            v = rng.below(1000)
            module.vars[FIRST_GLOBAL + slot] = v if slot % 4 == 0 else Closure(TWO if v & 1 else ONE, module)
        slot = rng.below(GLOBALS)
        if slot % 4 == 0:
            slot += 1  # a function, not a number
        a = rng.below(1000)
        f = module.vars[FIRST_GLOBAL + slot]
        result = call(f, a)
        if result != direct(module, f.code, a):
            mismatches += 1
        checksum = (checksum * 31 + result) & M64
    elapsed = time.perf_counter() - t0
    gc.callbacks.remove(on_gc)
    stats = gc.get_stats()

    ok = check(mismatches == 0, "interp: every result equals the direct computation")
    gc.collect()
    envs = sum(1 for o in gc.get_objects() if type(o) is Env)
    closures = sum(1 for o in gc.get_objects() if type(o) is Closure)
    ok &= check(envs == 1 and closures == GLOBALS - GLOBALS // 4,
                "interp: only the module and its closures are alive after a full collection")
    peak_mb = peak_rss_bytes() / 1e6
    emit("interp", IMPL, "time_s", elapsed, "s", 0, ok, calls=calls, checksum=checksum, peak_rss_MB=peak_mb,
         collections=[s["collections"] for s in stats], gc_pause_s=sum(pauses))
    emit("interp", IMPL, "peak_rss_MB", peak_mb, "MB", 0, ok)


main()
done()
