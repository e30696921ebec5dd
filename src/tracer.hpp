// A heap's tracer (tracemalloc): the hooks it installs on the heap's allocator and on this
// thread's PoolResources, the trace of every block allocated since start(), and the figures
// get_traced_memory reports (docs/design.md §10).
//
// A pool block's trace is a 32-bit traceback id in a per-pool array indexed by block (the pool's
// trace word, pool.hpp): the size is the pool's block size, the domain its kind. Large blocks
// and track()ed ones are in a table keyed by (domain, address). Tracebacks are interned.
#pragma once

#include "tracebacks.hpp"

#include <ouro/detail/block_allocator.hpp>
#include <ouro/tracemalloc.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace ouro {
class Heap;
class PoolResource;
}  // namespace ouro

namespace ouro::detail {

extern thread_local bool t_in_tracer;  // a tracer's hook is running on this thread
// Marks the tracer's own work: what it allocates (ouro::trace_new) is not traced.
struct TracerBusy {
    bool was = t_in_tracer;
    TracerBusy() noexcept { t_in_tracer = true; }
    ~TracerBusy() { t_in_tracer = was; }
    TracerBusy(const TracerBusy&) = delete;
    TracerBusy& operator=(const TracerBusy&) = delete;
};

class Tracer {
public:
    Tracer();
    ~Tracer();
    Tracer(const Tracer&) = delete;
    Tracer& operator=(const Tracer&) = delete;

    bool tracing() const noexcept { return tracing_; }
    int nframe() const noexcept { return nframe_; }
    std::size_t sample_mean() const noexcept { return mean_; }
    // Hooks the heap's allocator and this thread's PoolResources. Throws std::bad_alloc.
    void start(Heap& heap, int nframe, tracemalloc::Sampling sampling, tracemalloc::Frames frames);
    void stop() noexcept;
    void clear() noexcept;
    void reset_peak() noexcept { peak_ = current_; }
    tracemalloc::TracedMemory traced_memory() const noexcept { return {current_, peak_}; }
    std::size_t own_bytes() const noexcept;
    void attach(BlockAllocator& a, bool heap_allocator);  // a PoolResource made while tracing

    bool track(unsigned domain, const void* p, std::size_t size, const void* caller);
    bool untrack(unsigned domain, const void* p) noexcept;

    struct RawTrace {
        unsigned domain;
        std::size_t size;
        std::uint32_t traceback;
    };
    std::vector<RawTrace> traces() const;
    std::vector<std::uint64_t> traceback(std::uint32_t id) const { return tracebacks_.frames(id); }  // most recent first
    // The traceback id of a managed object's block (0: not traced).
    std::uint32_t object_traceback(const Object* o) const noexcept;

private:
    class Hook;
    struct PoolTraces;
    struct Big {  // a large or track()ed block
        const void* ptr;  // null: empty
        std::uint32_t domain;
        std::uint32_t traceback;
        std::size_t size;
        bool empty() const noexcept { return ptr == nullptr; }
        std::size_t hash() const noexcept;
    };

    using CallSite = BlockAllocator::CallSite;
    // What the hook reports (the common cases are done inline in the hook; see tracer.cpp).
    void allocated(Hook& h, void* b, std::size_t size, PoolKind kind, CallSite caller);
    bool record_block(void* b, std::size_t size, std::uint32_t traceback) noexcept;
    void freed_block(void* b, std::size_t size, Pool* p) noexcept;
    void freed_sampled(Pool* p, PoolTraces* t, std::size_t size) noexcept;
    void freed_big(Hook& h, void* b) noexcept;
    void add(std::size_t bytes) noexcept;
    void release(Pool* p) noexcept;
    void detach(Hook& h) noexcept;
    void next_sample() noexcept;
    std::size_t weighed(std::size_t size) const noexcept;
    struct SiteCache;
    template <bool Fill>
    std::uint32_t site_traceback(CallSite caller);
    std::uint32_t capture(CallSite caller);
    void fill_site(SiteCache& s, std::uintptr_t pc);
    std::uint32_t capture_full(CallSite caller);
    PoolTraces* traces_of(Pool* p);
    Big* find_big(unsigned domain, const void* p) const noexcept;
    void add_big(unsigned domain, const void* p, std::size_t size, std::uint32_t traceback);
    void remove(std::size_t bytes) noexcept;
    void sweep_tracebacks() noexcept;

    bool tracing_ = false;
    int nframe_ = 1;
    tracemalloc::Frames frames_ = tracemalloc::Frames::mixed;
    std::size_t mean_ = 0;            // sampling: mean bytes between samples; 0: exact
    std::int64_t until_sample_ = 0;   // sampling: bytes left before the next sample, counted down by the allocators
    std::uint64_t rng_ = 0;
    std::size_t current_ = 0, peak_ = 0;
    std::vector<std::unique_ptr<Hook>> hooks_;
    TracebackTable tracebacks_;
    // sweep_tracebacks() when the table reaches this many nodes: twice what the last sweep kept.
    static constexpr std::size_t kMinSweep = std::size_t{1} << 16;
    std::size_t sweep_at_ = kMinSweep;
    OpenTable<Big> big_;
    // nframe 1 without script frames: the traceback of a call site, by its return address; for
    // a site in library code (make<T> not inlined, a container's growth), how to step over its
    // frame to its caller's, whose site is looked up in turn.
    struct SiteCache {
        std::uintptr_t pc;
        std::uint32_t traceback;  // 0: the site is in library code
        std::int32_t cfa_offset;  // library code: its frame's CFA from its stack pointer; 0: needs a walk
        std::int16_t ra_offset;   // and its caller's return address from the CFA
    };
    static constexpr std::size_t kSiteSlots = 1024;
    std::unique_ptr<SiteCache[]> sites_;
};

}  // namespace ouro::detail
