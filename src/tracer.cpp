// The tracer (tracer.hpp): hooks, records, captures.
#include "tracer.hpp"

#include "heap_state.hpp"
#include "script_frames.hpp"
#include "symbolize.hpp"
#include "unwind.hpp"

#include <ouro/pool_resource.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

namespace ouro::detail {

// The tracer's own work must not be traced (its memory comes from malloc, but with
// ouro::trace_new operator new is hooked too): set while a hook runs.
thread_local bool t_in_tracer = false;


struct Tracer::PoolTraces {
    std::uint32_t live;
    std::uint32_t capacity;
    std::uint32_t ids[1];  // capacity entries, by block index; 0: not traced
    static std::size_t bytes_for(std::uint32_t capacity) noexcept {
        return offsetof(PoolTraces, ids) + std::size_t{capacity} * sizeof(std::uint32_t);
    }
};

class Tracer::Hook final : public BlockAllocator::Hook {
public:
    Hook(Tracer& t, BlockAllocator& a, bool heap) : tracer(t), alloc(a), heap_allocator(heap) {}
    // The common case of an exact trace is done here, inline: a pool block allocated from a call
    // site the cache knows, into a pool whose traces exist; allocated() does the rest.
    void allocated(void* b, std::size_t size, PoolKind kind, CallSite caller) override {
        if (kind != kNumKinds && !tracer.mean_ && !t_in_tracer)
            if (const std::uint32_t tb = tracer.site_traceback<false>(caller))
                if (tracer.record_block(b, size, tb)) return;
        tracer.allocated(*this, b, size, kind, caller);
    }
    void freed(void* b, std::size_t size, Pool* pool) noexcept override {
        if (pool) tracer.freed_block(b, size, pool);
        else tracer.freed_big(*this, b);
    }
    void pool_released(Pool* p) noexcept override { tracer.release(p); }
    void allocator_destroyed(BlockAllocator&) noexcept override { tracer.detach(*this); }
    unsigned domain(PoolKind kind) const noexcept {
        if (!heap_allocator) return tracemalloc::DOMAIN_POOL;
        return kind == kRawPool ? tracemalloc::DOMAIN_WEAKREFS : tracemalloc::DOMAIN_OBJECTS;
    }

