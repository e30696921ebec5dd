// ouro::WeakRef<T> — Python's weakref.ref — with callbacks; getweakrefcount and getweakrefs.
//
// A weak reference is a record shared by all copies of a WeakRef (copies are handles to the same
// record, as Python's weakref objects are shared). Records live in a per-heap table keyed by the
// referent, so an object that never had a weak reference pays nothing for the feature.
#pragma once

#include <ouro/ref.hpp>

#include <cstddef>
#include <functional>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ouro {

namespace detail {
struct WeakRecord {
    Object* referent;                // null once the referent died
    std::size_t handles;             // WeakRef objects sharing this record
    std::size_t hash;                // of the referent, kept after its death
    WeakRecord* prev;                // records of the same referent, newest first
    WeakRecord* next;
    bool pooled;                     // memory from the referent's heap (else operator new)
    // The callback, type-erased by hand so a record is one allocation: `call` moves it out and
    // runs it once, `drop` destroys it unrun. Both null when there is none (or it has run).
    void (*call)(WeakRecord*);
    void (*drop)(WeakRecord*);
    alignas(std::function<void()>) unsigned char storage[sizeof(std::function<void()>)];
};
// A new handle (count 1) to a weak reference to `referent`, registered newest first. Without a
// callback an existing callback-less record is shared, as CPython shares weakref.ref(obj).
WeakRecord* weak_acquire(Object* referent, bool with_callback);
void weak_release(WeakRecord* r) noexcept;  // the last handle went away

template <class T>
struct WeakCallbackOps {
    using Fn = std::function<void(const WeakRef<T>&)>;
    static_assert(sizeof(Fn) <= sizeof(WeakRecord::storage));
    static Fn* fn(WeakRecord* r) noexcept { return std::launder(reinterpret_cast<Fn*>(r->storage)); }
    static void install(WeakRecord* r, Fn&& f) noexcept {
        ::new (static_cast<void*>(r->storage)) Fn(std::move(f));
        r->call = &call;
        r->drop = &drop;
    }
    static void drop(WeakRecord* r) noexcept {
        r->call = r->drop = nullptr;
        fn(r)->~Fn();
    }
    static void call(WeakRecord* r);  // defined after WeakRef
};
}  // namespace detail

template <class T> class WeakRef;
std::vector<WeakRef<Object>> getweakrefs(const Object& obj);

template <class T>
class WeakRef {
public:
    using Callback = std::function<void(const WeakRef<T>&)>;

    WeakRef() noexcept = default;
    explicit WeakRef(const Ref<T>& referent) : WeakRef(referent, Callback{}) {}
    WeakRef(const Ref<T>& referent, Callback callback) {
        if (!referent) throw std::invalid_argument("ouro::WeakRef: cannot create a weak reference to null");
        rec_ = detail::weak_acquire(static_cast<Object*>(referent.get()), static_cast<bool>(callback));
        if (callback) detail::WeakCallbackOps<T>::install(rec_, std::move(callback));
    }
    template <class U>
        requires std::is_convertible_v<U*, T*>
    WeakRef(const WeakRef<U>& other) noexcept : rec_(other.rec_) {
        if (rec_) ++rec_->handles;
    }
    WeakRef(const WeakRef& other) noexcept : rec_(other.rec_) {
        if (rec_) ++rec_->handles;
    }
    WeakRef(WeakRef&& other) noexcept : rec_(std::exchange(other.rec_, nullptr)) {}
    WeakRef& operator=(WeakRef other) noexcept {
        std::swap(rec_, other.rec_);
        return *this;
    }
    ~WeakRef() { reset(); }

    void reset() noexcept {
        if (detail::WeakRecord* r = std::exchange(rec_, nullptr))
            if (--r->handles == 0) detail::weak_release(r);
    }

    // The referent, or null once it has died (calling a Python weakref). A referent whose count
    // is already 0 is dying (its deallocation may be queued) and counts as dead, as in CPython.
    Ref<T> operator()() const { return alive() ? Ref<T>(static_cast<T*>(rec_->referent)) : Ref<T>(); }
    bool alive() const noexcept {
        return rec_ && rec_->referent && detail::ObjectAccess::refcnt(*rec_->referent) != 0;
    }

    // Python's rule: two live weak references are equal when their referents are; once either
    // referent is dead, only a weak reference is equal to itself (the same record).
    template <class U>
    bool operator==(const WeakRef<U>& other) const noexcept {
        if (alive() && other.alive()) return rec_->referent == other.rec_->referent;
        return static_cast<const void*>(rec_) == static_cast<const void*>(other.rec_);
    }
    std::size_t hash() const noexcept { return rec_ ? rec_->hash : 0; }

private:
    template <class U> friend class WeakRef;
    template <class U> friend struct detail::WeakCallbackOps;
    friend struct detail::RefAccess;
    friend std::vector<WeakRef<Object>> getweakrefs(const Object&);
    explicit WeakRef(detail::WeakRecord* adopted) noexcept : rec_(adopted) {}
    detail::WeakRecord* rec_ = nullptr;
};

// Runs the callback once, in place: whoever runs callbacks pins the record (one extra handle), so
// the callback may drop the last handle to its own WeakRef without destroying itself mid-call.
// It is marked spent first (a re-entrant clear cannot run it twice) and its captures are
// destroyed when it returns or throws.
template <class T>
void detail::WeakCallbackOps<T>::call(WeakRecord* r) {
    r->call = nullptr;
    struct Spent {
        WeakRecord* r;
        ~Spent() { drop(r); }
    } spent{r};
    ++r->handles;
    const WeakRef<T> self(r);
    (*fn(r))(self);
}

// Number of weak references (records with live handles) to obj.
std::size_t getweakrefcount(const Object& obj);
// The weak references to obj, newest first.
std::vector<WeakRef<Object>> getweakrefs(const Object& obj);

}  // namespace ouro

template <class T>
struct std::hash<ouro::WeakRef<T>> {
    std::size_t operator()(const ouro::WeakRef<T>& w) const noexcept { return w.hash(); }
};
