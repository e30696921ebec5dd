// The permanent generation (gc.freeze, docs/cpython.md §3): objects moved out of every
// collection's reach, for fork-based servers that must not have their pages written.
#include "heap_state.hpp"

namespace ouro::detail {

void freeze(Heap& h) noexcept {
    auto& s = HeapAccess::state(h).schedule;
    for_each_object(h, [&](Object* o) {
        std::uint32_t w = gcword(o);
        // The unreachable set of a collection under way (freeze() from a finalizer) is the
        // collector's, in no generation, as in CPython.
        if (!(w & kTracked) || (w & kUnreachable) || generation(w) == kPermanent) return;
        set_generation(o, kPermanent);
        ++s.frozen;
    });
    HeapAccess::young(h).clear();
    HeapAccess::count0(h) = 0;
}

void unfreeze(Heap& h) noexcept {
    for_each_object(h, [](Object* o) {
        std::uint32_t w = gcword(o);
        if ((w & kTracked) && generation(w) == kPermanent) set_generation(o, 2);
    });
    HeapAccess::state(h).schedule.frozen = 0;
}

}  // namespace ouro::detail
