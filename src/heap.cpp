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
#include <set>
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
    // needs no list. Only its young collections are skipped; full ones still see it.
    if (!HeapAccess::young(h).push(o, old)) set_generation(o, 2);
}

std::string describe(const Object& o) {
    std::ostringstream out;
    const std::uint32_t w = ObjectAccess::gcword(o);
    // A dead block has no type left to ask for; a zombie's is a placeholder.
    if (!(w & kLive) || (w & kZombie)) {
        out << "<" << ((w & kLive) ? "dead object (its constructor threw)" : "dead or unmanaged object") << " at "
            << static_cast<const void*>(&o) << '>';
        return out.str();
    }
    const char* mangled = typeid(o).name();
    int status = 0;
    char* name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
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
        throw std::logic_error("ouro::Ref: " + describe(*o) + " is not managed (create objects with ouro::make<T>)");
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
    const std::uint32_t w = gcword(obj);
    if (!(w & kLive)) fail("ouro::Ref: reference to " + describe(*o), can_throw);
    // The references a throwing constructor handed out may still be dropped, never copied.
    if ((w & kZombie) && can_throw)
        fail("ouro::Ref: new reference to " + describe(*o) + ", which references taken before the throw keep allocated",
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
        for (int round = 0; round < 16 && detail::collect(*this, 2) != 0; ++round) {
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

namespace detail {
namespace {
// What is left in a block when T's constructor threw after Object's had run and references to
// the object are still held: a managed object with no fields, no finalizer and no references.
struct Zombie final : Object {};

void report_zombie(const std::type_info& type, const Object* o, std::uint32_t strays) noexcept {
    try {
        int status = 0;
        char* name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
        std::string t = status == 0 && name ? name : type.name();
        std::free(name);
        throw std::logic_error("the constructor of " + t + " threw after " + std::to_string(strays) +
                               " reference(s) to its object were taken and kept (Ref(this)); the block at " +
                               std::to_string(reinterpret_cast<std::uintptr_t>(o)) +
                               " stays allocated, dead, until they are dropped");
    } catch (...) {
        report_unraisable("ouro::make");
    }
}
}  // namespace
}  // namespace detail

#if OURO_CHECKS
namespace detail {
namespace {
// Checked builds: each type's trace() mistakes are reported once per process.
void report_type_once(const Object& o, const std::string& problem) noexcept {
    static std::mutex mutex;
    static auto* reported = new std::set<std::pair<std::string, std::string>>;
    try {
        {
            std::lock_guard lock(mutex);
            if (!reported->emplace(typeid(o).name(), problem).second) return;
        }
        throw std::logic_error(problem);
    } catch (const std::logic_error&) {
        report_unraisable("ouro::make: the type of", o);
    } catch (...) {
    }
}

// Counts the Ref slots of the object's own block that one trace() visits, null ones included.
struct MemberCounter final : Visitor {
    const char* base;
    std::size_t size;
    std::size_t inside = 0;
    bool twice = false;
    std::vector<std::size_t> offsets;
    void visit(Object*&) override {}
    void visit_any(const void* slot) override {
        const auto off = static_cast<std::size_t>(static_cast<const char*>(slot) - base);
        if (off >= size) return;
        ++inside;
        twice |= std::find(offsets.begin(), offsets.end(), off) != offsets.end();
        offsets.push_back(off);
    }
};
}  // namespace

void check_members(Object* o, std::size_t size, bool tracked, std::size_t members) noexcept {
    if (!tracked) {
        if (members)
            report_type_once(*o, "holds " + std::to_string(members) +
                                     " Ref member(s) but does not override trace(Visitor&) (a trace() const, or a "
                                     "missing override?): it is never tracked, and cycles through it are never "
                                     "collected");
        return;
    }
    MemberCounter count;
    count.base = reinterpret_cast<const char*>(o);
    count.size = size;
    try {
        o->trace(count);
    } catch (...) {
        return;  // collections report a trace() that throws
    }
    if (count.inside < members)
        report_type_once(*o, "has " + std::to_string(members) + " Ref member(s) but its trace() visits " +
                                 std::to_string(count.inside) +
                                 ": a reference it does not visit keeps its referent alive forever if it is part "
                                 "of a cycle (visit every member, or write OURO_TRACE(...))");
    if (count.twice)
        report_type_once(*o, "has a trace() that visits one of its Ref members twice (the collector counts it once)");
}
}  // namespace detail
#endif

void Heap::constructor_threw(void* mem, bool built, bool large, bool tracked, const std::type_info& type) noexcept {
    if (!built) {
        free_unconstructed(mem, large, tracked);
        return;
    }
    // T's members and bases have been destroyed; what the header's words say is read as plain
    // memory (the compiler must not reason about the object that was there).
    asm volatile("" : : "r"(mem) : "memory");
    std::uint32_t words[2];
    std::memcpy(words, static_cast<char*>(mem) + sizeof(void*), sizeof(words));
    const std::uint32_t count = words[0];  // make's own reference, and any the constructor handed out
    const std::uint32_t flags = words[1];
    auto* z = ::new (mem) detail::Zombie();
    detail::refcnt(z) = count;
    detail::gcword(z) = detail::kLive | detail::kZombie | (flags & (detail::kHasWeakrefs | detail::kLarge));
    if (tracked && count0_ > 0) --count0_;  // never tracked after all
    // Weak references taken in the constructor die with the object (their callbacks may drop
    // the stray references; ours keeps the block until the end).
    if (flags & detail::kHasWeakrefs) detail::clear_weakrefs(this, z);
    if constexpr (OURO_CHECKS)
        if (detail::refcnt(z) > 1) detail::report_zombie(type, z, detail::refcnt(z) - 1);
    detail::decref(z);  // frees the block unless stray references remain
}

void Heap::collect_generations() {
    detail::HeapState& s = *state_;
    // CPython's choice (docs/cpython.md §3): the oldest generation over its threshold, where a
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
    detail::t_current_heap = &heap;
}

Heap::Scope::~Scope() {
    std::lock_guard lock(detail::g_scope_mutex);
    --heap_.state_->scopes;
    detail::t_current_heap = previous_;
}

}  // namespace ouro
