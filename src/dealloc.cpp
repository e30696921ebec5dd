// Death by count (docs/design.md §4): the path every object takes unless a collection frees it,
// with CPython's trashcan so that releasing a long chain never recurses once per link.
#include "heap_state.hpp"

#include <ouro/unraisable.hpp>

#include <cstdlib>
#include <cstring>
#include <new>

namespace ouro::detail {

namespace {
// Destroying an object drops its references, which may destroy more objects: a chain would
// recurse once per link. Past kTrashcanDepth nested deallocations, objects are queued and the
// outermost deallocation destroys them in a loop, so depth stays bounded for any shape.
constexpr int kTrashcanDepth = 64;
struct Deferred {  // trivially destructible: usable during thread teardown
    Object** items;
    std::size_t size;
    std::size_t capacity;
};
thread_local int t_dealloc_depth = 0;
thread_local Deferred t_deferred{nullptr, 0, 0};

bool defer(Object* o) noexcept {
    Deferred& d = t_deferred;
    if (d.size == d.capacity) {
        std::size_t cap = d.capacity ? d.capacity * 2 : 256;
        auto* grown = static_cast<Object**>(std::realloc(d.items, cap * sizeof(Object*)));
        if (!grown) return false;  // out of memory: recurse instead (bounded by the OOM case)
        d.items = grown;
        d.capacity = cap;
    }
    d.items[d.size++] = o;
    return true;
}

// The object leaves its generation (a collection started from what its death runs must not see
// an object whose count is already 0), and the allocations-minus-deaths count goes down.
void untrack(Heap& h, Object* o) noexcept {
    std::uint32_t& w = gcword(o);
    if (generation(w) == 0) HeapAccess::young(h).remove(o);
    else HeapAccess::state(h).schedule.old_death(w);
    std::size_t& count0 = HeapAccess::count0(h);
    if (count0 > 0) --count0;
    w &= ~kTracked;
}

void destroy(Object* o) noexcept {
    std::uint32_t& w = gcword(o);
    // PEP 442: the finalizer runs once, with the object alive (count 1) so it may resurrect it.
    if ((w & (kHasFinalizer | kFinalized)) == kHasFinalizer) {
        w |= kFinalized;
        refcnt(o) = 1;
        try {
            o->finalize();
        } catch (...) {
            report_unraisable("finalizer of", *o);
        }
        if (--refcnt(o) != 0) return;  // resurrected
    }
    // Untracked first (CPython's subtype_dealloc order): a collection started from a weakref
    // callback or a destructor must not see an object whose count is already 0.
    Heap* h = heap_of(o);
    if (h && (w & kTracked)) untrack(*h, o);
    w &= ~kTracked;
    if (w & kHasWeakrefs) clear_weakrefs(h, o);
    if (!h) {
        // Orphan of a destroyed heap: a pool block is never reused (its pool outlived the
        // heap's allocator); a large object goes back to the system allocator it came from.
        LargePrefix prefix = (w & kLarge) ? *large_prefix(o) : LargePrefix{};
        o->~Object();
        if (w & kLarge) ::operator delete(reinterpret_cast<char*>(o) - prefix.offset, std::align_val_t{prefix.align});
        return;
    }
    o->~Object();
    if (w & kLarge) {
        HeapAccess::state(*h).large.free(HeapAccess::allocator(*h), o);
    } else {
        std::memset(static_cast<void*>(o), 0, sizeof(Object));  // the pool walk sees a free block
        HeapAccess::allocator(*h).deallocate(o);
    }
}
}  // namespace

void dealloc(Object* o) noexcept {
    if (t_dealloc_depth >= kTrashcanDepth && defer(o)) return;
    ++t_dealloc_depth;
    destroy(o);
    if (t_dealloc_depth == 1)
        while (t_deferred.size) destroy(t_deferred.items[--t_deferred.size]);
    --t_dealloc_depth;
}


}  // namespace ouro::detail
