// ouro::WeakRef<T> — Python's weakref.ref — with callbacks; getweakrefcount and getweakrefs.
// (weakref.proxy is ouro::Proxy, <ouro/proxy.hpp>; weakref.WeakMethod is ouro::WeakMethod,
// <ouro/weak_method.hpp>.)
//
// A weak reference is a record shared by all copies of a WeakRef (copies are handles to the same
// record, as Python's weakref objects are shared). Records are found from their referent through a
// per-heap table, so an object that never had a weak reference pays nothing for the feature. A
// WeakRef is two pointers, like std::weak_ptr: its record, and the referent (so that asking
// whether it is alive reads the record and the referent at once, not one after the other).
#pragma once

#include <ouro/detail/weak_record.hpp>
#include <ouro/ref.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ouro {

template <class T> class WeakRef;

namespace detail {

// A new handle to referent's shared record of `kind` (Basic or BasicProxy; made when it has
// none). Throws std::invalid_argument when referent is not a live managed object, std::bad_alloc
// when out of memory.
WeakRecord* weak_acquire(Object* referent, WeakKind kind = WeakKind::Basic);
// A new record with a callback still to be installed (its one handle is the caller's). The same
// exceptions.
WeakCallbackRecord* weak_acquire_callback(Object* referent);
void weak_release(WeakRecord* r) noexcept;  // the last handle went away
// For weak containers: links entry (kind Entry, its handles set) into referent's list, or moves
// it from its referent's list to another's; the same exceptions, and nothing changed then.
void weak_link(WeakRecord* entry, Object* referent);
void weak_relink(WeakRecord* entry, Object* referent);
// Takes a record whose referent is alive out of its referent's list and clears it.
void weak_unlink(WeakRecord* r) noexcept;

// Handles (WeakRef, Proxy) are built around a handle already counted in a record through here.
struct WeakAdopt {};
struct WeakAccess {
    template <class Handle>
    static Handle adopt(WeakRecord* counted, Object* referent) noexcept {
        return Handle(WeakAdopt{}, counted, referent);
    }
    // One more handle on r, for a handle of type Handle.
    template <class Handle>
    static Handle share(WeakRecord* r, Object* referent) noexcept {
        ++r->handles;
        return adopt<Handle>(r, referent);
    }
};

// The callback of a record: Handle (a WeakRef<T> or a Proxy<T>) is what it is called with, Fn
// the callable stored (a std::function, or a callable with a trace(Visitor&) of its own, whose
// references the collector then sees: kWeakTraced). In the record when it fits, else behind a
// pointer there.
template <class Handle, class Fn = std::function<void(const Handle&)>>
struct WeakCallbackOf {
    static constexpr bool kInPlace =
        sizeof(Fn) <= sizeof(WeakCallbackRecord::storage) && alignof(Fn) <= alignof(WeakCallbackRecord);
    static Fn* fn(WeakCallbackRecord* r) noexcept {
        if constexpr (kInPlace) return std::launder(reinterpret_cast<Fn*>(r->storage));
        else return *std::launder(reinterpret_cast<Fn**>(r->storage));
    }
    static void install(WeakCallbackRecord* r, Fn&& f) {
        if constexpr (kInPlace) ::new (static_cast<void*>(r->storage)) Fn(std::move(f));
        else ::new (static_cast<void*>(r->storage)) Fn*(new Fn(std::move(f)));
        r->vtbl = &kVtbl;
        if constexpr (has_trace<Fn>) {
            r->flags |= kWeakTraced;
            g_traced_callbacks.fetch_add(1, std::memory_order_relaxed);
        }
    }
    static void drop(WeakCallbackRecord* r) noexcept {
        r->vtbl = nullptr;
        if constexpr (has_trace<Fn>) {
            r->flags &= static_cast<std::uint8_t>(~kWeakTraced);
            g_traced_callbacks.fetch_sub(1, std::memory_order_relaxed);
        }
        if constexpr (kInPlace) fn(r)->~Fn();
        else delete fn(r);
    }
    static void trace(WeakCallbackRecord* r, Visitor& v) {
        if constexpr (has_trace<Fn>) fn(r)->trace(v);
    }
    // Runs the callback once, in place: whoever runs callbacks pins the record (one extra
    // handle), so the callback may drop the last handle to its own weak reference without
    // destroying itself mid-call. Whoever runs it disarms it first (a re-entrant clear cannot run
    // it twice); its captures are destroyed when it returns or throws.
    static void call(WeakCallbackRecord* r, Object* referent) {
        struct Spent {
            WeakCallbackRecord* r;
            ~Spent() { drop(r); }
        } spent{r};
        const Handle self = WeakAccess::share<Handle>(r, referent);
        (*fn(r))(self);
    }
    static constexpr WeakCallbackVtbl kVtbl{&call, &drop, has_trace<Fn> ? &trace : nullptr};
    // A new record for referent with callback f (which must not be empty), as a Handle.
    static Handle make(Object* referent, Fn&& f) {
        WeakCallbackRecord* r = weak_acquire_callback(referent);
        try {
            install(r, std::move(f));
        } catch (...) {  // (only a callable too big for the record, copied out of it, can throw)
            --r->handles;
            weak_release(r);
            throw;
        }
        return WeakAccess::adopt<Handle>(r, referent);
    }
};
}  // namespace detail

