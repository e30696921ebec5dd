// ouro::tracemalloc — Python's tracemalloc over the current heap: where each block came from,
// as C++ call sites (and an interpreter's own script frames), snapshots, statistics and diffs.
// Off, it costs the allocator nothing (docs/design.md §10).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ouro {
class Object;
}

namespace ouro::tracemalloc {

// The domains of what the heap allocates; track() takes any other number for the caller's own.
inline constexpr unsigned DOMAIN_OBJECTS = 0;   // managed objects (make<T>), small and large, and DynObjects' values
inline constexpr unsigned DOMAIN_WEAKREFS = 1;  // weak reference records and Generator frames (the heap's records)
inline constexpr unsigned DOMAIN_POOL = 2;      // PoolResource / PoolAllocator blocks
inline constexpr unsigned DOMAIN_NEW = 3;       // global operator new, with the ouro::trace_new target
inline constexpr int MAX_NFRAME = 128;

// One frame: a C++ call site (function, file and line; an inlined call is a frame of its own)
// or a frame an interpreter pushed. Compared as Python compares frames: filename, then lineno.
struct Frame {
    std::string filename;
    int lineno = 0;
    std::string function;

    friend bool operator==(const Frame& a, const Frame& b) noexcept {
        return a.lineno == b.lineno && a.filename == b.filename;
    }
    friend std::strong_ordering operator<=>(const Frame& a, const Frame& b) noexcept {
        if (auto c = a.filename.compare(b.filename); c != 0) return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
        return a.lineno <=> b.lineno;
    }
    std::string str() const;  // "file.cpp:12"
};

// Frames from the oldest to the most recent, as Python 3.7+ orders them. Copies share the frames.
class Traceback {
public:
    Traceback() = default;
    explicit Traceback(std::vector<Frame> oldest_first);

    std::size_t size() const noexcept { return frames_ ? frames_->size() : 0; }
    const Frame& operator[](std::size_t i) const { return (*frames_)[i]; }
    std::vector<Frame>::const_iterator begin() const noexcept;
    std::vector<Frame>::const_iterator end() const noexcept;
    const std::vector<Frame>& frames() const noexcept;

    // Python's Traceback.format: '  File "x.cpp", line 12' per frame, each followed by its source
    // line, stripped, when the file can be read. limit > 0: the most recent `limit` frames;
    // limit < 0: the oldest -limit; none: all.
    std::vector<std::string> format(std::optional<int> limit = std::nullopt, bool most_recent_first = false) const;
    std::string str() const;  // the oldest frame's str(), as Python's

    friend bool operator==(const Traceback& a, const Traceback& b) noexcept { return a.frames() == b.frames(); }
    friend std::strong_ordering operator<=>(const Traceback& a, const Traceback& b) noexcept;

private:
    std::shared_ptr<const std::vector<Frame>> frames_;
};

struct Trace {
    unsigned domain = 0;
    std::size_t size = 0;
    Traceback traceback;
};

struct Statistic {
    Traceback traceback;
    std::size_t size = 0;   // in a sampled snapshot: an unbiased estimate, as count
    std::size_t count = 0;
    std::string str() const;  // "x.cpp:12: size=1024 B, count=8, average=128 B"
};

struct StatisticDiff {
    Traceback traceback;
    std::size_t size = 0;
    std::ptrdiff_t size_diff = 0;
    std::size_t count = 0;
    std::ptrdiff_t count_diff = 0;
    std::string str() const;
};

// Python's Filter: frames whose filename matches an fnmatch pattern (and, given, the line),
// the most recent frame or (all_frames) any; restricted to one domain when given.
struct Filter {
    bool inclusive;
    std::string filename_pattern;
    std::optional<int> lineno;
    bool all_frames = false;
    std::optional<unsigned> domain;
    Filter(bool inclusive_, std::string pattern, std::optional<int> lineno_ = std::nullopt, bool all_frames_ = false,
           std::optional<unsigned> domain_ = std::nullopt)
        : inclusive(inclusive_), filename_pattern(std::move(pattern)), lineno(lineno_), all_frames(all_frames_), domain(domain_) {}
};
struct DomainFilter {
    bool inclusive;
    unsigned domain;
    DomainFilter(bool inclusive_, unsigned domain_) : inclusive(inclusive_), domain(domain_) {}
};
using AnyFilter = std::variant<Filter, DomainFilter>;

class Snapshot {
public:
    std::vector<Trace> traces;
    int traceback_limit = 1;
    // Sampled snapshots: the mean bytes between samples (0: every allocation was traced). Each
    // trace then stands for 1 / (1 - exp(-size / mean)) allocations like it.
    std::size_t sample_mean_bytes = 0;

