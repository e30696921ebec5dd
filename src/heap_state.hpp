// The cold part of a Heap — its typed parts, each owned by the code that names it — and the
// library's door into a Heap's private members.
#pragma once

#include "collector_state.hpp"
#include "dyn_state.hpp"
#include "finalizer_registry.hpp"
#include "gc_module.hpp"
#include "large_objects.hpp"
#include "schedule.hpp"
#include "thread_owner.hpp"
#include "tracer.hpp"
#include "weak_registry.hpp"

#include <ouro/heap.hpp>

#include <cstddef>
#include <functional>
#include <span>

namespace ouro::detail {

struct HeapState {
    DynObjectState dyn;            // dyn_object.cpp; first, so destroyed last: parts destroyed before
                                   // it may still release DynObjects (their value arrays)
    Schedule schedule;             // schedule.cpp: when to collect, and generation 2's counts
    LargeObjects large;            // large_objects.cpp
    WeakRegistry weakrefs;         // weakref.cpp
    FinalizerRegistry finalizers;  // finalize.cpp
    GcModule gc;                   // gc.cpp: debug flags, statistics, garbage, callbacks
    ThreadOwner owner;             // checks.cpp, heap.cpp
    CollectorState collector;      // collector.cpp
    Tracer tracer;                 // tracer.cpp, tracemalloc.cpp
};

// The library's access to Heap internals; everything here is for src/ only.
struct HeapAccess {
    static HeapState& state(Heap& h) noexcept { return *h.state_; }
    static HeapAllocator& allocator(Heap& h) noexcept { return h.alloc_; }
    static YoungList& young(Heap& h) noexcept { return h.young_; }
    static std::size_t& count0(Heap& h) noexcept { return h.count0_; }
    static void update_trigger(Heap& h) noexcept { h.trigger_ = h.state_->schedule.trigger(); }
};

// The heap an object belongs to, or nullptr when that heap was destroyed while the object was
// still referenced (an orphan: it is destroyed at its count's end but its memory is never reused).
inline Heap* heap_of(Object* o) noexcept {
    if (gcword(o) & kLarge) return large_prefix(o)->heap;
    auto* owner = pool_of(o)->owner;
    return owner ? &static_cast<HeapAllocator*>(owner)->heap : nullptr;
}

// Calls f(Object*) for every live object of the heap, pool objects in address order first.
// f must not allocate or free objects of this heap.
template <class F>
void for_each_object(Heap& h, F&& f) {
    HeapAccess::allocator(h).for_each_pool([&](Pool& p) {
        if (p.kind == kRawPool) return;
        for (char* b = p.data(); b != p.bump_end(); b += p.block_size) {
            auto* o = reinterpret_cast<Object*>(b);
            if (gcword(o) & kLive) f(o);
        }
    });
    for (Object* o : HeapAccess::state(h).large) f(o);
}

// Puts a tracked object in generation 0 or 1 (old), or in generation 2 when the young list has
// no room for it (young_list.cpp).
void young_append(Heap& h, Object* o, bool old) noexcept;

// Death of an object with weak references (weakref.cpp): clears them and runs their callbacks.
// `h` is null for an orphan.
void clear_weakrefs(Heap* h, Object* o) noexcept;

// A collection's weakref phase (weakref.cpp): clears every weak reference to a member of
// `unreachable` and runs the callbacks of those that are themselves reachable. Returns true when
// any callback ran (user code: the collector must then look for resurrections). The caller skips
// it when the heap has no weak reference to a live object (HeapState::weakrefs empty).
class SharedOwners;
class SlotOwners;
// `shared`: which shared storage the unreachable set owns whole (null: none); `slots`: where a
// handle lies (one the set cannot own is a live one).
bool handle_weakrefs(Heap& h, std::span<Object* const> unreachable, const SharedOwners* shared, SlotOwners& slots);

// A heap being destroyed leaves `o` alive: its weak references move to a process-wide table.
void orphan_weakrefs(Object* o) noexcept;

// Calls f with the allocator of every PoolResource this thread made (pool_resource.cpp).
void for_each_thread_resource(const std::function<void(BlockAllocator&)>& f);

// Runs the atexit finalizers still alive, newest first; the others will never run (finalize.cpp).
void run_atexit_finalizers(Heap& h) noexcept;

// gc::freeze and gc::unfreeze for one heap (generations.cpp).
void freeze(Heap& h) noexcept;
void unfreeze(Heap& h) noexcept;

// The collector (collector.cpp): collects `generation` and the younger ones. `automatic`: started
// by an allocation, not asked for (the adaptive schedule learns only from these).
std::size_t collect(Heap& h, int generation, bool automatic = false);

}  // namespace ouro::detail
