// Weak references: the per-heap table of records, clearing on death by count, and the
// collector's weakref phase (CPython's handle_weakrefs, docs/cpython.md §2 step 7 and §5).
#include "heap_state.hpp"
#include "pointer_map.hpp"
#include "trace_visitors.hpp"

#include <ouro/detail/weak_table.hpp>
#include <ouro/unraisable.hpp>
#include <ouro/weakref.hpp>

#include <mutex>

namespace ouro::detail {
namespace {

using Table = WeakRegistry;

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

// Links r into o's list in CPython's order: the basic ref first, the basic proxy after it, the
// others newest first after those two. Only a first record can throw (the table cannot grow), and
// then nothing changed.
void link(Table& t, Object* o, WeakRecord* r) {
    r->referent = o;
    if (!(gcword(o) & kHasWeakrefs)) {
        r->prev = r->next = nullptr;
        t.insert(r);
        gcword(o) |= kHasWeakrefs;
        return;
    }
    Table::Bucket* b = t.find(o);
    WeakRecord* head = b->head();
    WeakRecord* after = nullptr;  // r goes right after this one; null: first
    if (r->kind != WeakKind::Basic) {
        WeakRecord* x = head;
        if (x->kind == WeakKind::Basic) {
            after = x;
            x = x->next;
        }
        if (r->kind != WeakKind::BasicProxy && x && x->kind == WeakKind::BasicProxy) after = x;
    }
    if (after) {
        r->prev = after;
        r->next = after->next;
        if (after->next) after->next->prev = r;
        after->next = r;
        return;
    }
    r->prev = nullptr;
    r->next = head;
    head->prev = r;
    b->set_head(r);
}

// Takes r out of its list (its referent alive) and clears it. Only a first record needs the
// table, and only the last one clears the referent's flag.
void unlink(WeakRecord* r) noexcept {
    Object* o = r->referent;
    if (r->prev) {
        r->prev->next = r->next;
        if (r->next) r->next->prev = r->prev;
    } else {
        WeakRecord* next = r->next;
        const bool last = with_table(o, [&](Table& t) {
            Table::Bucket* b = t.find_head(r);
            if (next) {
                next->prev = nullptr;
                b->set_head(next);
                return false;
            }
            t.erase(b);
            return true;
        });
        if (last) gcword(o) &= ~kHasWeakrefs;
    }
    r->prev = r->next = nullptr;
    r->referent = nullptr;
}

WeakRecord* detach_all(Heap* h, Object* o) noexcept {
    gcword(o) &= ~kHasWeakrefs;
    return with_table(h, [o](Table& t) {
        Table::Bucket* found = t.find(o);
        if (!found) return static_cast<WeakRecord*>(nullptr);
        WeakRecord* head = found->head();
        t.erase(found);
        return head;
    });
}

// A basic or callback record's memory: from the referent's heap, or operator new for an orphan.
void* allocate_record(Heap* h, std::size_t size) {
    return h ? HeapAccess::allocator(*h).allocate(size_class(size), kRawPool) : ::operator new(size);
}

void free_record(WeakRecord* r) noexcept {
    if (r->kind == WeakKind::Entry) return table_of(r)->entry_released(r);
    if (r->kind == WeakKind::Callback) {
        auto* c = static_cast<WeakCallbackRecord*>(r);
        if (c->vtbl) c->vtbl->drop(c);  // may run destructors of captured references
    }
    if (!(r->flags & kWeakPooled)) {
        ::operator delete(r);
        return;
    }
    if (BlockAllocator* owner = pool_of(r)->owner) owner->deallocate(r);
    // else: the heap is gone and its pools were left in place; the block is never reused
}

// A new record (one handle) of `kind`, of `size` bytes, linked into referent's list.
template <class R>
R* new_record(Object* referent, WeakKind kind, Heap* h, Table& t) {
    auto* r = ::new (allocate_record(h, sizeof(R))) R;
    r->handles = 1;
    r->kind = kind;
    r->flags = static_cast<std::uint8_t>((h ? kWeakPooled : 0) | (kind == WeakKind::Callback ? kWeakArmed : 0));
    r->state = 0;
    if constexpr (std::is_same_v<R, WeakCallbackRecord>) r->vtbl = nullptr;  // the storage stays raw until installed
    try {
        fault_point();
        link(t, referent, r);
    } catch (...) {
        free_record(r);
        throw;
    }
    return r;
}

void check_referent(Object* referent) {
    if (!(gcword(referent) & kLive)) throw std::invalid_argument("ouro::WeakRef: the referent is not a live managed object");
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

// Runs r's callback (an entry: its removal from its container) if it is still due. Returns
// whether user code ran.
bool run_callback(WeakRecord* r, const Object* referent) noexcept {
    if (!(r->flags & kWeakArmed)) return false;
    r->flags &= static_cast<std::uint8_t>(~kWeakArmed);
    try {
        if (r->kind == WeakKind::Entry) return table_of(r)->entry_died(r);
        auto* c = static_cast<WeakCallbackRecord*>(r);
        if (c->vtbl) c->vtbl->call(c, const_cast<Object*>(referent));
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
    const SharedOwners* shared;
    SlotOwners& slots;
    const Object* base = nullptr;  // the member being traced
    std::size_t size = 0;
    GarbageHandleCounter(GarbageHandles* c, const SharedOwners* so, SlotOwners& s) : counts(c), shared(so), slots(s) {}
    void visit(Object*&) override {}
    // Handles in shared storage are the garbage's when the storage is (as phase 8 clears it),
    // else a live owner's: not counted.
    bool enter_shared(const void*, const void* storage, long owners) override {
        return shared && shared->owns_all(storage, owners);
    }
    // Each handle once: one in shared storage is reached through each owner of the storage. A
    // handle the garbage cannot own (a global's, another object's member: a mistaken trace()) is
    // a live one.
    void visit_weak(WeakRecord*& r) override {
        if (!r->referent) return;
        const SlotOwner where = slots.classify(&r, base, size);
        if (where == SlotOwner::Static || where == SlotOwner::OtherObject) return;
        try {
            if (seen.insert(&r)) ++(*counts)[r];
        } catch (const std::bad_alloc&) {
        }
    }
    PointerMap<char> seen;  // the handles counted
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
            r->flags &= static_cast<std::uint8_t>(~kWeakArmed);  // never runs; a function is destroyed with the record
        }
    }
};

}  // namespace

WeakRecord* weak_acquire(Object* referent, WeakKind kind) {
    check_referent(referent);
    Heap* h = heap_of(referent);
    return with_table(h, [&](Table& t) -> WeakRecord* {
        if (gcword(referent) & kHasWeakrefs) {  // shared, as CPython shares weakref.ref(obj) and proxy(obj)
            WeakRecord* x = t.find(referent)->head();
            if (kind == WeakKind::BasicProxy && x->kind == WeakKind::Basic) x = x->next;
            if (x && x->kind == kind) {
                ++x->handles;
                return x;
            }
        }
        return new_record<WeakRecord>(referent, kind, h, t);
    });
}

WeakCallbackRecord* weak_acquire_callback(Object* referent) {
    check_referent(referent);
    Heap* h = heap_of(referent);
    return with_table(h, [&](Table& t) { return new_record<WeakCallbackRecord>(referent, WeakKind::Callback, h, t); });
}

void weak_release(WeakRecord* r) noexcept {
    if (r->referent) unlink(r);
    free_record(r);
}

void weak_link(WeakRecord* entry, Object* referent) {
    check_referent(referent);
    with_table(referent, [&](Table& t) {
        fault_point();
        link(t, referent, entry);
    });
}

void weak_relink(WeakRecord* entry, Object* referent) {
    check_referent(referent);
    Heap* h = heap_of(referent);
    // Room first, so that nothing can fail once the entry has left its old list. (An orphan's
    // room could be taken by another thread in between; then the link throws and the entry is
    // left cleared, as if its old referent had died.)
    with_table(h, [&](Table& t) {
        fault_point();
        if (!(gcword(referent) & kHasWeakrefs)) t.reserve_one();
    });
    if (entry->referent) unlink(entry);
    with_table(h, [&](Table& t) { link(t, referent, entry); });
}

void weak_unlink(WeakRecord* r) noexcept {
    if (r->referent) unlink(r);
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
bool handle_weakrefs(Heap& h, std::span<Object* const> unreachable, const SharedOwners* shared, SlotOwners& slots) {
    GarbageHandles garbage_handles;
    GarbageHandleCounter counter(&garbage_handles, shared, slots);
    auto trace_all = [&](Visitor& v, auto&& before) {
        for (Object* u : unreachable) {
            v.reset_shared();
            before(u);
            try {
                u->trace(v);
            } catch (...) {
                // Fewer garbage handles counted means more callbacks run: safe, as every member
                // of the unreachable set is still intact and held.
                report_unraisable("trace() while looking for weak references, of", *u);
            }
        }
    };
    trace_all(counter, [&](Object* u) {
        counter.base = u;
        counter.size = block_size(u);
    });
    GarbageWeakrefClearer clearer(&garbage_handles);
    trace_all(clearer, [](Object*) {});
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
            if (!(r->flags & kWeakArmed)) continue;
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
    Table::Bucket* found = table.find(o);
    if (!found) return;
    WeakRecord* head = found->head();
    table.erase(found);
    OrphanTable& t = orphans();
    std::lock_guard lock(t.mutex);
    try {
        t.map.insert(head);
    } catch (const std::bad_alloc&) {
        // No memory to move them: clear them now, without callbacks (the heap is going away).
        gcword(o) &= ~kHasWeakrefs;
        while (WeakRecord* r = head) {
            head = r->next;
            r->referent = nullptr;
            r->prev = r->next = nullptr;
            r->flags &= static_cast<std::uint8_t>(~kWeakArmed);
        }
    }
}

}  // namespace ouro::detail

namespace ouro {

std::size_t getweakrefcount(const Object& obj) {
    auto* o = const_cast<Object*>(&obj);
    if (!(detail::gcword(o) & detail::kHasWeakrefs)) return 0;
    return detail::with_table(o, [o](detail::Table& t) {
        std::size_t n = 0;
        for (detail::WeakRecord* r = t.find(o)->head(); r; r = r->next) ++n;
        return n;
    });
}

std::vector<WeakRef<Object>> getweakrefs(const Object& obj) {
    auto* o = const_cast<Object*>(&obj);
    std::vector<WeakRef<Object>> result;
    if (!(detail::gcword(o) & detail::kHasWeakrefs)) return result;
    std::vector<detail::WeakRecord*> records = detail::with_table(o, [o](detail::Table& t) {
        std::vector<detail::WeakRecord*> v;
        for (detail::WeakRecord* r = t.find(o)->head(); r; r = r->next) v.push_back(r);
        return v;
    });
    result.reserve(records.size());
    for (detail::WeakRecord* r : records) result.push_back(detail::WeakAccess::share<WeakRef<Object>>(r, o));
    return result;
}

}  // namespace ouro