template <class T>
class WeakRef {
public:
    using Callback = std::function<void(const WeakRef<T>&)>;

    WeakRef() noexcept = default;
    explicit WeakRef(const Ref<T>& referent) : obj_(object_of(referent)) { rec_ = detail::weak_acquire(obj_); }
    WeakRef(const Ref<T>& referent, Callback callback)
        : WeakRef(callback ? detail::WeakCallbackOf<WeakRef>::make(object_of(referent), std::move(callback))
                           : WeakRef(referent)) {}
    // A callback that holds references says so with a trace(Visitor&) of its own (a struct with
    // operator() and trace, or ouro::bind_callback): the collector then sees them, so a cycle
    // through the callback — an object whose weak reference's callback holds the object, as a
    // Python bound method held by weakref.ref does — is collected.
    template <class F>
        requires(detail::has_trace<std::decay_t<F>> && std::is_invocable_v<std::decay_t<F>&, const WeakRef<T>&>)
    WeakRef(const Ref<T>& referent, F&& callback)
        : WeakRef(detail::WeakCallbackOf<WeakRef, std::decay_t<F>>::make(object_of(referent), std::decay_t<F>(std::forward<F>(callback)))) {}
    template <class U>
        requires std::is_convertible_v<U*, T*>
    WeakRef(const WeakRef<U>& other) noexcept : rec_(other.rec_), obj_(other.obj_) {
        if (rec_) ++rec_->handles;
    }
    WeakRef(const WeakRef& other) noexcept : rec_(other.rec_), obj_(other.obj_) {
        if (rec_) ++rec_->handles;
    }
    WeakRef(WeakRef&& other) noexcept : rec_(std::exchange(other.rec_, nullptr)), obj_(std::exchange(other.obj_, nullptr)) {}
    WeakRef& operator=(WeakRef other) noexcept {
        std::swap(rec_, other.rec_);
        std::swap(obj_, other.obj_);
        return *this;
    }
    ~WeakRef() { reset(); }

    void reset() noexcept {
        obj_ = nullptr;
        if (detail::WeakRecord* r = std::exchange(rec_, nullptr))
            if (--r->handles == 0) detail::weak_release(r);
    }

    // The referent, or null once it has died (calling a Python weakref). A referent whose count
    // is already 0 is dying (its deallocation may be queued) and counts as dead, as in CPython.
    Ref<T> operator()() const { return alive() ? Ref<T>(static_cast<T*>(obj_)) : Ref<T>(); }
    // The record says whether the referent lives; obj_ is only read when it does.
    bool alive() const noexcept { return rec_ && rec_->referent && detail::ObjectAccess::refcnt(*obj_) != 0; }

    // Python's rule: two live weak references are equal when their referents are; once either
    // referent is dead, only a weak reference is equal to itself (the same record).
    template <class U>
    bool operator==(const WeakRef<U>& other) const noexcept {
        if (alive() && other.alive()) return obj_ == other.obj_;
        return static_cast<const void*>(rec_) == static_cast<const void*>(other.rec_);
    }
    // Of the referent's address, so it survives the referent's death.
    std::size_t hash() const noexcept { return rec_ ? std::hash<const void*>()(obj_) : 0; }

private:
    template <class U> friend class WeakRef;
    friend struct detail::WeakAccess;
    friend struct detail::RefAccess;
    WeakRef(detail::WeakAdopt, detail::WeakRecord* counted, Object* referent) noexcept : rec_(counted), obj_(referent) {}
    static Object* object_of(const Ref<T>& referent) {
        if (!referent) throw std::invalid_argument("ouro::WeakRef: cannot create a weak reference to null");
        return const_cast<Object*>(static_cast<const Object*>(referent.get()));
    }

    detail::WeakRecord* rec_ = nullptr;  // the collector visits this (Visitor::visit_weak)
    Object* obj_ = nullptr;              // the referent, valid while rec_->referent is set
};

// A weak reference callback bound to a managed object held strongly, as a Python bound method
// is (weakref.ref(obj, holder.method)): f(*holder, weakref) runs at the referent's death. The
// collector sees the reference, so a cycle through the callback is collected, as CPython's is.
// (ouro::WeakMethod binds weakly instead.)
template <class H, class F>
struct BoundCallback {
    Ref<H> holder;
    F f;
    template <class W>
    void operator()(const W& weakref) {
        if (holder) f(*holder, weakref);  // (null once the collector cleared the garbage holding it)
    }
    void trace(Visitor& visit) { visit(holder); }
};
template <class H, class F>
BoundCallback<H, std::decay_t<F>> bind_callback(Ref<H> holder, F&& f) {
    return {std::move(holder), std::forward<F>(f)};
}

// Number of weak references (records) to obj: WeakRefs (one for all those without a callback),
// proxies (likewise) and the entries of weak containers.
std::size_t getweakrefcount(const Object& obj);
// The weak references to obj, in CPython's order: the basic ref, the basic proxy, then the others
// newest first. A proxy or an entry comes as a WeakRef to its record.
std::vector<WeakRef<Object>> getweakrefs(const Object& obj);

}  // namespace ouro

template <class T>
struct std::hash<ouro::WeakRef<T>> {
    std::size_t operator()(const ouro::WeakRef<T>& w) const noexcept { return w.hash(); }
};
