// The heap's large objects: over kMaxSmall bytes or over-aligned, they live in the system
// allocator behind a LargePrefix (heap.hpp) and are listed here so that the collector and the
// gc module can enumerate them.
#pragma once

#include <ouro/heap.hpp>

#include <cstddef>
#include <vector>

namespace ouro::detail {

inline LargePrefix* large_prefix(Object* o) noexcept { return reinterpret_cast<LargePrefix*>(o) - 1; }

class LargeObjects {
public:
    // A block for an object of `size` bytes at `align` behind a prefix of `prefix` bytes, listed.
    // Throws std::bad_alloc with nothing changed. `caller`: the allocating code, for tracemalloc.
    void* allocate(Heap& owner, BlockAllocator& alloc, std::size_t size, std::size_t align, std::size_t prefix,
                   const void* caller);
    // Unlists the object (or the raw block) at o and gives its memory back.
    void free(BlockAllocator& alloc, Object* o) noexcept;
    // A heap being destroyed leaves these objects alive: they forget it (orphans).
    void orphan() noexcept;

    std::size_t size() const noexcept { return list_.size(); }
    Object* operator[](std::size_t i) const noexcept { return list_[i]; }
    auto begin() const noexcept { return list_.begin(); }
    auto end() const noexcept { return list_.end(); }

private:
    std::vector<Object*> list_;  // indexed by LargePrefix::index
};

}  // namespace ouro::detail
