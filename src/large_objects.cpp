// The heap's large objects (see large_objects.hpp).
#include "large_objects.hpp"

namespace ouro::detail {

void* LargeObjects::allocate(Heap& owner, BlockAllocator& alloc, std::size_t size, std::size_t align,
                             std::size_t prefix, const void* caller) {
    list_.reserve(list_.size() + 1);  // may throw, before anything is allocated
    const std::size_t total = prefix + size;
    const std::size_t al = align > alignof(LargePrefix) ? align : alignof(LargePrefix);
    char* base = static_cast<char*>(alloc.allocate_large(total, al, caller));
    char* obj = base + prefix;
    *(reinterpret_cast<LargePrefix*>(obj) - 1) =
        LargePrefix{&owner, static_cast<std::uint32_t>(list_.size()), static_cast<std::uint32_t>(prefix), total, al};
    list_.push_back(reinterpret_cast<Object*>(obj));
    return obj;
}

void LargeObjects::free(BlockAllocator& alloc, Object* o) noexcept {
    LargePrefix* pre = large_prefix(o);
    Object* last = list_.back();
    list_[pre->index] = last;
    large_prefix(last)->index = pre->index;
    list_.pop_back();
    alloc.deallocate_large(reinterpret_cast<char*>(o) - pre->offset, pre->size, pre->align);
}

void LargeObjects::orphan() noexcept {
    for (Object* o : list_) large_prefix(o)->heap = nullptr;
}

}  // namespace ouro::detail
