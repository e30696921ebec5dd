// What the library's containers share (list.hpp, array.hpp, dict.hpp, deque.hpp): the element a
// container of T holds, where its storage comes from, how iterators pin that storage, Python's
// index arithmetic and its errors (docs/design.md §11).
#pragma once

#include <ouro/detail/block_allocator.hpp>
#include <ouro/detail/fault_injection.hpp>
#include <ouro/ref.hpp>
#include <ouro/visitor.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace ouro {

// Python's len(): the number of items of anything with size().
template <class C>
    requires requires(const C& c) { c.size(); }
constexpr std::size_t len(const C& c) noexcept(noexcept(c.size())) {
    return static_cast<std::size_t>(c.size());
}

namespace detail {

// A container of T holds Ref<T> when T is a managed class, T itself otherwise: List<Node> is a
// list of references, List<int> one of ints (List<Ref<Node>> is List<Node>). A class that is
// still incomplete — `struct Node : Object { List<Node> children; }` — can only be held by
// reference: it is taken to be managed (a value type must be complete to be stored).
template <class T, class = void>
inline constexpr bool is_complete = false;
template <class T>
inline constexpr bool is_complete<T, std::void_t<decltype(sizeof(T))>> = true;

template <class T>
struct ElementOf {
    using type = T;
};
template <class T>
    requires std::is_class_v<T> && (!is_complete<T> || std::is_base_of_v<Object, T>)
struct ElementOf<T> {
    using type = Ref<T>;
};
template <class T>
using element_t = typename ElementOf<T>::type;

template <class T>
inline constexpr bool is_ref = false;
template <class U>
inline constexpr bool is_ref<Ref<U>> = true;

// Checked where a container is destroyed, when T is complete again.
template <class E>
constexpr void check_element() {
    if constexpr (is_ref<E>)
        static_assert(std::is_base_of_v<Object, typename E::element_type>,
                      "ouro: this container holds Refs to a class that is not an ouro::Object: the class was "
                      "incomplete where the container was first named, so it was taken to be managed");
}

// Elements moved with memcpy, and copied without user code: a Ref is one pointer (a move changes
// no count, a copy adds one), a trivially copyable value is its bytes.
template <class T>
inline constexpr bool plain = std::is_trivially_copyable_v<T> || is_ref<T>;
// Elements whose == runs no user code (a Ref compares identities).
template <class T>
inline constexpr bool plain_eq = std::is_scalar_v<T> || is_ref<T>;

template <class T>
inline constexpr bool storable = std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T> &&
                                 alignof(T) <= alignof(std::max_align_t);

// ----- storage ---------------------------------------------------------------------------------
// A container's buffers come from the raw pools of the heap whose block holds the container — a
// managed container, or a member of a managed object — when they fit a pool block; otherwise, and
// for a container anywhere else (a local, a global, inside a std::vector), from malloc, or, from
// kMapMin bytes on, from a mapping of their own, so that such a container can go to another
// thread like a std::vector. Each buffer records where it came from (its Origin) and goes back
// there, whichever container holds it by then: moves and swaps hand buffers over. A pooled buffer
// of a heap destroyed in the meantime is left alone, as orphaned objects are (docs/design.md §8).

enum class Origin : std::uint8_t {
    system,   // malloc
    pool,     // a block of the heap's raw pools
    mapping,  // a mapping of its own (map_buffer)
};

// Big buffers get a mapping of their own, not one from malloc: they grow and shrink by remapping
// their pages (never by copying them, whatever glibc's dynamic mmap threshold has become), go back
// to the system when freed, and from 2 MiB on ask for transparent huge pages — a dictionary's
// index is probed at random, and one TLB entry then covers 2 MiB of it instead of 4 KiB
// (docs/design.md §11). 256 KiB: glibc's own threshold starts at 128 KiB; a mapping costs two
// system calls, which a buffer this size amortises over 32,768 pointers.
inline constexpr std::size_t kMapMin = std::size_t{256} << 10;
// A mapping holding at least `bytes`, 64-byte aligned; std::bad_alloc when the system refuses.
void* map_buffer(std::size_t bytes);
// The mapping of p resized to hold `bytes` (moved if it must), its contents kept up to the
// smaller size; on failure std::bad_alloc, and p is unchanged.
void* remap_buffer(void* p, std::size_t bytes);
void unmap_buffer(void* p) noexcept;
// The bytes all such mappings hold now, in every thread (the tests' leak check: LeakSanitizer
// and valgrind do not see mappings).
std::size_t mapped_buffer_bytes() noexcept;

// The pools of the current heap when `self` lies in one of its blocks, else null (src/containers.cpp).
BlockAllocator* member_pools(const void* self) noexcept;

inline BlockAllocator* pools_for(const Object* self) noexcept {
    const std::uint32_t w = ObjectAccess::gcword(*self);
    if (w & kLive) return (w & kLarge) ? nullptr : pool_of(self)->owner;  // a managed container
    return member_pools(self);
}

inline bool fits_pool(std::size_t bytes, std::size_t align) noexcept { return bytes <= kMaxSmall && align <= 8; }

[[noreturn]] inline void length_error(const char* what) { throw std::length_error(what); }

// n elements of `size` bytes, or std::length_error.
inline std::size_t buffer_bytes(std::size_t n, std::size_t size) {
    if (n > std::numeric_limits<std::size_t>::max() / 2 / size) length_error("ouro: container too large");
    return n * size;
}

inline Origin origin_for(BlockAllocator* pools, std::size_t bytes, std::size_t align) noexcept {
    if (pools && fits_pool(bytes, align)) return Origin::pool;
    return bytes >= kMapMin ? Origin::mapping : Origin::system;
}

inline void* storage_allocate(BlockAllocator* pools, std::size_t bytes, std::size_t align, Origin& origin) {
    origin = origin_for(pools, bytes, align);
    if (origin == Origin::pool) return pools->allocate(size_class(bytes), kRawPool);
    fault_point();
    if (origin == Origin::mapping) return map_buffer(bytes);
    void* p = std::malloc(bytes);
    if (!p) throw std::bad_alloc();
    return p;
}

inline void storage_free(void* p, Origin origin) noexcept {
    if (!p) return;
    switch (origin) {
        case Origin::system: return std::free(p);
        case Origin::mapping: return unmap_buffer(p);
        case Origin::pool:
            if (BlockAllocator* owner = pool_of(p)->owner) owner->deallocate(p);
            // else: the heap is gone and its pools were left in place; the block is never reused
            return;
    }
}

// What a buffer of `bytes` really occupies (sys::getsizeof): its pool block, or the request (as
// CPython reports its buffers from malloc).
inline std::size_t storage_size(std::size_t bytes, Origin origin) noexcept {
    return origin == Origin::pool ? class_size(size_class(bytes)) : bytes;
}

// A buffer of plain contents (memcpy moves them) resized to `bytes`, keeping its first `keep`
// bytes: in place where it can (realloc in malloc, mremap in its own mapping), else a new buffer
// of the size's origin and one copy. On failure it throws and the old buffer is unchanged.
inline void* storage_resize(BlockAllocator* pools, void* p, Origin& origin, std::size_t keep, std::size_t bytes) {
    const Origin to = origin_for(pools, bytes, 8);
    if (p && to == origin && to != Origin::pool) {
        fault_point();
        if (to == Origin::mapping) return remap_buffer(p, bytes);
        void* q = std::realloc(p, bytes);
        if (!q) throw std::bad_alloc();
        return q;
    }
    Origin q_origin;
    void* q = storage_allocate(pools, bytes, 8, q_origin);
    if (keep) std::memcpy(q, p, keep);
    storage_free(p, origin);
    origin = q_origin;
    return q;
}

// ----- pins ------------------------------------------------------------------------------------
class Pin;

// The base of every container: an Object (make<List<T>>() gives a managed one; a container can
// also be a member of a managed object, or a local) that counts its pins. Iterators and views pin
// a container, and so do its own operations while they run user code (an element's ==, a sort
// key, a copy constructor): while it is pinned, an operation that would move or free its storage
// — one that changes its size — throws std::runtime_error, Python's "dictionary changed size
// during iteration", instead of leaving an iterator or a reference pointing into freed memory.
class Container : public Object {
protected:
    Container() noexcept = default;
    // The derived containers copy and move their contents; the Object base is fresh either way.
    Container(const Container&) noexcept : Object() {}
    Container& operator=(const Container&) noexcept { return *this; }
    ~Container() override {
        if (OURO_UNLIKELY(pins_ != 0)) destroyed_while_pinned();
    }

