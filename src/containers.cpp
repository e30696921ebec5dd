// Where a container that is not itself a managed object gets its storage (detail/container.hpp).
#include "heap_state.hpp"

#include <ouro/detail/container.hpp>

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

}  // namespace ouro::detail
