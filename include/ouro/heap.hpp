// ouro::Heap — a private heap: its allocator, its collector state and its objects — and
// ouro::make<T>, which allocates a managed object in the current heap.
#pragma once

#include <ouro/detail/block_allocator.hpp>
#include <ouro/detail/young_list.hpp>
#include <ouro/ref.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <typeinfo>
#include <utility>
#include <vector>

namespace ouro {

class Heap;

namespace detail {
struct HeapState;   // the cold part of a heap: collector settings, statistics, lists (src/heap_state.hpp)
struct HeapAccess;  // the library's own door into a Heap's private parts
#if OURO_CHECKS
// Checked builds, after T's constructor: `members` Refs were constructed inside the block (T's
// members). Reports a T that holds some but does not override trace(), and a trace() that
// misses some or visits one twice (heap.cpp).
void check_members(Object* o, std::size_t size, bool tracked, std::size_t members) noexcept;
#endif
Heap& default_heap();
inline thread_local Heap* t_current_heap = nullptr;

// Large objects (over kMaxSmall bytes, or over-aligned) live in the system allocator behind this
// prefix, which says where they belong and how to give them back.
// The allocator of a heap's objects: the owner its pools name, from which an object finds its heap.
class HeapAllocator final : public BlockAllocator {
public:
    explicit HeapAllocator(Heap& h) noexcept : heap(h) {}
    Heap& heap;
};

struct LargePrefix {
    Heap* heap;             // null once the heap is destroyed (an orphan)
    std::uint32_t index;    // position in the heap's list of large objects
    std::uint32_t offset;   // from the start of the allocation to the object
    std::size_t size;       // of the whole allocation
    std::size_t align;
};
template <class T>
inline constexpr std::size_t large_prefix_size = alignof(T) > sizeof(LargePrefix) ? alignof(T) : sizeof(LargePrefix);
template <class T>
inline constexpr bool is_large = sizeof(T) > kMaxSmall || alignof(T) > 16;
}  // namespace detail

class Heap {
public:
    Heap();
    // Runs a final full collection. Objects still referenced from outside then are left alone
    // (never freed, never touched) and reported when gc::DEBUG_UNCOLLECTABLE is set.
    ~Heap();
    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;

    // This thread's current heap: the innermost Scope's, else the thread's default heap.
    static Heap& current() {
        if (Heap* h = detail::t_current_heap) return *h;
        return detail::default_heap();
    }

    // Makes a heap current for this thread until the scope ends. A heap is used by one thread
    // at a time: entering a heap that another thread has entered throws std::logic_error.
    class Scope {
    public:
        explicit Scope(Heap& heap);
        ~Scope();
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

    private:
        Heap& heap_;
        Heap* previous_;
    };

private:
    friend struct detail::HeapAccess;
    template <class T, class... Args>
    friend Ref<T> make(Args&&... args);

    OURO_ALWAYS_INLINE void* allocate_small(unsigned cls, bool tracked) {
        if (!tracked) return alloc_.allocate(cls, detail::kUntrackedPool);
        // CPython's trigger: tracked allocations minus deallocations since the last collection.
        // trigger_ folds "enabled", "threshold0 != 0" and "not collecting" into one compare.
        if (OURO_UNLIKELY(count0_ >= trigger_)) collect_generations();
        void* p = alloc_.allocate(cls, detail::kTrackedPool);
        ++count0_;
        return p;
    }
    void* allocate_large(std::size_t size, std::size_t align, std::size_t prefix, bool tracked);
    void free_unconstructed(void* mem, bool large, bool tracked) noexcept;
    // T's constructor threw; `built`: Object's constructor had run (see make<T>).
    void constructor_threw(void* mem, bool built, bool large, bool tracked, const std::type_info& type) noexcept;

    OURO_ALWAYS_INLINE void track(Object* o) noexcept {
        detail::gcword(o) |= detail::kTracked;
        if (OURO_UNLIKELY(!young_.try_push(o))) track_slow(o);
    }
    void track_slow(Object* o) noexcept;
    void collect_generations();

    detail::HeapAllocator alloc_{*this};
    std::size_t count0_ = 0;
    std::size_t trigger_;
    detail::YoungList young_;  // generations 0 and 1; generation 2 is found by walking pools
    std::unique_ptr<detail::HeapState> state_;
};

// Allocates a T in the current heap and returns the only reference to it.
//
// If T's constructor throws, the exception propagates and the block is given back — unless the
// constructor handed out references to its object (Ref(this)) that are still held: then the block
// stays allocated, as a plain dead Object, until the last of them goes (checked builds report
// it), so no reference ever points into a block that was reused. Weak references taken during the
// construction are cleared, and their callbacks run, as at a death.
template <class T, class... Args>
Ref<T> make(Args&&... args) {
    static_assert(std::is_base_of_v<Object, T>, "ouro::make<T>: T must derive from ouro::Object");
    constexpr bool tracked = detail::overrides_trace<T>;
    constexpr bool large = detail::is_large<T>;
    Heap& heap = Heap::current();
    void* mem = large ? heap.allocate_large(sizeof(T), alignof(T), detail::large_prefix_size<T>, tracked)
                      : heap.allocate_small(detail::size_class(sizeof(T)), tracked);
    if (!mem) __builtin_unreachable();  // allocation throws instead; lets the check below fold
    // The pool walk reads an object's header at the start of its block.
    if (static_cast<void*>(static_cast<Object*>(static_cast<T*>(mem))) != mem) {
        heap.free_unconstructed(mem, large, tracked);
        throw std::logic_error("ouro::make<T>: ouro::Object must be T's first base class");
    }
    detail::Construction here{mem, detail::kLive | (detail::overrides_finalize<T> ? detail::kHasFinalizer : 0) |
                                       (large ? detail::kLarge : 0)};
#if OURO_CHECKS
    here.size = sizeof(T);
#endif
    const detail::Construction outer = std::exchange(detail::t_construction, here);
    T* obj;
    try {
        obj = ::new (mem) T(std::forward<Args>(args)...);
    } catch (...) {
        const bool built = detail::t_construction.word == 0;  // Object() ran: there is an object to tear down
        detail::t_construction = outer;
        heap.constructor_threw(mem, built, large, tracked, typeid(T));
        throw;
    }
#if OURO_CHECKS
    const std::size_t members = detail::t_construction.refs;
#endif
    detail::t_construction = outer;
    if constexpr (tracked) heap.track(obj);
    Ref<T> result(detail::Adopt{}, obj);
#if OURO_CHECKS
    detail::check_members(obj, sizeof(T), tracked, members);
#endif
    return result;
}

}  // namespace ouro
