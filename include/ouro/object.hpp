// ouro::Object — the base of every managed class — and ouro::Visitor, through which an object
// declares its references (CPython's tp_traverse).
#pragma once

#include <ouro/config.hpp>

#include <cstddef>
#include <cstdint>
#include <ranges>
#include <type_traits>

namespace ouro {

class Object;
class Visitor;
class Heap;
template <class T> class Ref;
template <class T> class WeakRef;

namespace detail {
struct ObjectAccess;
struct WeakRecord;

// The header word of a managed object. The low 10 bits hold flags and the generation; the upper
// 22 bits hold the object's position in the young list (generations 0 and 1, heap.hpp).
inline constexpr std::uint32_t kLive = 1u << 0;          // constructed by make<T>, not yet destroyed
inline constexpr std::uint32_t kTracked = 1u << 1;       // type has references: the collector sees it
inline constexpr std::uint32_t kHasFinalizer = 1u << 2;  // type overrides finalize()
inline constexpr std::uint32_t kFinalized = 1u << 3;     // finalize() has run (PEP 442: at most once)
inline constexpr std::uint32_t kHasWeakrefs = 1u << 4;   // weak references to it exist (weakref.hpp)
inline constexpr std::uint32_t kLarge = 1u << 5;         // lives outside the pools, behind a LargePrefix
inline constexpr std::uint32_t kUnreachable = 1u << 6;   // found unreachable by the running collection
// A reference to the object was dropped (its count fell, not to zero) or moved since a full
// collection last found it reachable: only such objects, the young ones, and what they reach can
// be garbage, so full collections trace nothing else (docs/design.md §5, "Clean objects").
inline constexpr std::uint32_t kDirty = 1u << 7;
inline constexpr std::uint32_t kGenShift = 8;            // two bits: 0 (young: 0 or 1 by list position),
inline constexpr std::uint32_t kGenMask = 3u << kGenShift;  // 2, or 3 (= permanent, after gc::freeze)
inline constexpr std::uint32_t kIndexShift = 10;
inline constexpr std::uint32_t kPermanent = 3;
inline constexpr std::uint32_t kNoIndex = (1u << (32 - kIndexShift)) - 1;  // 4,194,303
inline constexpr std::uint32_t kYoungListLimit = 1u << 21;  // young list positions are below it
// In generation 2 the index bits are free: an object promoted there by a young collection holds
// the number of the full collections' epoch it was promoted in, from kPendingBase up (it counts
// in long_lived_pending while it lives and the epoch is current; see HeapState::pending_index).
inline constexpr std::uint32_t kPendingBase = kYoungListLimit;
inline constexpr std::uint32_t kFlagBits = (1u << kIndexShift) - 1;

// Set by make<T> just before construction and consumed by Object's constructor, so an object
// knows it is managed from its first instruction (a constructor may already take Ref(this)).
inline thread_local std::uint32_t t_pending_gcword = 0;
}  // namespace detail

class Object {
public:
    Object() noexcept : refcnt_(1), gcword_(detail::t_pending_gcword) { detail::t_pending_gcword = 0; }
    // Copying a managed object copies its fields, never its identity or count.
    Object(const Object&) noexcept : Object() {}
    Object& operator=(const Object&) noexcept { return *this; }
    virtual ~Object() = default;

