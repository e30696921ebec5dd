// ouro::PoolResource — the heap's small-block allocator as a std::pmr::memory_resource — and
// ouro::PoolAllocator<T>, an allocator for STL containers over it. Usable without the collector.
//
// Like std::pmr::unsynchronized_pool_resource, a PoolResource serves one thread at a time; unlike
// it, memory goes back to the OS when an arena's blocks are all free (at once when everything is
// free, else within a quarter of a second of later activity) and when a pool's blocks are all
// free (its pages, 10 ms after; see docs/design.md §2; trim() for now), and its figures are
// available (stats(), print_mallocstats).
#pragma once

#include <ouro/detail/block_allocator.hpp>
#include <ouro/malloc_stats.hpp>

#include <cstddef>
#include <limits>
#include <memory_resource>
#include <new>

namespace ouro {

namespace detail {
struct ResourceAccess;
}

class PoolResource : public std::pmr::memory_resource {
public:
    // A resource is listed with the thread that made it: tracemalloc::start() on that thread
    // traces its blocks (docs/api.md).
    PoolResource();
    // Returns all its memory to the OS: blocks still allocated become invalid.
    ~PoolResource() override;
    PoolResource(const PoolResource&) = delete;
    PoolResource& operator=(const PoolResource&) = delete;

    // This thread's default resource (used by a default-constructed PoolAllocator). It lives
    // until the thread exits, or longer if blocks are still allocated from it then.
    static PoolResource& thread_default();

    MallocStats stats() const { return alloc_.stats(); }
    // Gives every empty arena beyond the allowance (one, plus one per 16 in use), and the pages
    // of every pool not in use, back to the OS now, like malloc_trim.
    void trim() noexcept { alloc_.trim(); }

    // The non-virtual fast path (what PoolAllocator<T> calls).
    OURO_ALWAYS_INLINE void* allocate_inline(std::size_t bytes, std::size_t align) {
        if (OURO_LIKELY(is_small(bytes, align))) return alloc_.allocate(small_class(bytes, align), detail::kRawPool);
        return alloc_.allocate_large(bytes, align);
    }
    OURO_ALWAYS_INLINE void deallocate_inline(void* p, std::size_t bytes, std::size_t align) noexcept {
        if (OURO_LIKELY(is_small(bytes, align))) alloc_.deallocate(p);
        else alloc_.deallocate_large(p, bytes, align);
    }

protected:
    void* do_allocate(std::size_t bytes, std::size_t align) override { return allocate_inline(bytes, align); }
    void do_deallocate(void* p, std::size_t bytes, std::size_t align) override { deallocate_inline(p, bytes, align); }
    bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }

private:
    static constexpr bool is_small(std::size_t bytes, std::size_t align) noexcept {
        return bytes <= detail::kMaxSmall && align <= 16;
    }
    // A 16-byte alignment needs a class whose size is a multiple of 16 (pools start 64-aligned).
    static constexpr unsigned small_class(std::size_t bytes, std::size_t align) noexcept {
        return detail::size_class(align > 8 ? (bytes + 15) & ~std::size_t{15} : bytes);
    }
    friend struct detail::ResourceAccess;
    detail::BlockAllocator alloc_;
};

template <class T>
class PoolAllocator {
public:
    using value_type = T;

    PoolAllocator() noexcept : resource_(&PoolResource::thread_default()) {}
    explicit PoolAllocator(PoolResource& resource) noexcept : resource_(&resource) {}
    template <class U>
    PoolAllocator(const PoolAllocator<U>& other) noexcept : resource_(other.resource()) {}

    T* allocate(std::size_t n) {
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
        return static_cast<T*>(resource_->allocate_inline(n * sizeof(T), alignof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { resource_->deallocate_inline(p, n * sizeof(T), alignof(T)); }

    PoolResource* resource() const noexcept { return resource_; }
    template <class U>
    bool operator==(const PoolAllocator<U>& other) const noexcept {
        return resource_ == other.resource();
    }

private:
    PoolResource* resource_;
};

}  // namespace ouro
