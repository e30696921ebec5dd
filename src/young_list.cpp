// The young list (include/ouro/detail/young_list.hpp): making room in it, and putting objects in
// generations 0 and 1.
#include "heap_state.hpp"
#include "os.hpp"

#include <algorithm>

namespace ouro::detail {

// The array is mapped from the OS (whole pages: capacities are multiples of a page of entries), so that
// what shrink() gives back goes back to the OS whatever the system allocator would do with it.
namespace {
constexpr std::uint32_t kPageEntries = kPageSize / sizeof(Object*);

Object** resize_items(Object** items, std::uint32_t old_cap, std::uint32_t cap) noexcept {
    void* p = items ? os::remap(items, old_cap * sizeof(Object*), cap * sizeof(Object*)) : os::map(cap * sizeof(Object*));
    return static_cast<Object**>(p);
}
}  // namespace

YoungList::~YoungList() {
    if (items_) os::unmap(items_, capacity_ * sizeof(Object*));
}

bool YoungList::push(Object* o, bool old) noexcept {
    if (size_ == capacity_) {
        if (capacity_ == kYoungListLimit) return false;
        const std::uint32_t cap = capacity_ ? std::min(capacity_ * 2, kYoungListLimit) : 2 * kPageEntries;
        Object** grown = resize_items(items_, capacity_, cap);
        if (!grown) return false;
        items_ = grown;
        capacity_ = cap;
    }
    if (!old) return try_push(o);
    // Generation 1 ends at the boundary: the first member of generation 0 moves to the end.
    if (boundary_ != size_) place(items_[boundary_], size_);
    place(o, boundary_++);
    ++size_;
    return true;
}

void YoungList::shrink() noexcept {
    constexpr std::uint32_t kKept = 1u << 16;  // 512 KiB: below it the array stays as it is
    if (capacity_ <= kKept || size_ > capacity_ / 4) return;
    const std::uint32_t cap = std::max(kKept, (size_ * 2 + kPageEntries - 1) / kPageEntries * kPageEntries);
    // Shrinking a mapping cannot fail in practice; if it does, the array stays as it was.
    if (Object** shrunk = resize_items(items_, capacity_, cap)) {
        items_ = shrunk;
        capacity_ = cap;
    }
}

void young_append(Heap& h, Object* o, bool old) noexcept {
    // No room (2 M young objects, or no memory): the object joins the oldest generation, which
    // needs no list. Only its young collections are skipped; full ones still see it.
    if (!HeapAccess::young(h).push(o, old)) set_generation(o, 2);
}

}  // namespace ouro::detail

namespace ouro::detail {

std::string YoungList::check() const {
    if (boundary_ > size_ || size_ > capacity_) return "young list: boundary, size and capacity out of order";
    for (std::uint32_t i = 0; i < size_; ++i) {
        Object* x = items_[i];
        if (!x) return "young list: a hole at " + std::to_string(i);
        const std::uint32_t w = gcword(x);
        if ((w & (kLive | kTracked)) != (kLive | kTracked)) return "young list: a dead or untracked member at " + std::to_string(i);
        if (generation(w) != 0 || (w >> kIndexShift) != i) return "young list: member " + std::to_string(i) + " does not know its position";
    }
    return {};
}

}  // namespace ouro::detail