    Tracer& tracer;
    BlockAllocator& alloc;
    const bool heap_allocator;
};

std::size_t Tracer::Big::hash() const noexcept { return mix(reinterpret_cast<std::uintptr_t>(ptr) ^ (std::uint64_t{domain} << 48)); }

Tracer::Tracer() = default;
Tracer::~Tracer() { stop(); }

void Tracer::start(Heap& heap, int nframe, tracemalloc::Sampling sampling, tracemalloc::Frames frames) {
    if (tracing_) return;  // as Python: a second start() changes nothing
    warm_library_ranges();
    if (!sites_) {
        sites_.reset(new SiteCache[kSiteSlots]);
        std::memset(sites_.get(), 0, sizeof(SiteCache) * kSiteSlots);
    }
    nframe_ = nframe;
    frames_ = frames;
    mean_ = sampling.mean_bytes;
    rng_ = sampling.seed ? sampling.seed : static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    rng_ |= 1;
    if (mean_) next_sample();
    hooks_.reserve(8);
    attach(HeapAccess::allocator(heap), true);
    attach(HeapAccess::state(heap).dyn.values, true);  // DynObjects' value arrays: part of the objects
    for_each_thread_resource([&](BlockAllocator& a) { attach(a, false); });
    tracing_ = true;
}

void Tracer::attach(BlockAllocator& a, bool heap_allocator) {
    if (a.hook()) return;  // another heap's tracer has it
    hooks_.push_back(std::make_unique<Hook>(*this, a, heap_allocator));
    a.set_hook(hooks_.back().get(), mean_ ? &until_sample_ : nullptr);
}

void Tracer::stop() noexcept {
    if (!tracing_) return;
    clear();
    for (auto& h : hooks_) h->alloc.set_hook(nullptr);
    hooks_.clear();
    tracing_ = false;
}

void Tracer::clear() noexcept {
    for (auto& h : hooks_)
        h->alloc.for_each_carved_pool([&](Pool& p) {
            if (void*& w = pool_trace_word(&p)) {
                std::free(w);
                w = nullptr;
            }
            if (mean_) p.free_flags &= static_cast<std::uint8_t>(~Pool::kTracedFrees);
        });
    big_.clear();
    tracebacks_.clear();
    sweep_at_ = kMinSweep;
    if (sites_) std::memset(sites_.get(), 0, sizeof(SiteCache) * kSiteSlots);
    current_ = peak_ = 0;
}

std::size_t Tracer::own_bytes() const noexcept {
    std::size_t n = tracebacks_.bytes() + big_.bytes() + hooks_.capacity() * sizeof(void*) + hooks_.size() * sizeof(Hook);
    if (sites_) n += sizeof(SiteCache) * kSiteSlots;
    for (auto& h : hooks_)
        h->alloc.for_each_carved_pool([&](Pool& p) {
            if (auto* t = static_cast<const PoolTraces*>(pool_trace_word(&p))) n += PoolTraces::bytes_for(t->capacity);
        });
    return n;
}

// Sampling: the bytes between samples are exponential with the given mean, so each byte is
// sampled with probability 1/mean, independently (a Poisson process over the bytes allocated);
// an allocation is sampled when it crosses the next sample point. The allocators count the bytes
// down (BlockAllocator::sample_point) and report an allocation that reaches it; this draws the
// next one, rounded up to a whole byte (allocations are whole bytes: the same ones cross it).
void Tracer::next_sample() noexcept {
    rng_ ^= rng_ << 13;  // xorshift64
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    const double u = (static_cast<double>(rng_ >> 11) + 0.5) * 0x1p-53;
    const double bytes = std::ceil(-std::log(u) * static_cast<double>(mean_));
    until_sample_ = bytes < 0x1p62 ? static_cast<std::int64_t>(bytes) : std::int64_t{1} << 62;
}

// What a traced block of `size` bytes stands for: itself, or in sampling mode the bytes of the
// allocations it represents (size / P(sampled)), the Horvitz-Thompson estimate.
std::size_t Tracer::weighed(std::size_t size) const noexcept {
    if (!mean_) return size;
    const double p = -std::expm1(-static_cast<double>(size) / static_cast<double>(mean_));
    return static_cast<std::size_t>(std::llround(static_cast<double>(size) / p));
}

Tracer::PoolTraces* Tracer::traces_of(Pool* p) {
    void*& w = pool_trace_word(p);
    if (auto* t = static_cast<PoolTraces*>(w)) return t;
    auto* t = static_cast<PoolTraces*>(std::calloc(1, PoolTraces::bytes_for(p->capacity)));
    if (!t) throw std::bad_alloc();
    t->capacity = p->capacity;
    w = t;
    return t;
}

Tracer::Big* Tracer::find_big(unsigned domain, const void* p) const noexcept {
    const Big key{p, domain, 0, 0};
    return big_.find(key.hash(), [&](const Big& b) { return b.ptr == p && b.domain == domain; });
}

void Tracer::add_big(unsigned domain, const void* p, std::size_t size, std::uint32_t traceback) {
    big_.reserve_one();
    big_.place(Big{p, domain, traceback, size});
}

void Tracer::remove(std::size_t bytes) noexcept { current_ -= bytes < current_ ? bytes : current_; }

// nframe 1 without script frames: the traceback of the first call site outside library code,
// found through the site cache. A library frame is stepped over by its cached rule, reading only
// the live frames between the allocator's caller and that site. 0: not found this way (without
// Fill, also when a site on the way is not cached yet).
template <bool Fill>
OURO_ALWAYS_INLINE std::uint32_t Tracer::site_traceback(CallSite caller) {
    constexpr int kMaxHops = 8;  // library frames a call site may sit behind (capture_full's slack)
    if (nframe_ != 1 || !caller.pc || script_stack().size != 0) return 0;
    auto pc = reinterpret_cast<std::uintptr_t>(caller.pc);
    auto sp = reinterpret_cast<std::uintptr_t>(caller.sp);
    for (int hop = 0; hop < kMaxHops; ++hop) {
        SiteCache& s = sites_[(pc * 0x9E3779B97F4A7C15ull) >> 54];
        if (OURO_UNLIKELY(s.pc != pc)) {
            if constexpr (!Fill) return 0;
            else fill_site(s, pc);
        }
        if (s.traceback) return s.traceback;
        if (!s.cfa_offset || !sp) return 0;
        sp += static_cast<std::uintptr_t>(s.cfa_offset);
        pc = *reinterpret_cast<const std::uintptr_t*>(sp + static_cast<std::uintptr_t>(std::intptr_t{s.ra_offset}));
        if (!pc) return 0;
    }
    return 0;
}

std::uint32_t Tracer::capture(CallSite caller) {
    if (const std::uint32_t tb = site_traceback<true>(caller)) return tb;
    return capture_full(caller);
}

void Tracer::add(std::size_t bytes) noexcept {
    current_ += bytes;
    if (current_ > peak_) peak_ = current_;
}

// An exact trace of pool block b, when its pool's traces exist and hold none for it (else false,
// and nothing changed).
OURO_ALWAYS_INLINE bool Tracer::record_block(void* b, std::size_t size, std::uint32_t tb) noexcept {
    Pool* p = pool_of(b);
    auto* t = static_cast<PoolTraces*>(pool_trace_word(p));
    if (!t) return false;
    std::uint32_t& id = t->ids[p->block_index(b)];
    if (id) return false;
    id = tb;
    ++t->live;
    add(size);
    return true;
}

void Tracer::allocated(Hook& h, void* b, std::size_t size, PoolKind kind, CallSite caller) {
    if (mean_) next_sample();  // the allocator reports only sample points
    if (OURO_UNLIKELY(t_in_tracer)) return;
    const std::uint32_t tb = capture(caller);
    if (kind == kNumKinds) {
        const unsigned domain = h.domain(kUntrackedPool);
        if (Big* old = find_big(domain, b)) {  // an untraced free left it behind
            remove(weighed(old->size));
            big_.erase(old);
        }
        add_big(domain, b, size, tb);
    } else {
        Pool* p = pool_of(b);
        PoolTraces* t = traces_of(p);
        std::uint32_t& id = t->ids[p->block_index(b)];
        if (id) remove(weighed(size));
        else ++t->live;
        id = tb;
        if (mean_) p->free_flags |= Pool::kTracedFrees;  // its frees now matter
    }
    add(weighed(size));
}

OURO_ALWAYS_INLINE void Tracer::freed_block(void* b, std::size_t size, Pool* p) noexcept {
    auto* t = static_cast<PoolTraces*>(pool_trace_word(p));
    if (!t) return;  // allocated before start()
    std::uint32_t& id = t->ids[p->block_index(b)];
    if (!id) return;
    id = 0;
    if (OURO_UNLIKELY(mean_)) return freed_sampled(p, t, size);
    --t->live;
    remove(size);
}

// A sampled block stood for more bytes than its own; its pool stops reporting frees once it holds
// no sampled block.
OURO_NOINLINE void Tracer::freed_sampled(Pool* p, PoolTraces* t, std::size_t size) noexcept {
    remove(weighed(size));
    if (--t->live == 0) p->free_flags &= static_cast<std::uint8_t>(~Pool::kTracedFrees);
}

OURO_NOINLINE void Tracer::freed_big(Hook& h, void* b) noexcept {
    if (Big* big = find_big(h.domain(kUntrackedPool), b)) {
        remove(weighed(big->size));
        big_.erase(big);
    }
}

void Tracer::release(Pool* p) noexcept {
    void*& w = pool_trace_word(p);
    std::free(w);  // every block of the pool is free: no trace is left in it
    w = nullptr;
}

void Tracer::detach(Hook& h) noexcept {
    h.alloc.for_each_carved_pool([&](Pool& p) {
        if (auto* t = static_cast<PoolTraces*>(pool_trace_word(&p))) {
            for (std::uint32_t i = 0; i < t->capacity; ++i)
                if (t->ids[i]) remove(weighed(p.block_size));
            release(&p);
        }
    });
    h.alloc.set_hook(nullptr);
    std::erase_if(hooks_, [&](const std::unique_ptr<Hook>& x) { return x.get() == &h; });
}

bool Tracer::track(unsigned domain, const void* p, std::size_t size, const void* caller) {
    if (!tracing_) return false;
    if (!p || t_in_tracer) return true;
    if (Big* old = find_big(domain, p)) {  // tracked again: the trace is replaced, as Python's
        remove(old->size);
        big_.erase(old);
    }
    add_big(domain, p, size, capture({caller}));
    add(size);
    return true;
}

bool Tracer::untrack(unsigned domain, const void* p) noexcept {
    if (!tracing_) return false;
    if (Big* old = find_big(domain, p)) {
        remove(old->size);
        big_.erase(old);
    }
    return true;
}

std::vector<Tracer::RawTrace> Tracer::traces() const {
    std::vector<RawTrace> out;
    for (auto& h : hooks_)
        h->alloc.for_each_carved_pool([&](Pool& p) {
            if (auto* t = static_cast<const PoolTraces*>(pool_trace_word(&p)))
                for (std::uint32_t i = 0; i < t->capacity; ++i)
                    if (t->ids[i]) out.push_back({h->domain(p.kind), p.block_size, t->ids[i]});
        });
    big_.for_each([&](const Big& b) { out.push_back({b.domain, b.size, b.traceback}); });
    return out;
}

std::uint32_t Tracer::object_traceback(const Object* o) const noexcept {
    auto* obj = const_cast<Object*>(o);
    if (gcword(obj) & kLarge) {
        const Big* b = find_big(tracemalloc::DOMAIN_OBJECTS, reinterpret_cast<const char*>(o) - large_prefix(obj)->offset);
        return b ? b->traceback : 0;
    }
    Pool* p = pool_of(o);
    auto* t = static_cast<const PoolTraces*>(pool_trace_word(p));
    return t ? t->ids[p->block_index(o)] : 0;
}

OURO_NOINLINE void Tracer::fill_site(SiteCache& s, std::uintptr_t pc) {
    TracerBusy busy;  // the table's memory is not traced
    if (tracebacks_.nodes() >= sweep_at_) sweep_tracebacks();  // (which empties the cache)
    s = {pc, 0, 0, 0};
    if (!is_library_code(pc)) {
        const std::uint64_t word = pc;
        s.traceback = tracebacks_.intern(&word, 1);
    } else if (std::int32_t cfa = 0; frame_step(pc, cfa, s.ra_offset) && cfa > 0 && cfa <= 65536 && cfa % 8 == 0 &&
                                         s.ra_offset < 0 && -s.ra_offset <= cfa && s.ra_offset % 8 == 0) {
        s.cfa_offset = cfa;  // the return address is inside the frame, which is live
    }
}

// Tracebacks are kept while a trace holds them (CPython keeps every traceback until
// clear_traces): when the table has doubled since the last sweep, the nodes no trace needs go.
// The cost, a pass over the traces, is amortized over the nodes made since.
void Tracer::sweep_tracebacks() noexcept {
    auto for_each_id = [&](auto&& g) {
        for (auto& h : hooks_)
            h->alloc.for_each_carved_pool([&](Pool& p) {
                if (auto* t = static_cast<PoolTraces*>(pool_trace_word(&p)))
                    for (std::uint32_t i = 0; i < t->capacity; ++i)
                        if (t->ids[i]) g(t->ids[i]);
            });
        big_.for_each([&](Big& b) { g(b.traceback); });
    };
    if (tracebacks_.sweep(for_each_id) && sites_)
        std::memset(sites_.get(), 0, sizeof(SiteCache) * kSiteSlots);  // their ids are stale
    sweep_at_ = std::max(kMinSweep, 2 * tracebacks_.nodes());  // also when there was no memory to sweep
}

// Native frames from the call site outward, the leading ones in library code left out (one is
// kept when nothing else is found), script frames put in at the place they were pushed.
OURO_NOINLINE std::uint32_t Tracer::capture_full(CallSite caller) {
    TracerBusy busy;  // what it allocates is not traced
    if (tracebacks_.nodes() >= sweep_at_) sweep_tracebacks();
    constexpr std::size_t kLibrarySlack = 8;  // library frames a call site may sit behind
    std::uint64_t words[tracemalloc::MAX_NFRAME];
    std::size_t n = 0;
    const ScriptStack& script = script_stack();
    std::size_t next_script = script.size;  // script frames not placed yet: [0, next_script)
    std::uintptr_t place = next_script;  // where the oldest frame is: its CFA, for a native one
    const auto limit = static_cast<std::size_t>(nframe_);
    auto put_script = [&](std::uintptr_t cfa) {
        while (next_script > 0 && n < limit && script.frames[next_script - 1].position < cfa) {
            ScriptFrame& f = script.frames[--next_script];
            if (!f.code) f.code = intern_code(f.filename, f.function);
            words[n++] = script_word(f.code, f.lineno);
        }
    };
    if (frames_ == tracemalloc::Frames::mixed) {
        NativeFrame native[tracemalloc::MAX_NFRAME + kLibrarySlack];
        const std::size_t got = unwind_stack(caller.pc, caller.sp, native, limit + kLibrarySlack, limit);
        std::size_t first = 0;
        while (first + 1 < got && native[first].library) ++first;
        for (std::size_t i = 0; i < got && n < limit; ++i) {
            put_script(native[i].cfa);
            if (i >= first && n < limit) {
                words[n++] = native[i].pc;
                place = native[i].cfa;
            }
        }
    }
    put_script(~std::uintptr_t{0});
    return tracebacks_.intern(words, n, place);
}

}  // namespace ouro::detail
