// Candidate spaces: how a collection's candidates are enumerated and numbered (docs/design.md §5).
// Each has slots() (how many numbers), index(object) (its number, or kNone when the
// object is not a candidate), gather(graph, f) (f(object, slot, block size) for every candidate,
// in an order that streams through memory) and, for the collector, scan and population.
#pragma once

#include "graph.hpp"
#include "heap_state.hpp"
#include "trace_visitors.hpp"

#include <ouro/detail/open_table.hpp>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace ouro::detail {

// Young collections: generation 0's part of the young list, or all of it for generation 1; the
// slot is the list position (which the object's header holds) minus the first one's.
struct YoungSpace {
    const YoungList& list;
    std::uint32_t base;  // first position of the generations collected
    std::uint32_t n;

    YoungSpace(const YoungList& l, int gen) : list(l), base(gen == 0 ? l.boundary() : 0), n(l.size() - base) {}
    std::uint32_t slots() const noexcept { return n; }
    Object* at(std::uint32_t j) const noexcept { return list[base + j]; }
    std::uint32_t index(Object* y) const noexcept {
        // An object the list holds at that position is tracked and young: only the position
        // needs checking. Any other object's index bits (an old object's epoch, one of another
        // heap, one allocated by a misbehaving trace()) mean nothing here.
        const std::uint32_t j = (gcword(y) >> kIndexShift) - base;  // wraps for generation 1 in a generation-0 collection
        return j < n && at(j) == y ? j : kNone;
    }
    // Calls f(object, slot, block size) for every candidate.
    template <class F>
    void gather(Graph&, F&& f) {
        for (std::uint32_t j = 0; j < n; ++j) {
            Object* x = at(j);
            f(x, j, block_size(x));
        }
    }
    std::size_t population() const noexcept { return n; }
    template <class F>
    void scan(const Slot* graph, F&& f) const {
        for (std::uint32_t j = 0; j < n; ++j)
            if (is_candidate_slot(graph, j)) f(j, at(j));
    }
};

// Full collections number the blocks of the tracked pools in address order. An edge's target
// finds its pool's first number here, from the address alone: the object's header is not read
// (in a shuffled heap that read is a cache miss per edge), and a pool of another heap or kind is
// simply absent.
class PoolNumbers {
public:
    struct Bucket {
        const Pool* pool;     // null: empty
        std::uint32_t base;   // the slot of its first block
        std::uint32_t magic;  // the pool's div_magic: offset -> block index
        bool empty() const noexcept { return pool == nullptr; }
        std::size_t hash() const noexcept { return hash_of(pool); }
    };
    void add(const Pool* p, std::uint32_t base) {
        table_.reserve_one();
        table_.place(Bucket{p, base, p->div_magic});
    }
    // Consecutive edges mostly land in the same pool: the last answer is kept.
    OURO_ALWAYS_INLINE const Bucket* find(const Pool* p) const noexcept {
        if (p == last_.pool) return &last_;
        const Bucket* b = table_.find(hash_of(p), [p](const Bucket& x) { return x.pool == p; });
        if (b) last_ = *b;
        return b;
    }

private:
    static std::size_t hash_of(const Pool* p) noexcept {
        // Pool headers are 64 bytes apart: one multiply spreads their numbers.
        return static_cast<std::size_t>((reinterpret_cast<std::uintptr_t>(p) >> 6) * 0x9E3779B97F4A7C15ull >> 32);
    }
    OpenTable<Bucket> table_;
    mutable Bucket last_{};
};

// Full collections: the slot is the block's number across the tracked pools (pool base + block
// index, found by masking the address), large objects after them. Candidates are found by
// streaming through every header in address order.
struct FullSpace {
    std::vector<std::pair<Pool*, std::uint32_t>> pools;  // tracked pools in address order, and their bases
    PoolNumbers numbers;
    const LargeObjects& large;
    const Heap* heap;
    std::uint32_t large_base = 0;
    std::size_t eligible = 0;  // old and young objects seen by gather(): generation 2 after it
    bool gathered = false;

