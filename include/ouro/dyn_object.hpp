// ouro::DynObject — an object whose attributes live in a per-instance dictionary, as a Python class
// without __slots__ — and ouro::AttrValue, the value of one attribute.
//
//   struct Point : ouro::DynObject {                    class Point:
//       Point(long x, long y) {                             def __init__(self, x, y):
//           setattr("x", x);                                    self.x = x
//           setattr("y", y);                                    self.y = y
//       }
//   };
//   auto p = ouro::make<Point>(1, 2);
//   long x = p->getattr("x").as_int();                  x = p.x
//
// Key sharing (PEP 412, docs/cpython.md §9): the instances of one type in one heap that set their
// attributes in the same order share a single table of names and each holds only an array of
// values; an instance that sets them in another order, deletes one, or goes past 30 shared keys
// gets a table of its own (CPython's combined dict). The fixed-layout alternative — Python's
// __slots__ — is an ordinary managed class with members. sys::getsizeof counts the instance's
// values (and its own table, if it has one), not a shared table, as CPython's does.
//
// Attributes that hold references (AttrValue::Kind::Ref) are visited by trace(): cycles through
// them are collected.
#pragma once

#include <ouro/ref.hpp>

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ouro {

class Heap;

// Python's AttributeError: getattr or delattr of an attribute the object does not have.
class AttributeError : public std::out_of_range {
public:
    using std::out_of_range::out_of_range;
};

namespace detail {
struct DynKeys;
// A str value's storage: its length, then its bytes (src/dyn_object.cpp).
char* new_str(std::string_view s);
void free_str(char* s) noexcept;
std::string_view str_of(const char* s) noexcept;
std::size_t str_bytes(const char* s) noexcept;
[[noreturn]] void wrong_kind(int held, const char* wanted);
}  // namespace detail

// The value of an attribute: None, an int (64 bits), a float, a str, or a reference to a managed
// object. 16 bytes. A str is stored in the value (copied with it); a null Ref is None.
class AttrValue {
public:
    enum class Kind : std::uint8_t { None, Int, Float, Str, Ref };

    AttrValue() noexcept : i_(0) {}
    AttrValue(std::nullptr_t) noexcept : i_(0) {}
    template <std::integral I>
    AttrValue(I v) noexcept : i_(static_cast<std::int64_t>(v)), kind_(Kind::Int) {}
    template <std::floating_point F>
    AttrValue(F v) noexcept : f_(static_cast<double>(v)), kind_(Kind::Float) {}
    AttrValue(std::string_view s) : s_(detail::new_str(s)), kind_(Kind::Str) {}
    AttrValue(const char* s) : AttrValue(std::string_view(s)) {}
    AttrValue(const std::string& s) : AttrValue(std::string_view(s)) {}
    template <class T>
    AttrValue(Ref<T> r) noexcept : i_(0) {
        if (r) {
            ::new (&ref_) Ref<Object>(std::move(r));
            kind_ = Kind::Ref;
        }
    }

    AttrValue(const AttrValue& o) : i_(0) {
        if (o.kind_ == Kind::Str) s_ = detail::new_str(detail::str_of(o.s_));
        else if (o.kind_ == Kind::Ref) ::new (&ref_) Ref<Object>(o.ref_);
        else std::memcpy(&i_, &o.i_, sizeof i_);
        kind_ = o.kind_;
    }
    AttrValue(AttrValue&& o) noexcept : i_(0) { take(std::move(o)); }
    // The old value is released after the new one is in place (it may run a destructor).
    AttrValue& operator=(const AttrValue& o) {
        AttrValue(o).swap(*this);
        return *this;
    }
    AttrValue& operator=(AttrValue&& o) noexcept {
        AttrValue(std::move(o)).swap(*this);
        return *this;
    }
    ~AttrValue() { release(); }

    void swap(AttrValue& o) noexcept {
        AttrValue tmp(std::move(o));
        o.take(std::move(*this));
        take(std::move(tmp));
    }

    // A Ref the collector cleared (a member of garbage) reads as None.
    Kind kind() const noexcept { return kind_ == Kind::Ref && !ref_ ? Kind::None : kind_; }
    bool is_none() const noexcept { return kind() == Kind::None; }

    // Python's int(v) / float(v) / str / the object; a value of another kind throws
    // std::invalid_argument (Python's TypeError). as_float() accepts an int, as Python's floats do.
    std::int64_t as_int() const {
        if (kind_ != Kind::Int) detail::wrong_kind(static_cast<int>(kind()), "an int");
        return i_;
    }
    double as_float() const {
        if (kind_ == Kind::Float) return f_;
        if (kind_ == Kind::Int) return static_cast<double>(i_);
        detail::wrong_kind(static_cast<int>(kind()), "a float");
    }
    // Valid while this AttrValue holds it.
    std::string_view as_str() const {
        if (kind_ != Kind::Str) detail::wrong_kind(static_cast<int>(kind()), "a str");
        return detail::str_of(s_);
    }
    // The object, or null for None.
    Ref<Object> as_ref() const {
        if (kind_ == Kind::Ref) return ref_;
        if (kind_ == Kind::None) return nullptr;
        detail::wrong_kind(static_cast<int>(kind()), "an object reference");
    }

    // Python's ==: numbers by value (1 == 1.0), strs by content, objects by identity.
    friend bool operator==(const AttrValue& a, const AttrValue& b) noexcept {
        const Kind ka = a.kind(), kb = b.kind();
        const bool na = ka == Kind::Int || ka == Kind::Float, nb = kb == Kind::Int || kb == Kind::Float;
        if (na && nb) {
            if (ka == Kind::Int && kb == Kind::Int) return a.i_ == b.i_;
            return a.number() == b.number();
        }
        if (ka != kb) return false;
        if (ka == Kind::Str) return detail::str_of(a.s_) == detail::str_of(b.s_);
        if (ka == Kind::Ref) return a.ref_ == b.ref_;
        return true;  // None
    }

    // Bytes held outside the 16 (a str's storage).
    std::size_t owned_bytes() const noexcept { return kind_ == Kind::Str ? detail::str_bytes(s_) : 0; }

    void trace(Visitor& visit) {
        if (kind_ == Kind::Ref) visit(ref_);
    }

private:
    double number() const noexcept { return kind_ == Kind::Int ? static_cast<double>(i_) : f_; }
    void release() noexcept {
        if (kind_ == Kind::Str) detail::free_str(s_);
        else if (kind_ == Kind::Ref) ref_.~Ref<Object>();
        kind_ = Kind::None;
    }
    // *this holds nothing: becomes what o held, o becomes None.
    void take(AttrValue&& o) noexcept {
        if (o.kind_ == Kind::Ref) {
            ::new (&ref_) Ref<Object>(std::move(o.ref_));
            o.ref_.~Ref<Object>();
        } else {
            std::memcpy(&i_, &o.i_, sizeof i_);  // the int's, the float's or the str pointer's bits
        }
        kind_ = std::exchange(o.kind_, Kind::None);
    }

    union {
        std::int64_t i_;
        double f_;
        char* s_;
        Ref<Object> ref_;
    };
    Kind kind_ = Kind::None;
};
static_assert(sizeof(AttrValue) == 16);

class DynObject : public Object {
public:
    DynObject() noexcept = default;
    ~DynObject() override;

    // Python's setattr(obj, name, value): adds the attribute or replaces its value (the old value
    // is released after the new one is stored).
    void setattr(std::string_view name, AttrValue value);
    // Python's getattr(obj, name): a copy of the value; AttributeError when absent.
    AttrValue getattr(std::string_view name) const;
    // Python's getattr(obj, name, default).
    AttrValue getattr(std::string_view name, AttrValue fallback) const;
    bool hasattr(std::string_view name) const noexcept;
    // Python's delattr(obj, name); AttributeError when absent.
    void delattr(std::string_view name);
    // Python's vars(obj), as a copy: (name, value) pairs in the order they were first set.
    std::vector<std::pair<std::string, AttrValue>> vars() const;
    std::size_t attribute_count() const noexcept { return size_; }

    // Whether the instance's names are its type's shared keys (PEP 412's split table) rather
    // than a table of its own. A diagnostic: Python shows it only through memory figures.
    bool shares_keys() const noexcept;

    void trace(Visitor& visit) override;
    std::size_t owned_bytes() const noexcept override;

private:
    int find(std::string_view name) const noexcept;  // position among the attributes, or -1
    void attach_keys();                              // the shared keys of this type, at the first setattr
    void unshare();                                  // a table of its own, holding the names it has
    void reserve_one();                              // room for one more value
    Heap* heap() noexcept;                           // the heap that made it, or null

    static constexpr std::uint32_t kMaxCapacity = (1u << 31) - 1;
    detail::DynKeys* keys_ = nullptr;
    AttrValue* values_ = nullptr;  // values_[i] is the value of keys_'s i-th name, i < size_
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ : 31 = 0;
    std::uint32_t pooled_ : 1 = 0;  // values_ is a block of its heap's value pools (else operator new)
};

}  // namespace ouro
