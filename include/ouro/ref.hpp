// ouro::Ref<T> — a strong, intrusive reference (the count lives in the object) — and make<T>.
#pragma once

#include <ouro/object.hpp>

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
    else mark_dirty(o);  // it lost a holder: it may be garbage now (kDirty)
}
struct Adopt {};
}  // namespace detail

template <class T>
class Ref {
public:
    using element_type = T;

    constexpr Ref() noexcept = default;
    constexpr Ref(std::nullptr_t) noexcept {}
    // Adds a reference to an object that is already managed: `Ref<Self>(this)` is fine.
    explicit Ref(T* p) : obj_(const_cast<Object*>(static_cast<const Object*>(p))) {
        if (obj_) {
            if constexpr (OURO_CHECKS) detail::check_managed(obj_);
            detail::incref(obj_);
        }
    }
    Ref(detail::Adopt, T* p) noexcept : obj_(const_cast<Object*>(static_cast<const Object*>(p))) {}

    Ref(const Ref& other) noexcept(!OURO_CHECKS) : obj_(other.obj_) {
        if (obj_) acquire();
    }
    // A move keeps the count but changes the holder: the referent is marked (kDirty), unless
    // this Ref is a member of the object make<T> is constructing (detail::moved).
    Ref(Ref&& other) noexcept : obj_(std::exchange(other.obj_, nullptr)) {
        if (obj_) detail::moved(this, obj_);
    }
    template <class U>
        requires std::is_convertible_v<U*, T*>
    Ref(const Ref<U>& other) noexcept(!OURO_CHECKS) : obj_(other.obj_) {
        if (obj_) acquire();
    }
    template <class U>
        requires std::is_convertible_v<U*, T*>
    Ref(Ref<U>&& other) noexcept : obj_(std::exchange(other.obj_, nullptr)) {
        if (obj_) detail::moved(this, obj_);
    }

    ~Ref() {
        if (obj_) detail::decref(obj_);
    }

    // Assignment swaps first and drops the old referent last, so a destructor that runs as a
    // result sees this Ref already holding its new value (the Py_SETREF order).
    Ref& operator=(const Ref& other) noexcept(!OURO_CHECKS) {
        if constexpr (OURO_CHECKS)
            if (other.obj_) detail::check_store(this, other.obj_);
        Ref(other).swap_holders(*this);
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
        Ref(other).swap_holders(*this);
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
    // Both referents change holders (detail::moved).
    void swap(Ref& other) noexcept {
        swap_holders(other);
        if (obj_) detail::moved(this, obj_);
        if (other.obj_) detail::moved(&other, other.obj_);
    }

    T* get() const noexcept { return static_cast<T*>(obj_); }
    T* operator->() const noexcept { return get(); }
    T& operator*() const noexcept { return *get(); }
    explicit operator bool() const noexcept { return obj_ != nullptr; }

    template <class U>
    bool operator==(const Ref<U>& other) const noexcept {
        return obj_ == other.obj_;
    }
    bool operator==(std::nullptr_t) const noexcept { return obj_ == nullptr; }

private:
    // Copy assignment: the temporary holds the new value's extra count and takes the old value,
    // whose drop is a decrement (marked when not the last): nothing to mark here.
    void swap_holders(Ref& other) noexcept { std::swap(obj_, other.obj_); }
    // Move assignment: the reference `from` holds moves here (marked unless here is safe), then
    // the old referent is dropped (the Py_SETREF order). Safe for `r = std::move(r)`.
    void take(Object*& from) noexcept {
        Object* incoming = std::exchange(from, nullptr);
        if (incoming) detail::moved(this, incoming);
        if (Object* old = std::exchange(obj_, incoming)) detail::decref(old);
    }

    // Checked builds refuse a copy into an object of another heap (moves stay noexcept and are
    // not checked; the collector treats any foreign reference as external either way).
    void acquire() {
        if constexpr (OURO_CHECKS) detail::check_store(this, obj_);
        detail::incref(obj_);
    }

    template <class U> friend class Ref;
    friend class Visitor;
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