    // key_type "filename", "lineno" or "traceback"; cumulative: every frame of a traceback counts
    // (not with "traceback"). Sorted as Python sorts: size, count, then traceback, descending.
    // Throws std::invalid_argument for another key type.
    std::vector<Statistic> statistics(std::string_view key_type, bool cumulative = false) const;
    std::vector<StatisticDiff> compare_to(const Snapshot& old, std::string_view key_type, bool cumulative = false) const;
    // Traces that pass every exclusive filter and, if there are inclusive ones, one of them.
    Snapshot filter_traces(const std::vector<AnyFilter>& filters) const;

    // A binary file; load() throws std::runtime_error naming what is wrong with a file that is
    // truncated, corrupted or not a dump.
    void dump(const std::string& path) const;
    static Snapshot load(const std::string& path);
    // The same format in memory (what dump writes, what load reads).
    std::string dumps() const;
    static Snapshot loads(std::string_view bytes);
};

// Poisson sampling (tcmalloc's and jemalloc's heap profiles): each byte is sampled with
// probability 1 / mean_bytes, so an allocation of n bytes is traced with probability
// 1 - exp(-n / mean_bytes); statistics() scale each trace back. 0: trace every allocation.
struct Sampling {
    std::size_t mean_bytes = 0;
    std::uint64_t seed = 0;  // 0: from the clock
};

// Which frames a traceback holds when an interpreter pushes its own (FrameScope): mixed puts
// them among the native frames at the place they were pushed (memray's hybrid stacks);
// script_only keeps only them, as CPython's tracemalloc shows Python frames only.
enum class Frames { mixed, script_only };

struct TracedMemory {
    std::size_t current = 0;
    std::size_t peak = 0;
};

// The module, for the current heap (each heap has its own tracer).
void start(int nframe = 1, Sampling sampling = {}, Frames frames = Frames::mixed);
void stop();  // and clears the traces
bool is_tracing();
void clear_traces();
int get_traceback_limit();
TracedMemory get_traced_memory();
void reset_peak();
std::size_t get_tracemalloc_memory();  // the tracer's own bytes
Snapshot take_snapshot();               // throws std::runtime_error when not tracing
std::optional<Traceback> get_object_traceback(const Object& obj);

// PyTraceMalloc_Track / _Untrack: blocks of the caller's own allocator, in a domain of its own.
// false (Python: -2) when not tracing. Tracking a pointer again replaces its trace; untracking
// one that is not tracked does nothing.
bool track(unsigned domain, const void* ptr, std::size_t size);
bool untrack(unsigned domain, const void* ptr);

// An interpreter's frame, on this thread's stack of script frames until the scope ends. The
// strings are not copied: they must stay valid while the frame is on the stack (a code
// object's names are).
class FrameScope {
public:
    FrameScope(std::string_view filename, int lineno, std::string_view function = {});
    ~FrameScope();
    FrameScope(const FrameScope&) = delete;
    FrameScope& operator=(const FrameScope&) = delete;
    void set_lineno(int lineno) noexcept;  // the line the frame executes now

private:
    std::size_t depth_;
};
// The same without a scope; pop_frame() removes the newest.
void push_frame(std::string_view filename, int lineno, std::string_view function = {});
void pop_frame() noexcept;

}  // namespace ouro::tracemalloc
