// The cold part of a Heap, and the library's door into a Heap's private members.
#pragma once

#include "graph.hpp"
#include "pointer_map.hpp"

#include <ouro/gc.hpp>
#include <ouro/heap.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace ouro::detail {

struct FinalizerState;
using WeakTable = PointerMap<WeakRecord*>;

struct HeapState {
    std::array<std::size_t, 3> threshold{700, 10, 10};
    std::size_t count1 = 0;  // collections of generation 0 since the last of generation 1
    std::size_t count2 = 0;  // collections of generation 1 since the last full one
    bool enabled = true;
    bool collecting = false;
    bool tearing_down = false;
    unsigned debug = 0;
    std::array<gc::GenerationStats, 3> stats{};
    // CPython's guard against quadratic full collections (docs/cpython.md §3).
    std::size_t long_lived_total = 0;
    std::size_t long_lived_pending = 0;
    // The index that marks this epoch's pending objects (kPendingBase up, a new one per full
    // collection: older marks simply stop matching, so no pass over generation 2 forgets them).
    std::uint32_t pending_index = kPendingBase;
    std::size_t old_deaths = 0;  // generation-2 objects that died, not pending, since the last full collection
    std::size_t freeze_count = 0;
    std::size_t edges_hint = 0;  // edges recorded by the last full collection: sizes the next one's array
    std::set<std::pair<std::string, std::string>> trace_errors;  // (type, problem) reported once
    GraphBuffers young_graph;  // reused by young collections
    std::vector<Ref<Object>> garbage;
    std::vector<gc::Callback> callbacks;
    std::vector<Object*> large;  // every large object, tracked or not, indexed by LargePrefix::index
    WeakTable weakrefs;  // referent -> its newest weak reference
    std::map<std::uint64_t, std::shared_ptr<FinalizerState>> finalizers;  // alive ones, by registration
    std::uint64_t next_finalizer = 0;

    std::atomic<std::thread::id> owner{};  // the thread that may touch this heap's objects
    std::atomic<int> scopes{0};            // active Heap::Scope objects
};

// The library's access to Heap internals; everything here is for src/ only.
struct HeapAccess {
    static HeapState& state(Heap& h) noexcept { return *h.state_; }
    static BlockAllocator& allocator(Heap& h) noexcept { return h.alloc_; }
    static YoungList& young(Heap& h) noexcept { return h.young_; }
    static std::size_t& count0(Heap& h) noexcept { return h.count0_; }
    static void update_trigger(Heap& h) noexcept;
};

inline LargePrefix* large_prefix(Object* o) noexcept { return reinterpret_cast<LargePrefix*>(o) - 1; }

// The heap an object belongs to, or nullptr when that heap was destroyed while the object was
// still referenced (an orphan: it is destroyed at its count's end but its memory is never reused).
inline Heap* heap_of(Object* o) noexcept {
    if (gcword(o) & kLarge) return large_prefix(o)->heap;
    auto* owner = pool_of(o)->owner;
    return owner ? static_cast<Heap*>(owner->context) : nullptr;
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
// no room for it.
void young_append(Heap& h, Object* o, bool old) noexcept;

// Death of an object with weak references (weakref.cpp): clears them and runs their callbacks.
// `h` is null for an orphan.
void clear_weakrefs(Heap* h, Object* o) noexcept;

// A collection's weakref phase (weakref.cpp): clears every weak reference to a member of
// `unreachable` and runs the callbacks of those that are themselves reachable. Returns true when
// any callback ran (user code: the collector must then look for resurrections).
bool handle_weakrefs(Heap& h, std::span<Object* const> unreachable);

// A heap being destroyed leaves `o` alive: its weak references move to a process-wide table.
void orphan_weakrefs(Object* o) noexcept;

// Runs the atexit finalizers still alive, newest first; the others will never run (finalize.cpp).
void run_atexit_finalizers(Heap& h) noexcept;

// Moves every frozen object back into generation 2 (gc.cpp).
void unfreeze(Heap& h) noexcept;

// "<Node at 0x...>", for messages.
std::string describe(const Object& o);

// The collector (collector.cpp): collects `generation` and the younger ones.
std::size_t collect(Heap& h, int generation);

}  // namespace ouro::detail
