// The platform layer: every call into the operating system the library makes goes through here
// (memory mappings, page advice, clocks, the loader's list of modules). Linux and glibc today.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ouro::os {

// Fresh zeroed pages, read-write, or null when the system refuses.
void* map(std::size_t bytes) noexcept;
void unmap(void* p, std::size_t bytes) noexcept;
// Grows or shrinks a mapping from map(), moving it if it must; null when the system refuses.
void* remap(void* p, std::size_t old_bytes, std::size_t new_bytes) noexcept;
// `bytes` at `align` (a power of two, at least a page), or null: mapped at twice the size and trimmed.
void* map_aligned(std::size_t bytes, std::size_t align) noexcept;
// The pages go back to the system; they read as zero when touched again.
void discard(void* p, std::size_t bytes) noexcept;
// Asks for transparent huge pages (a hint: nothing happens where they are not available).
void prefer_huge_pages(void* p, std::size_t bytes) noexcept;
// Faults the pages in now, writable, in one system call instead of one trap per page (a hint:
// kernels before 5.14 ignore it).
void populate(void* p, std::size_t bytes) noexcept;

// A monotonic clock for timing decisions, in nanoseconds: a few ns to read, a few ms resolution.
std::int64_t coarse_now_ns() noexcept;
// A monotonic clock for measurements, in seconds (gc statistics, pauses).
double precise_now_s() noexcept;

struct Range {
    std::uintptr_t begin;
    std::uintptr_t end;
    bool contains(const void* p) const noexcept {
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        return a >= begin && a < end;
    }
};

// The writable segments of every loaded module (.data, .bss: where globals and statics live),
// sorted by address (a copy: read again only when a module was loaded or unloaded since the last
// call). Empty where the platform cannot tell, or without memory.
std::vector<Range> static_storage();

}  // namespace ouro::os
