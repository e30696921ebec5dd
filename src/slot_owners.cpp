// Where a visited Ref lies (see slot_owners.hpp).
#include "slot_owners.hpp"

#include "heap_state.hpp"

#include <algorithm>

namespace ouro::detail {

namespace {
bool in_sorted(const std::vector<os::Range>& ranges, const void* p) noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    auto it = std::upper_bound(ranges.begin(), ranges.end(), a,
                               [](std::uintptr_t x, const os::Range& r) { return x < r.begin; });
    return it != ranges.begin() && (it - 1)->contains(p);
}
}  // namespace

void SlotOwners::load() {
    loaded_ = true;
    try {
        statics_ = os::static_storage();
        for (Object* o : HeapAccess::state(heap_).large) {
            const LargePrefix* pre = large_prefix(o);
            const auto base = reinterpret_cast<std::uintptr_t>(o) - pre->offset;
            large_.push_back(os::Range{base, base + pre->size});
        }
        std::sort(large_.begin(), large_.end(), [](const os::Range& a, const os::Range& b) { return a.begin < b.begin; });
    } catch (const std::bad_alloc&) {
        // Without memory the checks know less: more slots count as possibly owned.
        statics_.clear();
        large_.clear();
    }
}

SlotOwner SlotOwners::classify(const void* slot, const void* base, std::size_t size) {
    const auto off = static_cast<std::size_t>(static_cast<const char*>(slot) - static_cast<const char*>(base));
    if (off < size) return SlotOwner::Self;
    if (HeapAccess::allocator(heap_).owns(slot)) return SlotOwner::OtherObject;
    if (!loaded_) load();
    if (in_sorted(large_, slot)) return SlotOwner::OtherObject;
    if (in_sorted(statics_, slot)) return SlotOwner::Static;
    return SlotOwner::Outside;
}

const char* SlotOwners::describe(SlotOwner owner) noexcept {
    switch (owner) {
    case SlotOwner::Static: return "a global or static";
    case SlotOwner::OtherObject: return "another managed object";
    default: return "its own storage";
    }
}

}  // namespace ouro::detail
