// BlockAllocator: one heap's arenas and pools. Not thread-safe: a heap is used by one thread at
// a time, so the fast paths below are a handful of loads and stores with no atomics.
#pragma once

#include <ouro/detail/fault_injection.hpp>
#include <ouro/detail/intrusive_list.hpp>
#include <ouro/detail/pool.hpp>
#include <ouro/malloc_stats.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ouro::detail {

// The first 64 bytes of an arena's mapping; Pool headers follow it (pool_of).
struct Arena {
    std::uint32_t nfree;       // pools not in use (given back or never touched)
    std::uint32_t untouched;   // pools of slots [kArenaSlots - untouched, kArenaSlots) never used yet
    std::uint32_t dirty;       // pools given back whose pages are still resident: free_pools' first ones
    Pool* free_pools;          // pools given back, newest first, linked through Pool::next
    Arena* next;               // bucket list of arenas with the same nfree (newest first)
    Arena* prev;
    Arena* dirty_next;         // list of arenas with dirty > 0 (BlockAllocator::dirty_arenas_)
    Arena* dirty_prev;
    std::int64_t empty_since;  // when its last pool was given back (CLOCK_MONOTONIC_COARSE, ns)

    char* base() noexcept { return reinterpret_cast<char*>(this); }
    const char* base() const noexcept { return reinterpret_cast<const char*>(this); }
    Pool* pool(std::size_t slot) noexcept { return reinterpret_cast<Pool*>(base()) + slot; }
};
static_assert(sizeof(Arena) <= sizeof(Pool) && kArenaSlots * sizeof(Pool) <= kPoolSize);

using PoolLinks = Links<Pool, &Pool::next, &Pool::prev>;            // pools with free blocks, per (kind, class)
using BucketLinks = Links<Arena, &Arena::next, &Arena::prev>;       // arenas with the same nfree
using DirtyLinks = Links<Arena, &Arena::dirty_next, &Arena::dirty_prev>;  // arenas with resident free pools

// Figures for sys::debugmallocstats and the allocator's own tests.
struct AllocatorCounters {
    std::size_t arenas_allocated_total = 0;   // ever mapped
    std::size_t arenas_reclaimed = 0;         // unmapped again
    std::size_t arenas_highwater = 0;         // most mapped at once
    std::size_t large_blocks = 0;             // live requests over kMaxSmall
    std::size_t large_bytes = 0;
};

class BlockAllocator {
public:
    BlockAllocator() noexcept;
    ~BlockAllocator();
    BlockAllocator(const BlockAllocator&) = delete;
    BlockAllocator& operator=(const BlockAllocator&) = delete;

    // A block of class_size(cls) bytes, 8-byte aligned (16-byte aligned when the size is a
    // multiple of 16). Throws std::bad_alloc when the OS refuses memory.
    OURO_ALWAYS_INLINE void* allocate(unsigned cls, PoolKind kind) {
        fault_point();
        if (void* b = take(current_[kind][cls])) return b;
        return allocate_slow(cls, kind);
    }

    OURO_ALWAYS_INLINE void deallocate(void* b) noexcept {
        Pool* p = pool_of(b);
        if constexpr (OURO_CHECKS) check_free(p, b);  // writes the free-block mark
        *static_cast<void**>(b) = p->free_list;
        p->free_list = b;
        poison_free_block(b, p->block_size);
        if (OURO_UNLIKELY(--p->used == 0 || p->free_flags)) deallocate_slow(p);
    }

    // What tracemalloc installs (CPython's PyMem_SetAllocator): while a hook is set, the fast
    // paths read a table of full sentinels (allocation) and find kTracedFrees set (free), so
    // every allocation and free takes the slow path, which reports it. Without one, nothing on
    // the fast paths changes. Hooks run no user code and must not allocate from this allocator.
    // Sampling: the slow path counts the bytes down itself and calls the hook only at a sample
    // point (tcmalloc's bytes_until_sample), and only pools with a sampled block report frees.
    // A return address and, when known, the stack pointer it returns with: the state of the
    // caller's frame, where a stack walk can begin.
    struct CallSite {
        const void* pc;
        const void* sp = nullptr;
    };
    class Hook {
    public:
        // `kind` is kNumKinds for a large block; `caller` is where the allocator's entry point
        // returns to (the allocating code, when the entry point was inlined there).
        virtual void allocated(void* block, std::size_t size, PoolKind kind, CallSite caller) = 0;
        // `pool`: the block's pool; null for a large block.
        virtual void freed(void* block, std::size_t size, Pool* pool) noexcept = 0;
        // p is going back to its arena (all its blocks are free): its trace word must be released.
        virtual void pool_released(Pool* p) noexcept = 0;
        // The allocator is being destroyed with the hook still set.
        virtual void allocator_destroyed(BlockAllocator& a) noexcept = 0;

    protected:
        ~Hook() = default;
    };
    // Installs (or, with null, removes) the hook. `until_sample` null: every allocation and free
    // is reported. Otherwise allocations are reported when they take the bytes it counts down
    // (shared by the allocators a hook serves) to zero or below, and the hook sets it anew and
    // sets kTracedFrees on the pools it wants to hear from.
    void set_hook(Hook* hook, std::int64_t* until_sample = nullptr) noexcept;
    Hook* hook() const noexcept { return hook_; }

    // `caller`: what the hook reports as the allocating code (a caller's own return address).
    void* allocate_large(std::size_t size, std::size_t align, const void* caller = nullptr);
    void deallocate_large(void* p, std::size_t size, std::size_t align) noexcept;

