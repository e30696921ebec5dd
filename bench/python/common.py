"""Helpers shared by the CPython peer programs: the JSON-lines output of bench/common.hpp,
argument parsing, RSS readings and the same xorshift64* stream as the C++ programs."""
import json
import os
import sys

IMPL = "cpython"
FAILURES = 0


def _start_tracemalloc():
    """--tracemalloc N: the run is traced by CPython's tracemalloc with N frames (the peer of
    ouroboros' tracemalloc); the label names the variant."""
    argv = sys.argv[1:]
    if "--tracemalloc" in argv[:-1]:
        import tracemalloc
        n = int(argv[argv.index("--tracemalloc") + 1])
        tracemalloc.start(n)
        return "cpython (tracemalloc %d)" % n
    return "cpython"


IMPL = _start_tracemalloc()


def tracer_figures():
    """The tracer's own bytes per trace, as the C++ programs report them."""
    import tracemalloc
    if not tracemalloc.is_tracing():
        return {}
    traces = len(tracemalloc.take_snapshot().traces)
    size = tracemalloc.get_tracemalloc_memory()
    return {"traces": traces, "tracer_bytes": size, "tracer_bytes_per_trace": size / traces if traces else 0}


def emit(bench, impl, metric, value, unit, rep, ok, **extra):
    line = {"bench": bench, "impl": impl, "metric": metric, "value": value, "unit": unit,
            "rep": rep, "ok": bool(ok)}
    line.update(extra)
    print(json.dumps(line), flush=True)


def check(ok, what):
    global FAILURES
    if not ok:
        print("VERIFY FAILED: " + what, file=sys.stderr)
        FAILURES += 1
    return ok


def arg(name, default):
    argv = sys.argv[1:]
    for i, a in enumerate(argv[:-1]):
        if a == name:
            return type(default)(argv[i + 1])
    return default


def flag(name):
    return name in sys.argv[1:]


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")


def peak_rss_bytes():
    # VmHWM: getrusage's ru_maxrss is carried across execve, so it would report the runner's peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class Rng:
    """xorshift64*, identical to bench::Rng."""
    M = (1 << 64) - 1

    def __init__(self, seed):
        self.s = seed or 0x9E3779B97F4A7C15

    def next(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & self.M
        s ^= s >> 27
        self.s = s
        return (s * 0x2545F4914F6CDD1D) & self.M

    def below(self, n):
        return self.next() % n


def shuffle(v, rng):
    """Fisher-Yates with Rng, identical to bench::shuffle."""
    for i in range(len(v), 1, -1):
        j = rng.below(i)
        v[i - 1], v[j] = v[j], v[i - 1]


def done():
    sys.exit(1 if FAILURES else 0)