    bool pinned() const noexcept { return pins_ != 0; }
    // Throws `what` (std::runtime_error) while the container is pinned.
    void check_unpinned(const char* what) const {
        if (OURO_UNLIKELY(pins_ != 0)) throw std::runtime_error(what);
    }

    Origin origin_ = Origin::system;  // the main buffer's (see storage_allocate)

private:
    friend class Pin;
    // A destructor cannot throw: a container destroyed under a live iterator (its owner dropped
    // inside the loop) would leave the iterator reading freed memory, so the program stops here.
    [[noreturn]] OURO_NOINLINE static void destroyed_while_pinned() noexcept {
        std::fputs("ouro: a container was destroyed while an iterator or a view over it existed\n", stderr);
        std::abort();
    }
    mutable std::uint32_t pins_ = 0;
};

// One pin on a container. A managed container is also kept alive by it, as a Python iterator
// keeps its list alive — unless it is already dying (its destructor may run user code that looks
// at it).
class Pin {
public:
    Pin() noexcept = default;
    explicit Pin(const Container* c) noexcept : c_(c) { acquire(); }
    Pin(const Pin& other) noexcept : c_(other.c_) { acquire(); }
    Pin(Pin&& other) noexcept : c_(std::exchange(other.c_, nullptr)), held_(std::exchange(other.held_, false)) {}
    Pin& operator=(Pin other) noexcept {
        std::swap(c_, other.c_);
        std::swap(held_, other.held_);
        return *this;
    }
    ~Pin() { release(); }

private:
    void acquire() noexcept {
        if (!c_) return;
        ++c_->pins_;
        Object* o = const_cast<Container*>(c_);
        if ((gcword(o) & kLive) && refcnt(o) != 0) {
            incref(o, false);
            held_ = true;
        }
    }
    void release() noexcept {
        if (!c_) return;
        --c_->pins_;
        if (held_) decref(const_cast<Container*>(c_));  // last: it may free the container
    }
    const Container* c_ = nullptr;
    bool held_ = false;
};

// A pin taken only when the operation may run user code.
template <bool needed>
struct PinIf {
    explicit PinIf(const Container*) noexcept {}
};
template <>
struct PinIf<true> : Pin {
    explicit PinIf(const Container* c) noexcept : Pin(c) {}
};

// ----- tracing ---------------------------------------------------------------------------------
// Containers whose elements hold references override trace() (and are tracked); the others keep
// Object's (untracked: the collector never sees them, as CPython untracks atomic containers).
template <class Derived, bool traced>
class Traced : public Container {
protected:
    using Container::Container;
};
template <class Derived>
class Traced<Derived, true> : public Container {
public:
    void trace(Visitor& visit) override { static_cast<Derived*>(this)->visit_items(visit); }

protected:
    using Container::Container;
};

// ----- Python's indices and errors -------------------------------------------------------------
[[noreturn]] OURO_NOINLINE inline void index_error(const std::string& what) { throw std::out_of_range(what); }
[[noreturn]] OURO_NOINLINE inline void value_error(const std::string& what) { throw std::invalid_argument(what); }

// Item i of n (i < 0 counts from the end), or IndexError `what`.
inline std::size_t item_index(std::ptrdiff_t i, std::size_t n, const char* what) {
    const std::size_t k = i < 0 ? n + static_cast<std::size_t>(i) : static_cast<std::size_t>(i);
    if (k >= n) index_error(what);
    return k;
}

// Where insert(i, x) goes in a sequence of n: i clamped to [0, n] (i < 0 counts from the end).
inline std::size_t insert_index(std::ptrdiff_t i, std::size_t n) noexcept {
    if (i < 0) {
        const std::size_t back = static_cast<std::size_t>(-(i + 1)) + 1;
        return back >= n ? 0 : n - back;
    }
    return static_cast<std::size_t>(i) > n ? n : static_cast<std::size_t>(i);
}

// A slice index clamped to [0, n] (list.index's start and stop).
inline std::size_t bound_index(std::optional<std::ptrdiff_t> i, std::size_t n, std::size_t fallback) noexcept {
    return i ? insert_index(*i, n) : fallback;
}

// s[start:stop:step] of a sequence of n items (CPython's PySlice_Unpack + PySlice_AdjustIndices):
// the first index, the step and the number of items.
struct SliceRange {
    std::ptrdiff_t start;
    std::ptrdiff_t step;
    std::size_t length;
    std::size_t at(std::size_t k) const noexcept {
        return static_cast<std::size_t>(start + static_cast<std::ptrdiff_t>(k) * step);
    }
};
inline SliceRange slice_range(std::size_t n, std::optional<std::ptrdiff_t> start, std::optional<std::ptrdiff_t> stop,
                              std::ptrdiff_t step) {
    if (step == 0) value_error("slice step cannot be zero");
    if (step == std::numeric_limits<std::ptrdiff_t>::min()) step = -std::numeric_limits<std::ptrdiff_t>::max();
    const auto len = static_cast<std::ptrdiff_t>(n);
    auto adjust = [&](std::optional<std::ptrdiff_t> v, bool is_start) {
        if (!v) return is_start ? (step < 0 ? len - 1 : 0) : (step < 0 ? -1 : len);
        std::ptrdiff_t x = *v;
        if (x < 0) {
            x = x < -len ? (step < 0 ? -1 : 0) : x + len;
        } else if (x >= len) {
            x = step < 0 ? len - 1 : len;
        }
        return x;
    };
    const std::ptrdiff_t a = adjust(start, true), b = adjust(stop, false);
    std::size_t length = 0;
    if (step < 0 ? b < a : a < b)
        length = static_cast<std::size_t>(step < 0 ? (a - b - 1) / -step : (b - a - 1) / step) + 1;
    return {a, step, length};
}

}  // namespace detail
}  // namespace ouro
