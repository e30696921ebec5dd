// A Heap's lifecycle — creation, teardown with its orphans (docs/design.md §8) — entering it
// with Heap::Scope, and the out-of-line parts of make<T>.
#include "describe.hpp"
#include "heap_state.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace ouro {

namespace {
std::mutex g_scope_mutex;  // serializes Scope entry/exit checks; never on a hot path
}  // namespace

Heap::Heap() : state_(std::make_unique<detail::HeapState>()) {
    state_->owner.thread = std::this_thread::get_id();
    detail::HeapAccess::update_trigger(*this);
}

Heap::~Heap() {
    detail::HeapState& s = *state_;
    if (s.owner.scopes.load() != 0) {
        std::fprintf(stderr, "ouro: a Heap was destroyed while a Heap::Scope still makes it current\n");
        std::abort();
    }
    s.tracer.stop();  // as Python's at finalization: what the teardown frees is not reported
    // Finalizers and destructors that run now may allocate: they do so in this heap.
    Heap* previous = detail::t_current_heap;
    detail::t_current_heap = this;
    detail::run_atexit_finalizers(*this);
    s.gc.callbacks.clear();
    s.gc.debug &= ~gc::DEBUG_SAVEALL;
    { auto saved = std::move(s.gc.garbage); }
    detail::unfreeze(*this);
    try {
        for (int round = 0; round < 16 && detail::collect(*this, 2) != 0; ++round) {
        }
    } catch (const std::bad_alloc&) {
        // Out of memory for the collector's scratch: what it could not free is left as orphans.
    }
    s.schedule.tearing_down = true;
    detail::HeapAccess::update_trigger(*this);

    // What is left is referenced from outside the heap. It stays where it is, detached: its
    // destructor runs when its count ends, but its memory is never reused.
    std::size_t left = 0;
    detail::for_each_object(*this, [&](Object* o) {
        ++left;
        detail::orphan_weakrefs(o);
    });
    if (left) {
        if (s.gc.debug & gc::DEBUG_UNCOLLECTABLE) {
            std::fprintf(stderr, "ouro: heap destroyed with %zu objects still referenced from outside it:\n", left);
            detail::for_each_object(*this, [&](Object* o) {
                try {
                    std::fprintf(stderr, "  %s\n", detail::describe(*o).c_str());
                } catch (...) {
                }
            });
        }
        s.large.orphan();
    }
    // Pools with blocks in use stay mapped: objects left behind, and weak reference records whose
    // WeakRef handles outlive the heap.
    alloc_.orphan_live_pools();
    detail::t_current_heap = previous == this ? nullptr : previous;
}

void Heap::track_slow(Object* o) noexcept { detail::young_append(*this, o, false); }

void* Heap::allocate_large(std::size_t size, std::size_t align, std::size_t prefix, bool tracked) {
    if (tracked && count0_ >= trigger_) collect_generations();
    void* obj = state_->large.allocate(*this, alloc_, size, align, prefix, __builtin_return_address(0));
    if (tracked) ++count0_;
    return obj;
}

void Heap::collect_generations() { detail::collect(*this, state_->schedule.choose(), true); }

Heap::Scope::Scope(Heap& heap) : heap_(heap), previous_(detail::t_current_heap) {
    auto& owner = heap.state_->owner;
    std::lock_guard lock(g_scope_mutex);
    auto me = std::this_thread::get_id();
    if (owner.scopes.load() > 0 && owner.thread.load() != me)
        throw std::logic_error("ouro::Heap::Scope: this heap is current in another thread; "
                               "a heap is used by one thread at a time");
    owner.thread = me;
    ++owner.scopes;
    detail::t_current_heap = &heap;
}

Heap::Scope::~Scope() {
    std::lock_guard lock(g_scope_mutex);
    --heap_.state_->owner.scopes;
    detail::t_current_heap = previous_;
}

}  // namespace ouro
