// Weak references: the per-heap table of records, clearing on death by count, and the
// collector's weakref phase (CPython's handle_weakrefs, docs/cpython.md §2 step 7 and §5).
#include "heap_state.hpp"

#include <ouro/unraisable.hpp>
#include <ouro/weakref.hpp>

#include <mutex>

namespace ouro::detail {
namespace {

using Table = WeakRegistry;
using RecordLinks = Links<WeakRecord, &WeakRecord::next, &WeakRecord::prev>;  // one referent's, newest first

// Weak references to objects that outlived their heap (orphans) live here. Never destroyed:
// orphans die during process exit, after every static destructor has run.
struct OrphanTable {
    std::mutex mutex;
    Table map;
};
OrphanTable& orphans() {
    static auto* table = new OrphanTable;
    return *table;
}

// Calls f(table) with the table that holds the weak references of an object of heap h (null: an
// orphan). Callers that know the heap pass it; the others use heap_of.
template <class F>
decltype(auto) with_table(Heap* h, F&& f) {
    if (h) return f(HeapAccess::state(*h).weakrefs);
    OrphanTable& t = orphans();
    std::lock_guard lock(t.mutex);
    return f(t.map);
}
template <class F>
decltype(auto) with_table(Object* o, F&& f) {
    return with_table(heap_of(o), std::forward<F>(f));
}

WeakRecord* detach_all(Heap* h, Object* o) noexcept {
    gcword(o) &= ~kHasWeakrefs;
    return with_table(h, [o](Table& t) {
        WeakRecord** found = t.find(o);
        if (!found) return static_cast<WeakRecord*>(nullptr);
        WeakRecord* head = *found;
        t.erase(o);
        return head;
    });
}

void free_record(WeakRecord* r) noexcept {
    if (r->drop) r->drop(r);  // may run destructors of captured references
    if (!r->pooled) {
        ::operator delete(r);
        return;
    }
    if (BlockAllocator* owner = pool_of(r)->owner) owner->deallocate(r);
    // else: the heap is gone and its pools were left in place; the block is never reused
}

// Takes r out of its referent's list (the referent stays alive).
void unlink(WeakRecord* r) noexcept {
    Object* o = r->referent;
    bool last = with_table(o, [&](Table& t) {
        // Only the head's removal writes the head: the table is looked up for it alone.
        const bool is_head = r->prev == nullptr;
        WeakRecord* not_the_head = nullptr;
        WeakRecord*& head = is_head ? *t.find(o) : not_the_head;
        RecordLinks::remove(head, nullptr, r);
        if (!is_head || head) return false;
        t.erase(o);
        return true;
    });
    if (last) gcword(o) &= ~kHasWeakrefs;
}

// Pin (one extra handle each, so user code cannot free a record under us) and clear.
void pin_and_clear(WeakRecord* head) noexcept {
    for (WeakRecord* r = head; r; r = r->next) {
        ++r->handles;
        r->referent = nullptr;
    }
}

void unpin(WeakRecord* head) noexcept {
    while (WeakRecord* r = head) {
        head = r->next;
        r->prev = r->next = nullptr;
        if (--r->handles == 0) free_record(r);
    }
}

bool run_callback(WeakRecord* r, const Object* referent) noexcept {
    if (!r->call) return false;
    try {
        r->call(r);
    } catch (...) {
        report_unraisable("callback of a weak reference to the dead", *referent);
    }
    return true;
}

// For each weak reference an unreachable object holds: how many of its handles unreachable
// objects hold (the collector's scratch for one weakref phase).
using GarbageHandles = PointerMap<std::size_t>;

// Counts the handles. Without memory to count one, it counts fewer: more callbacks then run,
// which is safe, as every member of the unreachable set is still intact and held.
struct GarbageHandleCounter final : Visitor {
    GarbageHandles* counts;
    explicit GarbageHandleCounter(GarbageHandles* c) : counts(c) {}
    void visit(Object*&) override {}
    void visit_weak(WeakRecord*& r) override {
        if (!r->referent) return;
        try {
            ++(*counts)[r];
        } catch (const std::bad_alloc&) {
        }
    }
};

// A weak reference held only by unreachable objects is garbage itself: it is cleared without its
// callback, whatever its referent (CPython's _PyWeakref_ClearRef of weakrefs in the unreachable
// set). Otherwise clearing the garbage could free its referent and run the callback on objects
// half torn down. Weak references to unreachable objects are left to the main pass.
struct GarbageWeakrefClearer final : Visitor {
    GarbageHandles* counts;
    explicit GarbageWeakrefClearer(GarbageHandles* c) : counts(c) {}
    void visit(Object*&) override {}
    void visit_weak(WeakRecord*& r) override {
        Object* referent = r->referent;
        if (!referent || (gcword(referent) & kUnreachable)) return;
        const std::size_t* held = counts->find(r);
        if (held && *held == r->handles) {
            unlink(r);
            r->referent = nullptr;
            r->call = nullptr;  // never runs; `drop` still destroys it with the record
        }
    }
};

}  // namespace

WeakRecord* weak_acquire(Object* referent, bool with_callback) {
    if (!(gcword(referent) & kLive)) throw std::invalid_argument("ouro::WeakRef: the referent is not a live managed object");
    Heap* h = heap_of(referent);
    if (!with_callback && (gcword(referent) & kHasWeakrefs)) {
        WeakRecord* shared = with_table(h, [referent](Table& t) {
            WeakRecord** head = t.find(referent);
            for (WeakRecord* r = head ? *head : nullptr; r; r = r->next)
                if (!r->call) return r;
            return static_cast<WeakRecord*>(nullptr);
        });
        if (shared) {
            ++shared->handles;
            return shared;
        }
    }
    void* mem = h ? HeapAccess::allocator(*h).allocate(size_class(sizeof(WeakRecord)), kRawPool)
                  : ::operator new(sizeof(WeakRecord));
    auto* r = ::new (mem) WeakRecord;  // the callback storage stays uninitialised until installed
    r->referent = referent;
    r->handles = 1;
    r->hash = std::hash<const void*>()(referent);
    r->prev = r->next = nullptr;
    r->pooled = h != nullptr;
    r->call = nullptr;
    r->drop = nullptr;
    try {
        fault_point();
        with_table(h, [&](Table& t) {
            RecordLinks::push_front(t[referent], r);  // t[] may throw: nothing is linked yet
        });
    } catch (...) {
        free_record(r);
        throw;
    }
    gcword(referent) |= kHasWeakrefs;
    return r;
}

void weak_release(WeakRecord* r) noexcept {
    if (r->referent) unlink(r);
    free_record(r);
}

// Death by count: CPython's PyObject_ClearWeakRefs. Every weak reference is cleared first, then
// the callbacks run newest first.
void clear_weakrefs(Heap* h, Object* o) noexcept {
    WeakRecord* head = detach_all(h, o);
    pin_and_clear(head);
    for (WeakRecord* r = head; r; r = r->next) run_callback(r, o);
    unpin(head);
}

// Collection: weak references to unreachable objects are all cleared before any callback or
// finalizer runs; a callback runs only when its weak reference is itself reachable, i.e. some
// handle to it is held by something other than the garbage. (Callbacks of weak references that
// are garbage could see objects in the middle of being torn down; CPython skips them too.)
bool handle_weakrefs(Heap& h, std::span<Object* const> unreachable) {
    // No weak reference to a live object in the whole heap: nothing to clear or call.
    if (HeapAccess::state(h).weakrefs.empty()) return false;

    auto trace_all = [&](Visitor& v) {
        for (Object* u : unreachable) {
            try {
                u->trace(v);
            } catch (...) {
                // Fewer garbage handles counted means more callbacks run: safe, as every member
                // of the unreachable set is still intact and held.
                report_unraisable("trace() while looking for weak references, of", *u);
            }
        }
    };
    GarbageHandles garbage_handles;
    GarbageHandleCounter counter(&garbage_handles);
    trace_all(counter);
    GarbageWeakrefClearer clearer(&garbage_handles);
    trace_all(clearer);
    struct Cleared {
        WeakRecord* head;
        Object* referent;
    };
    std::vector<Cleared> cleared;
    for (Object* u : unreachable)
        if (gcword(u) & kHasWeakrefs) {
            WeakRecord* head = detach_all(&h, u);
            pin_and_clear(head);
            try {
                cleared.push_back({head, u});
            } catch (const std::bad_alloc&) {
                unpin(head);  // cleared, but no memory to remember it: its callbacks are skipped
            }
        }
    // Which callbacks run is decided before any runs (CPython collects them first): a callback
    // that drops the last handle of another weak reference does not cancel that one's callback.
    // A weak reference runs its callback when some handle (beyond our pin) is not the garbage's.
    struct Call {
        WeakRecord* record;
        Object* referent;
    };
    std::vector<Call> calls;
    for (const Cleared& c : cleared)
        for (WeakRecord* r = c.head; r; r = r->next) {
            const std::size_t* held = garbage_handles.find(r);
            if (r->handles - 1 > (held ? *held : 0)) {
                try {
                    calls.push_back({r, c.referent});
                } catch (const std::bad_alloc&) {
                    // No memory to remember it: its callback is skipped.
                }
            }
        }
    bool ran = false;
    for (const Call& c : calls) ran |= run_callback(c.record, c.referent);
    for (const Cleared& c : cleared) unpin(c.head);
    return ran;
}

void orphan_weakrefs(Object* o) noexcept {
    if (!(gcword(o) & kHasWeakrefs)) return;
    Heap* h = heap_of(o);
    if (!h) return;
    auto& table = HeapAccess::state(*h).weakrefs;
    WeakRecord** head = table.find(o);
    if (!head) return;
    OrphanTable& t = orphans();
    std::lock_guard lock(t.mutex);
    try {
        t.map[o] = *head;
    } catch (const std::bad_alloc&) {
        // No memory to move them: clear them now, without callbacks (the heap is going away).
        gcword(o) &= ~kHasWeakrefs;
        for (WeakRecord* r = *head; r; r = r->next) r->referent = nullptr;
    }
    table.erase(o);
}

}  // namespace ouro::detail

namespace ouro {

std::size_t getweakrefcount(const Object& obj) {
    auto* o = const_cast<Object*>(&obj);
    if (!(detail::gcword(o) & detail::kHasWeakrefs)) return 0;
    return detail::with_table(o, [o](detail::Table& t) {
        std::size_t n = 0;
        detail::WeakRecord** head = t.find(o);
        for (detail::WeakRecord* r = head ? *head : nullptr; r; r = r->next) ++n;
        return n;
    });
}

std::vector<WeakRef<Object>> getweakrefs(const Object& obj) {
    auto* o = const_cast<Object*>(&obj);
    std::vector<WeakRef<Object>> result;
    if (!(detail::gcword(o) & detail::kHasWeakrefs)) return result;
    std::vector<detail::WeakRecord*> records = detail::with_table(o, [o](detail::Table& t) {
        std::vector<detail::WeakRecord*> v;
        detail::WeakRecord** head = t.find(o);
        for (detail::WeakRecord* r = head ? *head : nullptr; r; r = r->next) v.push_back(r);
        return v;
    });
    result.reserve(records.size());
    for (detail::WeakRecord* r : records) {
        ++r->handles;
        result.push_back(WeakRef<Object>(r));
    }
    return result;
}

}  // namespace ouro
