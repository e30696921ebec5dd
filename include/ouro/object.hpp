// ouro::Object — the base of every managed class.
#pragma once

#include <ouro/detail/header.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace ouro {

class Visitor;

class Object {
public:
    // The header word is the one make<T> prepared for this very address, or 0: an Object built
    // anywhere else (a local, a member, a by-value argument) is not managed. make<T> learns that
    // this constructor ran (the word is taken) to tell, if T's constructor throws, whether there
    // is an object to tear down or only raw memory.
    Object() noexcept : refcnt_(1), gcword_(0) {
        detail::Construction& c = detail::t_construction;
        if (this == c.block) gcword_ = std::exchange(c.word, 0);
    }
    // A managed object has one identity and one count: it is never copied (copy its fields into
    // a new object made with make<T> instead).
    Object(const Object&) = delete;
    Object& operator=(const Object&) = delete;
    virtual ~Object() = default;

    // Visit every Ref (and WeakRef) the object holds, CPython's tp_traverse: `visit(next);`,
    // `visit(children, parent);` — or let OURO_TRACE(next, children) write it (visitor.hpp).
    // It must be a pure function of those members: no allocation, no new references, no side
    // effects, each reference once. A type that keeps the default holds no references and is
    // never tracked by the collector.
    virtual void trace(Visitor&) {}

    // Python's __del__ (PEP 442): runs at most once, before the object is destroyed, whether it
    // dies by its count or in a cyclic collection. It may resurrect the object (store a Ref to
    // `this` somewhere); the destructor then runs only when the object dies again.
    virtual void finalize() {}

    // Bytes the object owns outside its own block (a vector's buffer, say); sys::getsizeof adds
    // them, as Python's __sizeof__ does for a list's item array.
    virtual std::size_t owned_bytes() const noexcept { return 0; }

private:
    friend struct detail::ObjectAccess;
    std::uint32_t refcnt_;
    std::uint32_t gcword_;
};

namespace detail {
struct ObjectAccess {
    static std::uint32_t& refcnt(Object& o) noexcept { return o.refcnt_; }
    static std::uint32_t& gcword(Object& o) noexcept { return o.gcword_; }
    static std::uint32_t refcnt(const Object& o) noexcept { return o.refcnt_; }
    static std::uint32_t gcword(const Object& o) noexcept { return o.gcword_; }
};
inline std::uint32_t& gcword(Object* o) noexcept { return ObjectAccess::gcword(*o); }
inline std::uint32_t& refcnt(Object* o) noexcept { return ObjectAccess::refcnt(*o); }

// Rewrites an object's generation and its position in that generation's list, keeping its flags.
inline void set_generation(Object* o, std::uint32_t gen, std::uint32_t index = kNoIndex) noexcept {
    std::uint32_t& w = gcword(o);
    w = (w & kFlagBits & ~kGenMask) | gen << kGenShift | index << kIndexShift;
}

// Whether T overrides the virtual function a member pointer of type M names: M must be a member
// of T's own hierarchy with Object's signature, declared below Object. A `trace(Visitor&) const`
// hides Object::trace without overriding it, and does not count.
template <class M, class Signature>
struct Overrides : std::false_type {};
template <class C, class R, class... A>
struct Overrides<R (C::*)(A...), R(A...)> : std::bool_constant<!std::is_same_v<C, Object>> {};

template <class T>
inline constexpr bool overrides_trace = Overrides<decltype(&T::trace), void(Visitor&)>::value;
template <class T>
inline constexpr bool overrides_finalize = Overrides<decltype(&T::finalize), void()>::value;
}  // namespace detail

}  // namespace ouro