    // Calls f(Pool&) for every pool ever carved (in use, kept empty or given back), in address order.
    template <class F>
    void for_each_carved_pool(F&& f) {
        for (Arena* a : arenas_)
            for (std::size_t i = 1; i < kArenaSlots - a->untouched; ++i) f(*a->pool(i));
    }
    // Calls f(Pool&) for every pool in use, in address order.
    template <class F>
    void for_each_pool(F&& f) {
        for (Arena* a : arenas_)
            for (std::size_t i = 1; i < kArenaSlots - a->untouched; ++i)
                if (Pool* p = a->pool(i); p->used != 0) f(*p);
    }

    MallocStats stats() const;
    // Unmaps every empty arena beyond the allowance now, however recently it emptied.
    void trim() noexcept;
    // Unmaps the empty arenas kept past their time (kRetainNs) and releases the pages of pools
    // free for longer than kPurgeDelayNs; what a full collection calls.
    void purge() noexcept;
    std::size_t arenas_current() const noexcept { return arenas_.size(); }
    // For a heap destroyed while some of its objects are still referenced: every arena holding a
    // live block is detached (its pools' owner set to null) and left mapped forever.
    void orphan_live_pools() noexcept;
    // True when p lies in one of this allocator's arenas (a binary search over arena bases).
    bool owns(const void* p) const noexcept { return owns_any(p, p); }
    // True when [lo, hi] meets one of this allocator's arenas.
    bool owns_any(const void* lo, const void* hi) const noexcept;
    // The first broken invariant of the arenas, their buckets and the pool lists, described, or an
    // empty string (detail::invariant_violation). Walks every pool and free list.
    std::string check() const;

private:
    // The fast path on one pool: a block from its free list, else from its never-used blocks,
    // else null.
    OURO_ALWAYS_INLINE static void* take(Pool* p) noexcept {
        if (void* b = p->free_list) {
            void* next = *static_cast<void**>(b);
            if constexpr (OURO_CHECKS) check_link(p, b, next);
            p->free_list = next;
            // The next allocation reads next's link: start that miss now (blocks freed in a
            // scattered order are cold). Not when null: prefetching address 0 costs a page walk.
            if (next) __builtin_prefetch(next, 1);
            ++p->used;
            unpoison(b, p->block_size);
            return b;
        }
        if (p->bump != p->limit) {
            void* b = reinterpret_cast<char*>(p) + p->bump;
            p->bump += p->block_size;
            ++p->used;
            return b;
        }
        return nullptr;
    }
    void* allocate_slow(unsigned cls, PoolKind kind);
    void* refill(unsigned cls, PoolKind kind);
    void* allocate_hooked(unsigned cls, PoolKind kind, CallSite caller);
    bool sample_point(std::size_t size) noexcept {  // sampling: whether this allocation is reported
        return !until_sample_ || (*until_sample_ -= static_cast<std::int64_t>(size)) <= 0;
    }
    Pool*& head(PoolKind kind, unsigned cls) noexcept { return lists_[kind][cls]; }
    void head_changed(PoolKind kind, unsigned cls) noexcept {
        current_[kind][cls] = hook_ ? &sentinel_ : lists_[kind][cls];
    }
    void deallocate_slow(Pool* p) noexcept;
    void check_free(Pool* p, void* b) const noexcept;
    static void check_link(Pool* p, void* b, void* next) noexcept;
    Pool* new_pool(unsigned cls, PoolKind kind);
    void link_back(Pool* p) noexcept;
    void unlink(Pool* p) noexcept;
    void give_back(Pool* p) noexcept;  // to its arena; the caller then calls purge()
    void purge_pools(std::int64_t now, bool all) noexcept;
    void purge_pools_if_due() noexcept;  // one compare while no free pool waits to be purged
    void release_kept(Arena* a) noexcept;
    Arena* pick_arena();
    void add_dirty(Arena* a) noexcept;     // a pool of a was given back with its pages
    void remove_dirty(Arena* a, std::uint32_t pools = 1) noexcept;  // reused, purged or unmapped
    std::size_t empty_arenas_to_keep() const noexcept;
    void unmap_empty(bool expired_only) noexcept;
    void new_arena();
    void unmap_arena(Arena* a) noexcept;
    void bucket_insert(Arena* a) noexcept;
    void bucket_remove(Arena* a) noexcept;

    // What the fast path serves from: the list heads, or every entry &sentinel_ while a hook is set.
    std::array<std::array<Pool*, kNumClasses>, kNumKinds> current_;
    std::array<std::array<Pool*, kNumClasses>, kNumKinds> lists_;    // list heads; &sentinel_ when empty
    std::array<std::array<Pool*, kNumClasses>, kNumKinds> tails_;    // list tails; null when empty
    Pool sentinel_{};                     // always full: sends allocation to the slow path
    std::array<Arena*, kPoolsPerArena + 1> by_nfree_{};  // arenas bucketed by free pool count
    std::uint64_t nonempty_buckets_ = 0;  // bit k-1 set when by_nfree_[k] is non-empty, k in 1..63
    std::vector<Arena*> arenas_;          // sorted by address
    std::size_t empty_arenas_ = 0;
    Arena* dirty_arenas_ = nullptr;       // arenas with dirty free pools, newest to the list first
    Arena* oldest_empty_ = nullptr;       // tail of by_nfree_[kPoolsPerArena]
    std::int64_t purge_due_ = INT64_MAX;  // when the oldest dirty free pool is due (CLOCK_MONOTONIC_COARSE, ns)
    AllocatorCounters counters_;
    Hook* hook_ = nullptr;
    std::int64_t* until_sample_ = nullptr;  // sampling: the hook's countdown of bytes
};

}  // namespace ouro::detail
