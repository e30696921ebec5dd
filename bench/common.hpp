// Shared helpers for the benchmark programs: a clock, RSS readings, argument parsing and the
// JSON-lines output that bench/run.py aggregates.
//
// Every program prints one JSON object per line on stdout:
//   {"bench": "...", "impl": "...", "metric": "...", "value": <number>, "unit": "...", "rep": <int>, "ok": true, ...}
// "ok" is false when the program's own verification failed (wrong checksum, node count or
// collected count); run.py refuses to report a figure that did not verify.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <string>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

// The implementation this program is built for: bench/CMakeLists.txt defines one BENCH_IMPL_* (and
// BENCH_IMPL_NAME for a variant, such as make_shared on mimalloc).
#if defined(BENCH_IMPL_OURO)
#  include <ouro/ouro.hpp>
#elif defined(BENCH_IMPL_BOEHM)
#  include <gc.h>
#endif

namespace bench {

#if defined(BENCH_IMPL_NAME)
inline const char* const kImpl = BENCH_IMPL_NAME;
#elif defined(BENCH_IMPL_OURO)
inline const char* const kImpl = "ouro";
#elif defined(BENCH_IMPL_SHARED)
inline const char* const kImpl = "make_shared";
#elif defined(BENCH_IMPL_BOEHM)
inline const char* const kImpl = "boehm";
#endif

inline double now() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Resident set size now, in bytes (from /proc/self/statm).
inline std::size_t rss_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
    return static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Bytes glibc malloc holds free (not returned to the OS): part of the RSS that belongs to no
// live allocation. Zero when another malloc replaced glibc's.
inline std::size_t malloc_free_bytes() {
    struct mallinfo2 mi = mallinfo2();
    return mi.fordblks;
}

// Peak resident set size of the process so far, in bytes: VmHWM, not getrusage's ru_maxrss,
// which Linux carries across execve (a program started from a 19 MB Python runner reported 19 MB
// for any smaller peak).
inline std::size_t peak_rss_bytes() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    std::size_t kb = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmHWM: %zu kB", &kb) == 1) break;
    std::fclose(f);
    return kb * 1024;
}

// --name value arguments with defaults; "--quick" style flags are read with flag().
class Args {
public:
    Args(int argc, char** argv) : argv_(argv + 1, argv + argc) {}
    long num(std::string_view name, long fallback) const {
        for (std::size_t i = 0; i + 1 < argv_.size(); ++i)
            if (argv_[i] == name) return std::strtol(argv_[i + 1], nullptr, 10);
        return fallback;
    }
    std::string str(std::string_view name, std::string fallback) const {
        for (std::size_t i = 0; i + 1 < argv_.size(); ++i)
            if (argv_[i] == name) return argv_[i + 1];
        return fallback;
    }
    bool flag(std::string_view name) const {
        return std::any_of(argv_.begin(), argv_.end(), [&](const char* a) { return name == a; });
    }

private:
    std::vector<const char*> argv_;
};

// One JSON line. Extra fields are (key, already-formatted JSON value) pairs.
using Extra = std::vector<std::pair<std::string, std::string>>;

inline std::string jstr(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}
inline std::string jnum(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}
inline std::string jint(long long v) { return std::to_string(v); }

inline void emit(std::string_view bench, std::string_view impl, std::string_view metric, double value,
                 std::string_view unit, long rep, bool ok, const Extra& extra = {}) {
    std::string line = "{\"bench\": " + jstr(bench) + ", \"impl\": " + jstr(impl) + ", \"metric\": " + jstr(metric) +
                       ", \"value\": " + jnum(value) + ", \"unit\": " + jstr(unit) + ", \"rep\": " + jint(rep) +
                       ", \"ok\": " + (ok ? "true" : "false");
    for (auto& [k, v] : extra) line += ", " + jstr(k) + ": " + v;
    line += "}\n";
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
}

// A failed verification is reported on stderr as well, and makes the exit status non-zero.
inline int g_failures = 0;
inline bool check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "VERIFY FAILED: %s\n", what);
        ++g_failures;
    }
    return ok;
}

// All of the checks passed (every argument is evaluated: each failed check reports itself).
template <class... B>
inline bool all(B... ok) {
    return (ok && ...);
}

// xorshift64*: the same deterministic stream in every program (and in bench/python/common.py).
struct Rng {
    std::uint64_t s;
    explicit Rng(std::uint64_t seed) : s(seed ? seed : 0x9E3779B97F4A7C15ull) {}
    std::uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545F4914F6CDD1Dull;
    }
    std::uint64_t below(std::uint64_t n) { return next() % n; }
};

// Fisher-Yates with Rng.
template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

#if defined(BENCH_IMPL_OURO)
// --tracemalloc N [--sample BYTES]: the run is traced with N frames (sampled at a mean of BYTES),
// from before the timed part; the label gets the variant. tracer_figures() reports the tracer's
// own bytes per trace at the end of the run.
inline std::string start_tracemalloc(const Args& args, std::string impl) {
    const long nframe = args.num("--tracemalloc", 0);
    if (nframe <= 0) return impl;
    const long mean = args.num("--sample", 0);
    ouro::tracemalloc::start(static_cast<int>(nframe), {static_cast<std::size_t>(mean), 1});
    std::string variant = "tracemalloc " + std::to_string(nframe) + (mean ? ", sampled " + std::to_string(mean) : "");
    return impl + " (" + variant + ")";
}
inline void tracer_figures(std::vector<std::pair<std::string, std::string>>& extra) {
    if (!ouro::tracemalloc::is_tracing()) return;
    const std::size_t traces = ouro::tracemalloc::take_snapshot().traces.size();
    const std::size_t bytes = ouro::tracemalloc::get_tracemalloc_memory();
    extra.push_back({"traces", jint(static_cast<long long>(traces))});
    extra.push_back({"tracer_bytes", jint(static_cast<long long>(bytes))});
    if (traces) extra.push_back({"tracer_bytes_per_trace", jnum(static_cast<double>(bytes) / static_cast<double>(traces))});
}
#endif

// Keeps the optimiser from discarding a computed value.
template <class T>
inline void keep(const T& v) {
    asm volatile("" : : "g"(&v) : "memory");
}

}  // namespace bench
