// Where a visited Ref lies (see slot_owners.hpp).
#include "slot_owners.hpp"

#include "heap_state.hpp"

#include <algorithm>

namespace ouro::detail {

namespace {
// Whether [lo, hi] meets a range of the sorted list.
bool meets(const std::vector<os::Range>& ranges, const void* lo, const void* hi) noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(lo), b = reinterpret_cast<std::uintptr_t>(hi);
    auto it = std::upper_bound(ranges.begin(), ranges.end(), b, [](std::uintptr_t x, const os::Range& r) { return x < r.begin; });
    return it != ranges.begin() && (it - 1)->end > a;
}
// Whether [lo, hi] lies inside one block of a raw pool: one container buffer, which holds no
// object (the range meets nothing else).
bool within_raw_block(const void* lo, const void* hi) noexcept {
    Pool* p = pool_of(lo);
    return p == pool_of(hi) && p->kind == kRawPool && p->used != 0 && lo >= p->data() &&
           p->block_index(lo) == p->block_index(hi);
}
}  // namespace

void SlotOwners::load() {
    loaded_ = true;
    try {
        if (refresh_ || !statics_.loaded) {
            statics_.ranges = os::static_storage();
            statics_.loaded = true;
        }
        for (Object* o : HeapAccess::state(heap_).large) {
            const LargePrefix* pre = large_prefix(o);
            const auto base = reinterpret_cast<std::uintptr_t>(o) - pre->offset;
            large_.push_back(os::Range{base, base + pre->size});
        }
        std::sort(large_.begin(), large_.end(), [](const os::Range& a, const os::Range& b) { return a.begin < b.begin; });
    } catch (const std::bad_alloc&) {
        large_.clear();  // without memory the checks know less: more slots count as possibly owned
    }
}

SlotOwner SlotOwners::classify(const void* slot, const void* base, std::size_t size) {
    const auto off = static_cast<std::size_t>(static_cast<const char*>(slot) - static_cast<const char*>(base));
    if (off < size) return SlotOwner::Self;
    // A raw pool block is a container's buffer (detail/container.hpp), owned by that container.
    if (HeapAccess::allocator(heap_).owns(slot))
        return pool_of(slot)->kind == kRawPool ? SlotOwner::Outside : SlotOwner::OtherObject;
    if (!loaded_) load();
    if (meets(large_, slot, slot)) return SlotOwner::OtherObject;
    if (meets(statics_.ranges, slot, slot)) return SlotOwner::Static;
    return SlotOwner::Outside;
}

bool SlotOwners::all_outside(const void* lo, const void* hi) {
    const BlockAllocator& pools = HeapAccess::allocator(heap_);
    if (pools.owns_any(lo, hi)) return pools.owns(lo) && within_raw_block(lo, hi);
    if (!loaded_) load();
    return !meets(large_, lo, hi) && !meets(statics_.ranges, lo, hi);
}

}  // namespace ouro::detail
