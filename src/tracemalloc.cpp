// The tracemalloc module over the current heap's tracer, and snapshots' frames: tracebacks are
// resolved here, when a snapshot is taken, never on the allocation path.
#include "heap_state.hpp"
#include "symbolize.hpp"
#include "tracer.hpp"

#include <ouro/tracemalloc.hpp>

#include <stdexcept>
#include <string>
#include <unordered_map>

namespace ouro::tracemalloc {

namespace {
detail::Tracer& tracer() { return detail::HeapAccess::state(Heap::current()).tracer; }

// A traceback's frames, oldest first: script frames by their names, native ones expanded into
// their inlined calls; the leading frames in library code are dropped (the allocator's, a
// container's), keeping at least one; then at most `limit`.
Traceback resolve(const std::vector<std::uint64_t>& words, int limit) {
    std::vector<Frame> recent_first;
    std::vector<bool> library;
    for (std::uint64_t w : words) {
        if (w & detail::kScriptFrame) {
            auto [file, function] = detail::code_names(static_cast<std::uint32_t>(w >> 32) & 0x7fffffffu);
            recent_first.push_back({std::move(file), static_cast<int>(static_cast<std::uint32_t>(w)), std::move(function)});
            library.push_back(false);
            continue;
        }
        for (const detail::SymbolFrame& f : detail::symbolize(static_cast<std::uintptr_t>(w))) {
            recent_first.push_back(f.frame);
            library.push_back(f.library);
        }
    }
    std::size_t first = 0;
    while (first + 1 < recent_first.size() && library[first]) ++first;
    std::vector<Frame> oldest_first;
    const std::size_t end = std::min(recent_first.size(), first + static_cast<std::size_t>(limit));
    for (std::size_t i = end; i > first; --i) oldest_first.push_back(std::move(recent_first[i - 1]));
    if (oldest_first.empty()) oldest_first.push_back({"<unknown>", 0, {}});
    return Traceback(std::move(oldest_first));
}
}  // namespace

void start(int nframe, Sampling sampling, Frames frames) {
    if (nframe < 1 || nframe > MAX_NFRAME)
        throw std::invalid_argument("ouro::tracemalloc::start: the number of frames must be in the range [1; " +
                                    std::to_string(MAX_NFRAME) + "], not " + std::to_string(nframe));
    Heap& h = Heap::current();
    detail::HeapAccess::state(h).tracer.start(h, nframe, sampling, frames);
}

void stop() { tracer().stop(); }
bool is_tracing() { return tracer().tracing(); }
void clear_traces() { tracer().clear(); }
int get_traceback_limit() { return tracer().nframe(); }
TracedMemory get_traced_memory() {
    detail::Tracer& t = tracer();
    return t.tracing() ? t.traced_memory() : TracedMemory{};
}
void reset_peak() { tracer().reset_peak(); }
std::size_t get_tracemalloc_memory() { return tracer().own_bytes(); }

Snapshot take_snapshot() {
    detail::Tracer& t = tracer();
    if (!t.tracing())
        throw std::runtime_error("ouro::tracemalloc::take_snapshot: the tracemalloc module must be tracing memory allocations");
    detail::TracerBusy busy;  // the snapshot's own memory is not traced (nor added to the tables being read)
    Snapshot s;
    s.traceback_limit = t.nframe();
    s.sample_mean_bytes = t.sample_mean();
    const auto raw = t.traces();
    std::unordered_map<std::uint32_t, Traceback> resolved;
    s.traces.reserve(raw.size());
    for (const auto& r : raw) {
        auto [it, added] = resolved.try_emplace(r.traceback);
        if (added) it->second = resolve(t.traceback(r.traceback), t.nframe());
        s.traces.push_back({r.domain, r.size, it->second});
    }
    return s;
}

std::optional<Traceback> get_object_traceback(const Object& obj) {
    detail::Tracer& t = tracer();
    if (!t.tracing()) return std::nullopt;
    const std::uint32_t id = t.object_traceback(&obj);
    if (!id) return std::nullopt;
    return resolve(t.traceback(id), t.nframe());
}

bool track(unsigned domain, const void* ptr, std::size_t size) {
    return tracer().track(domain, ptr, size, __builtin_return_address(0));
}
bool untrack(unsigned domain, const void* ptr) { return tracer().untrack(domain, ptr); }

}  // namespace ouro::tracemalloc

namespace ouro::detail {
// ouro::trace_new's operator new and delete (trace_new.cpp): the current heap's tracer, if it
// traces. Blocks freed on another thread than the one that allocated them are not seen.
void traced_new(void* p, std::size_t size, const void* caller) noexcept {
    Heap* h = t_current_heap;
    if (!h || t_in_tracer) return;
    Tracer& t = HeapAccess::state(*h).tracer;
    if (!t.tracing()) return;
    try {
        t.track(tracemalloc::DOMAIN_NEW, p, size, caller);
    } catch (...) {
        // no memory for the trace: the block goes untraced
    }
}
void traced_delete(void* p) noexcept {
    Heap* h = t_current_heap;
    if (!h || t_in_tracer) return;
    Tracer& t = HeapAccess::state(*h).tracer;
    if (t.tracing()) t.untrack(tracemalloc::DOMAIN_NEW, p);
}
}  // namespace ouro::detail
