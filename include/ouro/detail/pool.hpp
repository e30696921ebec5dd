// The small-block allocator: arenas of pools, each pool serving one size class.
//
// Layout (see docs/design.md, "The allocator"):
//   arena  = 2 MiB from mmap, aligned to 2 MiB, split into 32 slots of 64 KiB; slot 0 holds the
//            headers (the Arena, then one 64-byte Pool per slot: its first 2 KiB), slots 1..31
//            are pools;
//   pool   = 64 KiB of blocks of one size class, its header (this struct) out of line;
//   block  = 8..512 bytes in 8-byte steps. Anything larger goes to the system allocator.
// A block's pool header is found from its address alone (mask, shift), so a free needs no size
// and no lookup. Headers are out of line because in-pool headers sit a pool apart: they all map
// to a few cache sets, and a free touching many pools missed the cache on nearly every header.
// Only the allocation and free fast paths are inline; everything else is in src/block_allocator.cpp.
#pragma once

#include <ouro/config.hpp>

#include <cstddef>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#  define OURO_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define OURO_ASAN 1
#  endif
#endif
#ifdef OURO_ASAN
#  include <sanitizer/asan_interface.h>
#endif

namespace ouro::detail {

// 64 KiB pools, not pymalloc's 16 KiB: a quarter of the headers and of the pool changes, for a
// little more memory held by pools that long-lived blocks pin (docs/design.md §2).
inline constexpr std::size_t kPoolSize = 64 * 1024;
inline constexpr std::size_t kArenaSize = 2 * 1024 * 1024;
inline constexpr std::size_t kArenaSlots = kArenaSize / kPoolSize;  // slot 0: the headers
inline constexpr std::size_t kPoolsPerArena = kArenaSlots - 1;
inline constexpr std::size_t kGranule = 8;
inline constexpr std::uint32_t kPageSize = 4096;  // the unit in which a pool's never-used blocks are handed out
inline constexpr std::size_t kMaxSmall = 512;
inline constexpr unsigned kNumClasses = kMaxSmall / kGranule;
// A pool's blocks start one cache line in: at the pool boundaries, every pool's first blocks
// would alias in the caches.
inline constexpr std::size_t kPoolOffset = 64;
// Bytes left unused at the end of every pool, so that an overflow of up to this many bytes past
// its last block lands in a gap, never in the next mapping (an arena's last pool may border
// another arena's headers).
inline constexpr std::size_t kPoolGuard = 16;
inline constexpr std::size_t kPoolBlockBytes = kPoolSize - kPoolOffset - kPoolGuard;

// Size classes step by 8 bytes, not pymalloc's 16: the per-object overhead budget (16 bytes,
// rounding included) leaves no room for 8 bytes of rounding on every other object shape.
constexpr unsigned size_class(std::size_t n) noexcept {
    return static_cast<unsigned>((n + kGranule - 1) / kGranule) - (n != 0 ? 1 : 0);
}
constexpr std::size_t class_size(unsigned c) noexcept { return (c + 1) * kGranule; }

// Pools of managed objects are kept apart by whether their objects are tracked by the collector,
// so a full collection walks only pools that can hold candidates; kRawPool pools hold the library's
// own records (weak references) and any memory that is not an Object.
enum PoolKind : std::uint8_t { kUntrackedPool = 0, kTrackedPool = 1, kRawPool = 2, kNumKinds = 3 };

class BlockAllocator;
struct Arena;

struct alignas(64) Pool {
    void* free_list;          // blocks given back, LIFO
    Pool* next;               // list of pools with free blocks for (kind, size class)
    Pool* prev;
    BlockAllocator* owner;     // null once the heap was destroyed with objects left in this pool
    std::uint32_t div_magic;  // (offset * div_magic) >> 32 == offset / block_size for offsets in a pool
    // Offsets from this header (so the bump path needs no other field): the first never-used
    // block (blocks before it were handed out once), and where the bump path stops: the end of
    // the page's blocks (extend_limit), at most end().
    std::uint32_t bump;
    std::uint32_t limit;
    std::uint16_t used;       // blocks currently allocated
    std::uint16_t capacity;   // blocks that fit
    std::uint16_t block_size;
    std::uint8_t size_class;
    PoolKind kind;
    // kUnlisted: not linked in its allocator's list of pools with free blocks; kTracedFrees: its
    // frees go to the allocator's hook (tracemalloc). A free takes the slow path when either is
    // set: one compare on the fast path, as before there was a hook.
    std::uint8_t free_flags;
    // A pool given back to its arena keeps its pages until it has been free for a while
    // (BlockAllocator::purge_pools): then dirty is cleared. freed_ms: when it was given back.
    bool dirty;
    std::uint32_t freed_ms;

