// A heap's invariants, checked on demand (include/ouro/detail/invariants.hpp).
#include "heap_state.hpp"

#include <ouro/detail/invariants.hpp>
#include <ouro/weakref.hpp>

namespace ouro::detail {

namespace {
std::string check_large(Heap& h) {
    const LargeObjects& large = HeapAccess::state(h).large;
    for (std::uint32_t i = 0; i < large.size(); ++i) {
        const LargePrefix* pre = large_prefix(large[i]);
        if (pre->index != i || pre->heap != &h) return "large object " + std::to_string(i) + ": prefix disagrees with the list";
        if (!(gcword(large[i]) & kLarge)) return "large object " + std::to_string(i) + " lacks kLarge";
    }
    return {};
}

std::string check_weakrefs(Heap& h) {
    std::string found;
    HeapAccess::state(h).weakrefs.for_each([&](const void* key, WeakRecord* head) {
        if (!found.empty()) return;
        auto* o = static_cast<Object*>(const_cast<void*>(key));
        if (!(gcword(o) & kHasWeakrefs)) found = "a weak reference registered for an object without kHasWeakrefs";
        const WeakRecord* prev = nullptr;
        for (const WeakRecord* r = head; r && found.empty(); prev = r, r = r->next)
            if (r->referent != o || r->prev != prev || r->handles == 0) found = "weak reference list of an object broken";
    });
    return found;
}

// The schedule's count of frozen objects against the heap.
std::string check_frozen(Heap& h) {
    std::size_t frozen = 0, zombies_tracked = 0;
    for_each_object(h, [&](Object* o) {
        const std::uint32_t w = gcword(o);
        frozen += (w & kTracked) && generation(w) == kPermanent;
        zombies_tracked += (w & kZombie) && (w & kTracked);
    });
    if (frozen != HeapAccess::state(h).schedule.frozen) return "frozen count disagrees with the permanent generation";
    if (zombies_tracked) return "a zombie is tracked";
    return {};
}
}  // namespace

std::string invariant_violation(Heap& h) {
    for (auto check : {+[](Heap& x) { return HeapAccess::allocator(x).check(); },
                       +[](Heap& x) { return HeapAccess::young(x).check(); }, &check_large, &check_weakrefs, &check_frozen})
        if (std::string v = check(h); !v.empty()) return v;
    return {};
}

}  // namespace ouro::detail
