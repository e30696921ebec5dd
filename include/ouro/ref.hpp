// ouro::Ref<T> — a strong, intrusive reference (the count lives in the object).
#pragma once

#include <ouro/object.hpp>
#include <ouro/visitor.hpp>

#include <compare>
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

namespace ouro {

namespace detail {
void dealloc(Object* o) noexcept;
// Misuse checks (OURO_CHECKS builds): throws std::logic_error, or prints and aborts when
// `can_throw` is false (destructors). Out of line: they are the slow, rare path.
void check_access(const Object* o, bool can_throw);
void check_managed(const Object* o);
// A reference stored inside an object of the current heap must not point into another heap.
void check_store(const void* slot, const Object* o);

OURO_ALWAYS_INLINE void incref(Object* o, bool can_throw = true) {
    if constexpr (OURO_CHECKS) check_access(o, can_throw);
    ++refcnt(o);
}
OURO_ALWAYS_INLINE void decref(Object* o) noexcept {
    if constexpr (OURO_CHECKS) check_access(o, false);
    if (--refcnt(o) == 0) dealloc(o);
}
#if OURO_CHECKS
// A Ref constructed inside the block make<T> is filling is one of T's members: counted, so make
// can check that T's trace() visits them all (heap.hpp).
inline void note_ref(const void* slot) noexcept {
    Construction& c = t_construction;
    if (static_cast<std::size_t>(static_cast<const char*>(slot) - static_cast<const char*>(c.block)) < c.size)
        ++c.refs;
}
#endif
struct Adopt {};
}  // namespace detail

template <class T>
class Ref {
public:
    using element_type = T;

    constexpr Ref() noexcept { note(); }
    constexpr Ref(std::nullptr_t) noexcept { note(); }
    // Adds a reference to an object that is already managed: `Ref<Self>(this)` is fine.
    explicit Ref(T* p) : obj_(const_cast<Object*>(static_cast<const Object*>(p))) {
        note();
        if (obj_) {
            if constexpr (OURO_CHECKS) detail::check_managed(obj_);
            detail::incref(obj_);
        }
    }
    Ref(detail::Adopt, T* p) noexcept : obj_(const_cast<Object*>(static_cast<const Object*>(p))) { note(); }

    Ref(const Ref& other) noexcept(!OURO_CHECKS) : obj_(other.obj_) {
        note();
        if (obj_) acquire();
    }
    Ref(Ref&& other) noexcept : obj_(std::exchange(other.obj_, nullptr)) { note(); }
    template <class U>
        requires std::is_convertible_v<U*, T*>
    Ref(const Ref<U>& other) noexcept(!OURO_CHECKS) : obj_(other.obj_) {
        note();
        if (obj_) acquire();
    }
    template <class U>
        requires std::is_convertible_v<U*, T*>
    Ref(Ref<U>&& other) noexcept : obj_(std::exchange(other.obj_, nullptr)) {
        note();
    }

    ~Ref() {
        if (obj_) detail::decref(obj_);
    }

    // Assignment stores the new value first and drops the old referent last, so a destructor that
    // runs as a result sees this Ref already holding its new value (the Py_SETREF order).
    Ref& operator=(const Ref& other) noexcept(!OURO_CHECKS) {
        if constexpr (OURO_CHECKS)
            if (other.obj_) detail::check_store(this, other.obj_);
        Ref(other).swap(*this);
        return *this;
    }
    Ref& operator=(Ref&& other) noexcept {
        take(other.obj_);
        return *this;
    }
    template <class U>
        requires std::is_convertible_v<U*, T*>
    Ref& operator=(const Ref<U>& other) noexcept(!OURO_CHECKS) {
        if constexpr (OURO_CHECKS)
            if (other.obj_) detail::check_store(this, other.obj_);
        Ref(other).swap(*this);
        return *this;
    }
    template <class U>
        requires std::is_convertible_v<U*, T*>
    Ref& operator=(Ref<U>&& other) noexcept {
        take(other.obj_);
        return *this;
    }
    Ref& operator=(std::nullptr_t) noexcept {
        reset();
        return *this;
    }

    void reset() noexcept {
        if (Object* o = std::exchange(obj_, nullptr)) detail::decref(o);
    }
    void swap(Ref& other) noexcept { std::swap(obj_, other.obj_); }
    friend void swap(Ref& a, Ref& b) noexcept { a.swap(b); }

    T* get() const noexcept { return static_cast<T*>(obj_); }
    T* operator->() const noexcept { return get(); }
    T& operator*() const noexcept { return *get(); }
    explicit operator bool() const noexcept { return obj_ != nullptr; }

    // Identity: equal when they name the same object; ordered by address (std::set<Ref<T>>).
    template <class U>
    bool operator==(const Ref<U>& other) const noexcept {
        return obj_ == other.obj_;
    }
    template <class U>
    std::strong_ordering operator<=>(const Ref<U>& other) const noexcept {
        return std::compare_three_way{}(obj_, other.obj_);
    }
    bool operator==(std::nullptr_t) const noexcept { return obj_ == nullptr; }

private:
    // Move assignment: take what `from` holds, then drop the old referent (the Py_SETREF order).
    // Safe for `r = std::move(r)`.
    void take(Object*& from) noexcept {
        Object* incoming = std::exchange(from, nullptr);
        if (Object* old = std::exchange(obj_, incoming)) detail::decref(old);
    }

    // Checked builds refuse a copy into an object of another heap (moves stay noexcept and are
    // not checked; the collector treats any foreign reference as external either way).
    void acquire() {
        if constexpr (OURO_CHECKS) detail::check_store(this, obj_);
        detail::incref(obj_);
    }
    constexpr void note() noexcept {
#if OURO_CHECKS
        if (!std::is_constant_evaluated()) detail::note_ref(this);
#endif
    }

    template <class U> friend class Ref;
    friend struct detail::RefAccess;
    Object* obj_ = nullptr;  // stored as Object* so the collector can visit (and clear) it untyped
};

// Checked downcast: the same object as a Ref<U>, or null when it is not a U.
template <class U, class T>
Ref<U> ref_cast(const Ref<T>& ref) {
    return Ref<U>(dynamic_cast<U*>(ref.get()));
}

}  // namespace ouro

template <class T>
struct std::hash<ouro::Ref<T>> {
    std::size_t operator()(const ouro::Ref<T>& r) const noexcept { return std::hash<const void*>()(r.get()); }
};
