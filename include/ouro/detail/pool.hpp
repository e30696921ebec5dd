// The small-block allocator: arenas of pools, each pool serving one size class.
//
// Layout (see docs/design.md, "The allocator"):
//   arena  = 1 MiB from mmap, aligned to 1 MiB, split into 64 pools of 16 KiB;
//   pool   = 64-byte header (this struct) + blocks of one size class;
//   block  = 8..512 bytes in 8-byte steps. Anything larger goes to the system allocator.
// A block's pool is found by masking its address, so a free needs no size and no lookup.
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

inline constexpr std::size_t kPoolSize = 16 * 1024;
inline constexpr std::size_t kArenaSize = 1024 * 1024;
inline constexpr std::size_t kPoolsPerArena = kArenaSize / kPoolSize;
inline constexpr std::size_t kGranule = 8;
inline constexpr std::size_t kMaxSmall = 512;
inline constexpr unsigned kNumClasses = kMaxSmall / kGranule;
// Bytes left unused at the end of every pool, so that an overflow of up to this many bytes past
// the last block lands in the gap and never in the next pool's header.
inline constexpr std::size_t kPoolGuard = 16;

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
    std::uint32_t base_index; // first scratch slot of this pool during a full collection
    std::uint32_t div_magic;  // (offset * div_magic) >> 32 == offset / block_size for offsets in a pool
    std::uint16_t bump;       // offset of the first never-used block: blocks before it were handed out once
    std::uint16_t limit;      // offset of the end of the last whole block
    std::uint16_t used;       // blocks currently allocated
    std::uint16_t capacity;   // blocks that fit
    std::uint16_t block_size;
    std::uint8_t size_class;
    PoolKind kind;
    bool in_list;             // linked in its allocator's list of pools with free blocks
    Arena* arena;

    char* data() noexcept { return reinterpret_cast<char*>(this) + sizeof(Pool); }
    char* bump_end() noexcept { return reinterpret_cast<char*>(this) + bump; }
    std::uint32_t block_index(const void* p) noexcept {
        auto off = static_cast<std::uint64_t>(static_cast<const char*>(p) - data());
        return static_cast<std::uint32_t>((off * div_magic) >> 32);
    }
};
static_assert(sizeof(Pool) == 64);

// AddressSanitizer cannot see inside the pools (they are one mmap to it), so ASan builds poison
// each free block past its first 16 bytes (the free-list link, the double-free mark and, for an
// object, the header the pool walk reads): a use of a freed object's fields is then reported.
inline void poison_free_block(void* b, std::size_t size) noexcept {
#ifdef OURO_ASAN
    if (size > 16) ASAN_POISON_MEMORY_REGION(static_cast<char*>(b) + 16, size - 16);
#else
    (void)b, (void)size;
#endif
}
inline void unpoison(void* p, std::size_t size) noexcept {
#ifdef OURO_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
    (void)p, (void)size;
#endif
}

OURO_ALWAYS_INLINE Pool* pool_of(const void* p) noexcept {
    return reinterpret_cast<Pool*>(reinterpret_cast<std::uintptr_t>(p) & ~(kPoolSize - 1));
}

}  // namespace ouro::detail