    static constexpr std::uint8_t kUnlisted = 1, kTracedFrees = 2;
    bool in_list() const noexcept { return !(free_flags & kUnlisted); }
    void set_in_list(bool listed) noexcept {
        free_flags = static_cast<std::uint8_t>(listed ? free_flags & ~kUnlisted : free_flags | kUnlisted);
    }

    Arena* arena() noexcept {
        return reinterpret_cast<Arena*>(reinterpret_cast<std::uintptr_t>(this) & ~(kArenaSize - 1));
    }
    std::size_t slot() const noexcept { return (reinterpret_cast<std::uintptr_t>(this) & (kArenaSize - 1)) / sizeof(Pool); }
    // The first block: kPoolOffset into the pool's slot of the arena.
    char* data() noexcept { return reinterpret_cast<char*>(arena()) + slot() * kPoolSize + kPoolOffset; }
    char* bump_end() noexcept { return reinterpret_cast<char*>(this) + bump; }
    // Offset of the end of the last whole block (limit's final value).
    std::uint32_t end() noexcept {
        return static_cast<std::uint32_t>(data() - reinterpret_cast<char*>(this)) + std::uint32_t{capacity} * block_size;
    }
    // Lets the bump path run to the last block that starts in the page holding bump (or to end()).
    void extend_limit() noexcept {
        const std::uint32_t to_page_end = kPageSize - static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(bump_end()) % kPageSize);
        const std::uint32_t blocks = (to_page_end + block_size - 1) / block_size;
        const std::uint32_t to = bump + blocks * block_size;
        limit = to < end() ? to : end();
    }
    std::uint32_t block_index(const void* p) noexcept {
        auto off = static_cast<std::uint64_t>((reinterpret_cast<std::uintptr_t>(p) & (kPoolSize - 1)) - kPoolOffset);
        return static_cast<std::uint32_t>((off * div_magic) >> 32);
    }
};
static_assert(sizeof(Pool) == 64);

// An arena's slot 0 holds the Arena and the Pool headers in its first 2 KiB; the 256 bytes after
// them hold one word per pool for a tracer's records of its blocks (tracemalloc), null without.
// They are in the first page, which the headers keep resident anyway.
inline void*& pool_trace_word(Pool* p) noexcept {
    return reinterpret_cast<void**>(reinterpret_cast<char*>(p->arena()) + kArenaSlots * sizeof(Pool))[p->slot()];
}

// AddressSanitizer cannot see inside the pools (they are one mmap to it): ASan builds poison
// what no one may touch, and these are no-ops elsewhere.
inline void poison(void* p, std::size_t size) noexcept {
#ifdef OURO_ASAN
    ASAN_POISON_MEMORY_REGION(p, size);
#else
    (void)p, (void)size;
#endif
}
inline void unpoison(void* p, std::size_t size) noexcept {
#ifdef OURO_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
    (void)p, (void)size;
#endif
}
// A free block is poisoned past its first 16 bytes (the free-list link, the double-free mark and,
// for an object, the header the pool walk reads): a use of a freed object's fields is reported.
inline void poison_free_block(void* b, std::size_t size) noexcept {
    if (size > 16) poison(static_cast<char*>(b) + 16, size - 16);
}

// The header of the pool holding p: entry (slot of p) of its arena's header array.
OURO_ALWAYS_INLINE Pool* pool_of(const void* p) noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(p);
    return reinterpret_cast<Pool*>((a & ~(kArenaSize - 1)) + ((a & (kArenaSize - 1)) / kPoolSize) * sizeof(Pool));
}

}  // namespace ouro::detail