    FullSpace(BlockAllocator& a, const LargeObjects& large_objects, const Heap* h) : large(large_objects), heap(h) {
        std::size_t slots = 0;
        a.for_each_pool([&](Pool& p) {
            if (p.kind != kTrackedPool) return;
            pools.emplace_back(&p, static_cast<std::uint32_t>(slots));
            numbers.add(&p, static_cast<std::uint32_t>(slots));
            slots += p.capacity;
        });
        large_base = static_cast<std::uint32_t>(slots);
    }
    std::uint32_t slots() const noexcept { return large_base + static_cast<std::uint32_t>(large.size()); }
    static bool is_eligible(std::uint32_t w) noexcept {
        return (w & (kLive | kTracked)) == (kLive | kTracked) && generation(w) != kPermanent;
    }
    // A block of a tracked pool of this heap gets its number whatever it holds: one that is not a
    // candidate (frozen, a zombie) is never gathered, and the mark ignores slots that were not.
    std::uint32_t index(Object* y) const noexcept {
        if (const PoolNumbers::Bucket* b = numbers.find(pool_of(y))) {
            const auto off = static_cast<std::uint64_t>((reinterpret_cast<std::uintptr_t>(y) & (kPoolSize - 1)) - kPoolOffset);
            return b->base + static_cast<std::uint32_t>((off * b->magic) >> 32);
        }
        // Not in a tracked pool of this heap: one of its large objects, or not a candidate.
        const std::uint32_t w = gcword(y);
        if (!(w & kLarge) || !is_eligible(w) || large_prefix(y)->heap != heap) return kNone;
        return large_base + large_prefix(y)->index;
    }
    // Calls f(object, slot, block size) for every block of the tracked pools in address order,
    // then for every large object.
    template <class F>
    OURO_ALWAYS_INLINE void for_each_block(F&& f) const {
        for (auto [p, base] : pools) {
            std::uint32_t j = base;
            const std::size_t size = p->block_size;
            char* const end = p->bump_end();
            for (char* b = p->data(); b != end; b += size, ++j) f(reinterpret_cast<Object*>(b), j, size);
        }
        for (std::uint32_t i = 0; i < large.size(); ++i) f(large[i], large_base + i, block_size(large[i]));
    }
    template <class F>
    void gather(Graph&, F&& f) {
        eligible = 0;
        for_each_block([&](Object* o, std::uint32_t j, std::size_t size) __attribute__((always_inline)) {
            if (!is_eligible(gcword(o))) return;
            ++eligible;
            f(o, j, size);
        });
        gathered = true;
    }
    // Generation 2 once the collection is over, its garbage included.
    std::size_t population() const noexcept {
        if (gathered) return eligible;
        std::size_t n = 0;  // gather() was cut short by a trace() that threw
        for_each_block([&](Object* o, std::uint32_t, std::size_t) { n += is_eligible(gcword(o)); });
        return n;
    }
    // Visits candidates by their scratch slots alone: objects are not read.
    template <class F>
    void scan(const Slot* graph, F&& f) const {
        for_each_block([&](Object* o, std::uint32_t j, std::size_t) {
            if (is_candidate_slot(graph, j)) f(j, o);
        });
    }
};

// Phases 4 and 7: the unreachable set U. Each member's index bits hold its position (they are
// free while it is in U: promote() put it in generation 2 without an epoch; leave() clears them),
// so an edge finds its target in one read. A U of more members than the index bits can number
// (millions) is sorted and searched instead.
struct SetSpace {
    std::span<Object*> members;
    bool positions;

    explicit SetSpace(std::span<Object*> u) : members(u), positions(u.size() < kNoIndex) {
        if (positions)
            for (std::uint32_t j = 0; j < members.size(); ++j) set_generation(members[j], 2, j);
        else
            std::sort(members.begin(), members.end());
    }
    SetSpace(const SetSpace&) = delete;
    SetSpace& operator=(const SetSpace&) = delete;
    std::uint32_t slots() const noexcept { return static_cast<std::uint32_t>(members.size()); }
    std::uint32_t index(Object* y) const noexcept {
        const std::uint32_t w = gcword(y);
        if (!(w & kUnreachable)) return kNone;
        if (positions) {
            const std::uint32_t j = w >> kIndexShift;
            return j < members.size() && members[j] == y ? j : kNone;
        }
        auto it = std::lower_bound(members.begin(), members.end(), y);
        return it != members.end() && *it == y ? static_cast<std::uint32_t>(it - members.begin()) : kNone;
    }
    template <class F>
    void gather(Graph&, F&& f) {
        for (std::uint32_t j = 0; j < members.size(); ++j) f(members[j], j, block_size(members[j]));
    }
};

}  // namespace ouro::detail
