// Each thread's default heap: made on the thread's first use of the library, destroyed when the
// thread exits (docs/design.md §8).
#include "heap_state.hpp"

#include <utility>

namespace ouro::detail {

namespace {
// Trivially destructible thread-locals stay usable during thread teardown; the guard deletes
// the heap. An allocation after that gets a fresh heap that is never destroyed.
thread_local Heap* t_default_heap = nullptr;
thread_local bool t_default_gone = false;
struct DefaultHeapGuard {
    ~DefaultHeapGuard() {
        t_default_gone = true;
        if (Heap* h = std::exchange(t_default_heap, nullptr)) {
            HeapAccess::state(*h).owner.scopes = 0;
            delete h;
        }
    }
};
thread_local DefaultHeapGuard t_default_guard;
}  // namespace

Heap& default_heap() {
    if (!t_default_heap) {
        auto* h = new Heap();
        HeapAccess::state(*h).owner.scopes = 1;  // a default heap stays entered by its thread
        if (!t_default_gone) {
            t_default_heap = h;
            (void)&t_default_guard;  // odr-use: constructs the guard for this thread
        }
        t_current_heap = h;
        return *h;
    }
    t_current_heap = t_default_heap;
    return *t_default_heap;
}

}  // namespace ouro::detail