    // Visit every Ref (and WeakRef) member: `visit(next);`, `for (auto& r : items) visit(r);`.
    // Like tp_traverse it must only visit: no allocation, no new references, no side effects.
    // A type that keeps the default holds no references and is never tracked by the collector.
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
// A reference to `o` left its holder without a decrement (a move or a swap), or `o` came back
// from the dead: it may be garbage now even though its count did not fall (see kDirty).
// Every mark also counts in t_marks, so a heap can tell that nothing was marked on this thread
// since a full collection left none of its objects marked (collections then look at nothing).
inline thread_local std::uint64_t t_marks = 0;
OURO_ALWAYS_INLINE void mark_dirty(Object* o) noexcept {
    gcword(o) |= kDirty;
    ++t_marks;
}

// Where a moved reference can land without making garbage (see moved()): this thread's stack
// (recorded when the thread first uses a heap) and the block of the object make<T> is constructing.
struct SafeRanges {
    std::uintptr_t stack = 0;  // lowest address of this thread's stack
    std::size_t stack_size = 0;
    std::uintptr_t constructing = 0;
    std::size_t constructing_size = 0;
};
inline thread_local SafeRanges t_safe_ranges;

// Makes [block, block + size) the object under construction for its lifetime (make<T> nests).
class Constructing {
public:
    Constructing(void* block, std::size_t size) noexcept
        : outer_(t_safe_ranges.constructing), outer_size_(t_safe_ranges.constructing_size) {
        t_safe_ranges.constructing = reinterpret_cast<std::uintptr_t>(block);
        t_safe_ranges.constructing_size = size;
    }
    ~Constructing() {
        t_safe_ranges.constructing = outer_;
        t_safe_ranges.constructing_size = outer_size_;
    }
    Constructing(const Constructing&) = delete;
    Constructing& operator=(const Constructing&) = delete;

private:
    std::uintptr_t outer_;
    std::size_t outer_size_;
};

// The stack pointer, or 0 where we cannot read it (every move then marks).
OURO_ALWAYS_INLINE std::uintptr_t stack_pointer() noexcept {
    std::uintptr_t sp = 0;
#if defined(__x86_64__)
    asm("mov %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
    asm("mov %0, sp" : "=r"(sp));
#endif
    return sp;
}

// A Ref moved to `to`. A move keeps the count but changes the holder, which can make garbage
// without any decrement (`node->self = std::move(node)`), so the referent is marked — unless the
// new holder is a root or as good as one: a Ref on this thread's live stack (a root: nothing held
// from the stack is garbage), or a member of the object make<T> is constructing (new, held by
// make's result: nothing it holds can be garbage before that reference goes, which marks it).
// Anywhere else (an object's member, a container's buffer, a global) the referent is marked.
// "Live stack" is [stack pointer, top of the thread's stack): all of it lies in the stack's
// mapping, whereas the thread's recorded range may have unmapped room below the stack that a later
// mmap (an arena) can take; and on any other stack (signal stack, fiber) nothing is exempt.
OURO_ALWAYS_INLINE void moved(const void* to, Object* o) noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(to);
    const SafeRanges& r = t_safe_ranges;
    if (a - r.constructing < r.constructing_size) return;
    const std::uintptr_t sp = stack_pointer();
    const std::uintptr_t top = r.stack + r.stack_size;
    if (OURO_LIKELY(sp - r.stack < r.stack_size && a - sp < top - sp)) return;
    mark_dirty(o);
}

inline std::uint32_t generation(std::uint32_t w) noexcept { return (w & kGenMask) >> kGenShift; }
// Rewrites an object's generation and its position in that generation's list, keeping its flags.
inline void set_generation(Object* o, std::uint32_t gen, std::uint32_t index = kNoIndex) noexcept {
    std::uint32_t& w = gcword(o);
    w = (w & kFlagBits & ~kGenMask) | gen << kGenShift | index << kIndexShift;
}

template <class T>
inline constexpr bool overrides_trace = !std::is_same_v<decltype(&T::trace), void (Object::*)(Visitor&)>;
template <class T>
inline constexpr bool overrides_finalize = !std::is_same_v<decltype(&T::finalize), void (Object::*)()>;
}  // namespace detail

// The collector's view of an object's edges. Each visited slot is passed as the Object* it holds;
// a collector may set it to null (that is how cycles are broken), so slots are passed by reference.
class Visitor {
public:
    template <class T>
    void operator()(Ref<T>& ref) {
        if (ref.obj_) visit(ref.obj_);
    }
    template <class T>
    void operator()(WeakRef<T>& weak);

    // Any range of visitable elements: `visit(children)` for a std::vector<Ref<Node>>.
    template <std::ranges::range R>
    void operator()(R& range) {
        for (auto& element : range) (*this)(element);
    }

    // Implementations: the collector's phases, gc::get_referents, and user code's own walks.
    virtual void visit(Object*& slot) = 0;
    // A weak reference held by the visiting object (weakref.hpp). The default ignores it.
    virtual void visit_weak(detail::WeakRecord*&) {}

protected:
    Visitor() = default;
    Visitor(const Visitor&) = default;
    Visitor& operator=(const Visitor&) = default;
    ~Visitor() = default;
};

}  // namespace ouro
