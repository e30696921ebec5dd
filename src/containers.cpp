// Where a container that is not itself a managed object gets its storage (detail/container.hpp).
#include "heap_state.hpp"
#include "os.hpp"

#include <ouro/detail/container.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>

namespace ouro::detail {

// A container inside a block of the current heap — a member of a managed object, or an element
// of another container's pooled buffer — belongs to that heap: its buffers may come from the
// heap's pools. Anything else (a local, a global, a std::vector's element) uses malloc.
BlockAllocator* member_pools(const void* self) noexcept {
    Heap* h = t_current_heap;
    if (!h) return nullptr;
    BlockAllocator& pools = HeapAccess::allocator(*h);
    return pools.owns(self) ? pool_of(self)->owner : nullptr;
}

// A big buffer's mapping: a 64-byte header holding the mapping's length, then the buffer (64-byte
// aligned, as the largest alignment a container's element may have).
namespace {
constexpr std::size_t kHeader = 64;
constexpr std::size_t kPage = 4096;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
std::atomic<std::size_t> g_mapped{0};  // containers may live on any thread

// Whole pages; from 2 MiB on whole huge pages, so that Linux places the mapping, and mremap moves
// it, on a 2 MiB boundary and every part of it can be a huge page (docs/design.md §11).
std::size_t mapping_bytes(std::size_t bytes) {
    if (bytes > SIZE_MAX / 2) throw std::bad_alloc();
    const std::size_t len = (bytes + kHeader + kPage - 1) & ~(kPage - 1);
    return len < kHugePage ? len : (len + kHugePage - 1) & ~(kHugePage - 1);
}
// Stamps the length and returns the buffer. ASan builds poison the mapping past the buffer (the
// shadow is by address: what an earlier mapping there left is cleared first, and again when the
// mapping goes).
void* publish(void* base, std::size_t len, std::size_t bytes) noexcept {
    unpoison(base, len);
    std::memcpy(base, &len, sizeof len);
    poison(static_cast<char*>(base) + kHeader + bytes, len - kHeader - bytes);
    return static_cast<char*>(base) + kHeader;
}
std::size_t length_of(const void* buffer) noexcept {
    std::size_t len;
    std::memcpy(&len, static_cast<const char*>(buffer) - kHeader, sizeof len);
    return len;
}
}  // namespace

void* map_buffer(std::size_t bytes) {
    const std::size_t len = mapping_bytes(bytes);
    void* base = os::map(len);
    if (!base) throw std::bad_alloc();
    g_mapped.fetch_add(len, std::memory_order_relaxed);
    if (len >= kHugePage) os::prefer_huge_pages(base, len);
    return publish(base, len, bytes);
}

void* remap_buffer(void* p, std::size_t bytes) {
    const std::size_t old = length_of(p), len = mapping_bytes(bytes);
    char* const from = static_cast<char*>(p) - kHeader;
    // Pages that move or go leave their shadow behind: clear it all first (a failing remap then
    // leaves the tail unpoisoned, a check lost and nothing more).
    unpoison(from, old);
    if (len == old) return publish(from, len, bytes);
    void* base = os::remap(from, old, len);
    if (!base) throw std::bad_alloc();
    g_mapped.fetch_add(len - old, std::memory_order_relaxed);  // (wraps correctly when shrinking)
    // Below huge pages, the pages a buffer grows by are faulted in at once: a growing buffer is
    // filled next, and one call costs less than a trap per page (List/Array append, §11).
    if (len > old && len < kHugePage) os::populate(static_cast<char*>(base) + old, len - old);
    // Huge pages are asked for once, on crossing 2 MiB: mremap keeps the advice with the mapping.
    if (len >= kHugePage && old < kHugePage) os::prefer_huge_pages(base, len);
    return publish(base, len, bytes);
}

void unmap_buffer(void* p) noexcept {
    const std::size_t len = length_of(p);
    unpoison(static_cast<char*>(p) - kHeader, len);
    os::unmap(static_cast<char*>(p) - kHeader, len);
    g_mapped.fetch_sub(len, std::memory_order_relaxed);
}

std::size_t mapped_buffer_bytes() noexcept { return g_mapped.load(std::memory_order_relaxed); }

}  // namespace ouro::detail
