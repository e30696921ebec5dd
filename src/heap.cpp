// Heaps: creation and teardown, the current heap, generation lists, large objects, and the
// death of an object by its count (the path every object takes unless a collection frees it).
#include "heap_state.hpp"

#include <ouro/unraisable.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <mutex>
#include <pthread.h>
#include <sstream>
#include <typeinfo>

namespace ouro {
namespace detail {

namespace {
std::mutex g_scope_mutex;  // serializes Scope entry/exit checks; never on a hot path

// --- The default heap of each thread ---------------------------------------------------------
// Trivially destructible thread-locals stay usable during thread teardown; the guard deletes
// the heap. An allocation after that gets a fresh heap that is never destroyed.
thread_local Heap* t_default_heap = nullptr;
thread_local bool t_default_gone = false;
struct DefaultHeapGuard {
    ~DefaultHeapGuard() {
        t_default_gone = true;
        if (Heap* h = std::exchange(t_default_heap, nullptr)) {
            HeapAccess::state(*h).scopes = 0;
            delete h;
        }
    }
};
thread_local DefaultHeapGuard t_default_guard;

// --- Deferred deallocation (CPython's trashcan) -----------------------------------------------
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
}  // namespace

// Records this thread's stack in t_safe_ranges (see detail::moved): until then every move marks.
void note_stack() noexcept {
#if defined(__linux__) && defined(__GLIBC__)
    SafeRanges& r = t_safe_ranges;
    if (r.stack_size) return;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
    void* base = nullptr;
    std::size_t size = 0;
    if (pthread_attr_getstack(&attr, &base, &size) == 0) {
        r.stack = reinterpret_cast<std::uintptr_t>(base);
        r.stack_size = size;
    }
    pthread_attr_destroy(&attr);
#endif
}

Heap& default_heap() {
    if (!t_default_heap) {
        auto* h = new Heap();
        HeapAccess::state(*h).scopes = 1;  // a default heap stays entered by its thread
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

void HeapAccess::update_trigger(Heap& h) noexcept {
    HeapState& s = *h.state_;
    bool automatic = s.enabled && s.threshold[0] != 0 && !s.collecting && !s.tearing_down;
    h.trigger_ = automatic ? s.threshold[0] : SIZE_MAX;
}

// --- Generation lists -------------------------------------------------------------------------
YoungList::~YoungList() { std::free(items_); }

// Drops the holes, keeping both generations in order; rewrites the moved members' positions.
void YoungList::squeeze() noexcept {
    std::uint32_t n = 0, boundary = 0;
    for (std::uint32_t i = 0; i < size_; ++i) {
        if (i == boundary_) boundary = n;
        if (Object* x = items_[i]) {
            set_generation(x, 0, n);
            items_[n++] = x;
        }
    }
    boundary_ = boundary_ == size_ ? n : boundary;
    size_ = n;
}

bool YoungList::push(Object* o, bool old) noexcept {
    if (size_ == capacity_) {
        // Holes are squeezed out when the array fills; it grows unless that frees more than
        // half, so the work stays proportional to the appends. At the size limit, a squeeze that
        // freed little is tried again only after as many refusals as it cost.
        if (capacity_ == kYoungListLimit && ++refused_ < capacity_ / 2) return false;
        refused_ = 0;
        squeeze();
        if (size_ >= capacity_ / 2 && capacity_ < kYoungListLimit) {
            std::uint32_t cap = capacity_ ? std::min(capacity_ * 2, kYoungListLimit) : 1024;
            if (auto* grown = static_cast<Object**>(std::realloc(items_, cap * sizeof(Object*)))) {
                items_ = grown;
                capacity_ = cap;
            }
        }
        if (size_ == capacity_) return false;
    }
    if (!old) return try_push(o);
    // Generation 1 ends at the boundary: the first member of generation 0 moves to the end.
    if (boundary_ != size_) {
        Object* x = items_[boundary_];
        items_[size_] = x;
        if (x) set_generation(x, 0, size_);
    }
    items_[boundary_] = o;
    set_generation(o, 0, boundary_++);
    ++size_;
    return true;
}

void young_append(Heap& h, Object* o, bool old) noexcept {
    // No room (2 M young objects, or no memory): the object joins the oldest generation, which
    // needs no list. Only its young collections are skipped; full ones still see it. The next
    // full collection counts generation 2 afresh.
    if (!HeapAccess::young(h).push(o, old)) {
        set_generation(o, 2);
        HeapAccess::state(h).clean_thread = nullptr;
    }
}

std::string describe(const Object& o) {
    const char* mangled = typeid(o).name();
    int status = 0;
    char* name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
    std::ostringstream out;
    out << '<' << (status == 0 && name ? name : mangled) << " at " << static_cast<const void*>(&o) << '>';
    std::free(name);
    return out.str();
}

// --- Death by count ---------------------------------------------------------------------------
namespace {
void untrack(Heap& h, Object* o) noexcept {
    std::uint32_t& w = gcword(o);
    std::uint32_t gen = generation(w);
    if (gen == 0) {
        HeapAccess::young(h).remove(o);
    } else {
        HeapState& s = HeapAccess::state(h);
        if (gen == kPermanent) --s.freeze_count;
        else if ((w >> kIndexShift) == s.pending_index && s.long_lived_pending > 0) --s.long_lived_pending;
        else ++s.old_deaths;
    }
    std::size_t& count0 = HeapAccess::count0(h);
    if (count0 > 0) --count0;
    w &= ~kTracked;
}

void free_large(Heap& h, Object* o) noexcept {
    LargePrefix* pre = large_prefix(o);
    auto& large = HeapAccess::state(h).large;
    Object* last = large.back();
    large[pre->index] = last;
    large_prefix(last)->index = pre->index;
    large.pop_back();
    char* base = reinterpret_cast<char*>(o) - pre->offset;
    HeapAccess::allocator(h).deallocate_large(base, pre->size, pre->align);
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
        if (--refcnt(o) != 0) {  // resurrected
            mark_dirty(o);
            return;
        }
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
        free_large(*h, o);
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

// --- Misuse checks (OURO_CHECKS builds) ------------------------------------------------------
namespace {
[[noreturn]] void fail(const std::string& message, bool can_throw) {
    if (can_throw) throw std::logic_error(message);
    std::fprintf(stderr, "%s\n", message.c_str());
    std::abort();
}
}  // namespace

void check_managed(const Object* o) {
    if (!(ObjectAccess::gcword(*o) & kLive))
        throw std::logic_error("ouro::Ref: the object at " + describe(*o) +
                               " is not managed (create objects with ouro::make<T>)");
}

void check_store(const void* slot, const Object* o) {
    Heap* current = t_current_heap;
    Heap* h = heap_of(const_cast<Object*>(o));
    if (!current || !h || h == current || !HeapAccess::allocator(*current).owns(slot)) return;
    throw std::logic_error("ouro::Ref: " + describe(*o) +
                           " belongs to another heap and cannot be referenced from an object of the current "
                           "heap (a cycle through two heaps could never be collected)");
}

void check_access(const Object* o, bool can_throw) {
    auto* obj = const_cast<Object*>(o);
    if (!(gcword(obj) & kLive))
        fail("ouro::Ref: reference to a dead or unmanaged object at " +
                 std::to_string(reinterpret_cast<std::uintptr_t>(o)),
             can_throw);
    if (refcnt(obj) >= 0x7fffffffu) fail("ouro::Ref: reference count overflow on " + describe(*o), can_throw);
    Heap* h = heap_of(obj);
    if (!h) return;
    auto owner = HeapAccess::state(*h).owner.load(std::memory_order_relaxed);
    if (owner != std::this_thread::get_id()) {
        std::ostringstream msg;
        msg << "ouro::Ref: " << describe(*o) << " belongs to a heap owned by thread " << owner
            << " but was touched from thread " << std::this_thread::get_id()
            << " (a heap and its objects are used by one thread at a time)";
        fail(msg.str(), can_throw);
    }
}

}  // namespace detail

// --- Heap ---------------------------------------------------------------------------------------
Heap::Heap() : state_(std::make_unique<detail::HeapState>()) {
    detail::note_stack();
    alloc_.context = this;
    state_->owner = std::this_thread::get_id();
    detail::HeapAccess::update_trigger(*this);
}

Heap::~Heap() {
    detail::HeapState& s = *state_;
    if (s.scopes.load() != 0) {
        std::fprintf(stderr, "ouro: a Heap was destroyed while a Heap::Scope still makes it current\n");
        std::abort();
    }
    // Finalizers and destructors that run now may allocate: they do so in this heap.
    Heap* previous = detail::t_current_heap;
    detail::t_current_heap = this;
    detail::run_atexit_finalizers(*this);
    s.callbacks.clear();
    s.debug &= ~gc::DEBUG_SAVEALL;
    { auto saved = std::move(s.garbage); }
    detail::unfreeze(*this);
    try {
        for (int round = 0; round < 16 && detail::collect(*this, 2, true) != 0; ++round) {
        }
    } catch (const std::bad_alloc&) {
        // Out of memory for the collector's scratch: what it could not free is left as orphans.
    }
    s.tearing_down = true;
    detail::HeapAccess::update_trigger(*this);

    // What is left is referenced from outside the heap. It stays where it is, detached: its
    // destructor runs when its count ends, but its memory is never reused.
    std::size_t left = 0;
    detail::for_each_object(*this, [&](Object* o) {
        ++left;
        detail::orphan_weakrefs(o);
    });
    if (left) {
        if (s.debug & gc::DEBUG_UNCOLLECTABLE) {
            std::fprintf(stderr, "ouro: heap destroyed with %zu objects still referenced from outside it:\n", left);
            detail::for_each_object(*this, [&](Object* o) {
                try {
                    std::fprintf(stderr, "  %s\n", detail::describe(*o).c_str());
                } catch (...) {
                }
            });
        }
        for (Object* o : s.large) detail::large_prefix(o)->heap = nullptr;
    }
    // Pools with blocks in use stay mapped: objects left behind, and weak reference records whose
    // WeakRef handles outlive the heap.
    alloc_.orphan_live_pools();
    detail::t_current_heap = previous == this ? nullptr : previous;
}

void Heap::track_slow(Object* o) noexcept { detail::young_append(*this, o, false); }

void* Heap::allocate_large(std::size_t size, std::size_t align, std::size_t prefix, bool tracked) {
    if (tracked && count0_ >= trigger_) collect_generations();
    auto& large = state_->large;
    large.reserve(large.size() + 1);  // may throw, before anything is allocated
    std::size_t total = prefix + size;
    std::size_t al = align > alignof(detail::LargePrefix) ? align : alignof(detail::LargePrefix);
    char* base = static_cast<char*>(alloc_.allocate_large(total, al));
    char* obj = base + prefix;
    auto* pre = reinterpret_cast<detail::LargePrefix*>(obj) - 1;
    *pre = detail::LargePrefix{this, static_cast<std::uint32_t>(large.size()), static_cast<std::uint32_t>(prefix),
                               total, al};
    large.push_back(reinterpret_cast<Object*>(obj));
    if (tracked) ++count0_;
    return obj;
}

void Heap::free_unconstructed(void* mem, bool large, bool tracked) noexcept {
    if (tracked && count0_ > 0) --count0_;
    auto* o = static_cast<Object*>(mem);
    if (large) {
        detail::gcword(o) = detail::kLarge;
        detail::free_large(*this, o);
    } else {
        std::memset(mem, 0, sizeof(Object));
        alloc_.deallocate(mem);
    }
}

void Heap::collect_generations() {
    detail::HeapState& s = *state_;
    // CPython's choice (reference doc §3): the oldest generation over its threshold, where a
    // full collection also waits until a quarter of the long-lived objects are new.
    int gen = 0;
    if (s.count2 > s.threshold[2] && s.long_lived_pending > s.long_lived_total / 4) gen = 2;
    else if (s.count1 > s.threshold[1]) gen = 1;
    detail::collect(*this, gen);
}

Heap::Scope::Scope(Heap& heap) : heap_(heap), previous_(detail::t_current_heap) {
    auto& s = *heap.state_;
    std::lock_guard lock(detail::g_scope_mutex);
    auto me = std::this_thread::get_id();
    if (s.scopes.load() > 0 && s.owner.load() != me)
        throw std::logic_error("ouro::Heap::Scope: this heap is current in another thread; "
                               "a heap is used by one thread at a time");
    s.owner = me;
    ++s.scopes;
    s.clean_thread = nullptr;  // marks are counted per thread: start afresh on this one
    detail::t_current_heap = &heap;
    detail::note_stack();
}

Heap::Scope::~Scope() {
    std::lock_guard lock(detail::g_scope_mutex);
    --heap_.state_->scopes;
    detail::t_current_heap = previous_;
}

}  // namespace ouro
