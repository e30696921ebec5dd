// The allocator's figures, as CPython's sys._debugmallocstats reports them (docs/cpython.md §6).
#pragma once

#include <array>
#include <cstddef>
#include <iosfwd>

namespace ouro {

struct SizeClassStats {
    std::size_t size = 0;           // block size of the class, bytes
    std::size_t pools = 0;          // pools serving it
    std::size_t blocks_in_use = 0;
    std::size_t blocks_free = 0;    // free blocks in those pools (given back or never used)
};

struct MallocStats {
    static constexpr std::size_t kSizeClasses = 64;  // 8, 16, ..., 512 bytes
    std::array<SizeClassStats, kSizeClasses> classes{};
    std::size_t arenas_allocated_total = 0;  // ever mapped
    std::size_t arenas_reclaimed = 0;        // unmapped again
    std::size_t arenas_highwater = 0;        // most mapped at once
    std::size_t arenas_current = 0;
    std::size_t arenas_empty = 0;            // mapped with no pool in use: kept against thrashing
    std::size_t arena_size = 0;              // bytes per arena
    std::size_t pool_size = 0;               // bytes per pool
    std::size_t bytes_in_use = 0;            // in allocated blocks
    std::size_t bytes_free = 0;              // in free blocks of pools in use
    std::size_t unused_pool_bytes = 0;       // pools not in use, in mapped arenas
    std::size_t unpurged_pool_bytes = 0;     // of those, pages still resident (released 10 ms after a pool empties)
    std::size_t pool_header_bytes = 0;       // lost to pool headers: each arena's first 64 KiB slot (its first page resident)
    std::size_t quantization_bytes = 0;      // lost in pools: the 64-byte lead, the tail guard, rounding
    std::size_t arena_alignment_bytes = 0;   // lost to aligning arenas (0: arenas are trimmed to alignment)
    std::size_t large_blocks = 0;            // requests over 512 bytes, in the system allocator
    std::size_t large_bytes = 0;
    std::size_t mapped_bytes() const noexcept { return arenas_current * arena_size; }
};

// Prints the figures in the layout of CPython's sys._debugmallocstats.
void print_mallocstats(std::ostream& out, const MallocStats& stats);

}  // namespace ouro
