// ouro::Generator<T> — Python's generators as C++20 coroutines: a function that `co_yield`s values
// one at a time, consumed by range-for, std::ranges algorithms and views, or a container's extend().
//
//   ouro::Generator<long> count_up_to(long n) {
//       for (long i = 0; i < n; ++i) co_yield i;
//   }
//   for (long number : count_up_to(1'000'000)) use(number);  // one number in memory at a time
//
// The coroutine frame (its locals and where it stopped) is one block of the current heap's pools,
// given back when the generator is destroyed; sys::getsizeof(gen) reports it. An exception the
// body throws reaches the consumer where it resumed the generator (begin() or ++), as from
// Python's next(); the generator is then finished. Destroying an unfinished generator destroys its
// frame: the destructors of the locals in scope at the co_yield it stopped at run, as Python's
// close() runs `finally` blocks and `with` exits. docs/api.md lists what differs from Python's.
#pragma once

#include <ouro/visitor.hpp>

#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>

namespace ouro {

template <class T>
class Generator;

namespace sys {
template <class T>
std::size_t getsizeof(const Generator<T>& gen);
}

namespace detail {
// A generator's frame: a block of the current heap's pools when it fits one (512 bytes), else
// operator new, behind a 16-byte prefix that records its size (src/generator.cpp).
void* allocate_frame(std::size_t size);
void deallocate_frame(void* frame, std::size_t size) noexcept;
// The bytes of the block holding the frame a coroutine handle's address() names.
std::size_t frame_bytes(const void* address);
// Misuse: throws std::logic_error("ouro::Generator: " + what).
[[noreturn]] void generator_misuse(const char* what);
// A generator destroyed by its own body: prints the message and aborts (a destructor cannot throw).
[[noreturn]] void generator_destroyed_while_running() noexcept;

// The collector cannot see into a coroutine frame: visiting a Generator would iterate it, so a
// Generator holds nothing visit() can reach (a trace() that names one does not compile).
template <class T>
struct HoldsRefs<Generator<T>> : std::false_type {};
}  // namespace detail

template <class T>
class Generator : public std::ranges::view_base {
    static_assert(std::is_object_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                  "ouro::Generator<T>: T must be a non-const object type (yield values, not references)");

public:
    struct promise_type;
    using handle_type = std::coroutine_handle<promise_type>;

    struct promise_type {
        T* value = nullptr;        // the object the last co_yield named, alive while suspended there
        std::exception_ptr error;  // thrown by the body, rethrown to the consumer
        bool started = false;
        bool running = false;      // resumed and not yet suspended again: Python's gi_running
        bool taken = false;        // the current value was read: begin() moves on to the next

        static void* operator new(std::size_t size) { return detail::allocate_frame(size); }
        static void operator delete(void* frame, std::size_t size) noexcept { detail::deallocate_frame(frame, size); }

        Generator get_return_object() noexcept { return Generator(handle_type::from_promise(*this)); }
        std::suspend_always initial_suspend() noexcept { return {}; }  // the body starts at the first begin()
        std::suspend_always final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { error = std::current_exception(); }

        // A yielded lvalue or temporary lives in the frame until the generator resumes: no copy.
        std::suspend_always yield_value(T& v) noexcept {
            value = std::addressof(v);
            return {};
        }
        std::suspend_always yield_value(T&& v) noexcept {
            value = std::addressof(v);
            return {};
        }
        // A const lvalue is copied into the awaiter, which also lives in the frame until resumed.
        struct CopyAwaiter {
            T copy;
            promise_type* promise;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<>) noexcept { promise->value = std::addressof(copy); }
            void await_resume() const noexcept {}
        };
        CopyAwaiter yield_value(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>)
            requires std::copy_constructible<T>
        {
            return CopyAwaiter{v, this};
        }

        // A Python generator cannot await; neither can this one.
        template <class U>
        std::suspend_never await_transform(U&&) = delete;
    };

    class iterator {
    public:
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        using iterator_concept = std::input_iterator_tag;

        iterator() = default;

        // The yielded object itself (a yielded local may be changed or moved from by the consumer).
        T& operator*() const {
            if (!h_ || h_.done()) detail::generator_misuse("an iterator at the end was dereferenced");
            h_.promise().taken = true;
            return *h_.promise().value;
        }
        iterator& operator++() {
            resume(h_);
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.h_ || it.h_.done(); }

    private:
        friend class Generator;
        explicit iterator(handle_type h) noexcept : h_(h) {}
        handle_type h_;
    };

    Generator() noexcept = default;
    Generator(Generator&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
    Generator& operator=(Generator&& other) noexcept {
        if (this != &other) {
            destroy();
            h_ = std::exchange(other.h_, nullptr);
        }
        return *this;
    }
    ~Generator() { destroy(); }

    // Starts the generator, or moves on past a value already read (a second loop continues after
    // the value a first loop broke at, as in Python). Rethrows what the body threw.
    iterator begin() {
        if (h_ && h_.promise().running) detail::generator_misuse("already executing (it resumed itself)");
        if (h_ && !h_.done() && (!h_.promise().started || h_.promise().taken)) resume(h_);
        return iterator(h_);
    }
    std::default_sentinel_t end() const noexcept { return {}; }

    // Python's close(): destroys the frame now (its locals' destructors run); the generator is then
    // empty. Does nothing to a generator that finished or was closed. Refused while it runs.
    void close() {
        if (h_ && h_.promise().running) detail::generator_misuse("close() called while it is running");
        destroy();
    }
    // Whether the body has returned, thrown or been closed (not Python's: gi_frame is None).
    bool done() const noexcept { return !h_ || h_.done(); }

private:
    friend std::size_t sys::getsizeof<T>(const Generator& gen);
    explicit Generator(handle_type h) noexcept : h_(h) {}

    static void resume(handle_type h) {
        if (!h || h.done()) detail::generator_misuse("an iterator at the end was incremented");
        promise_type& p = h.promise();
        if (p.running) detail::generator_misuse("already executing (it resumed itself)");
        p.started = p.running = true;
        p.taken = false;
        h.resume();
        p.running = false;
        if (p.error) std::rethrow_exception(std::exchange(p.error, nullptr));
    }
    void destroy() noexcept {
        if (!h_) return;
        if (h_.promise().running) detail::generator_destroyed_while_running();
        std::exchange(h_, nullptr).destroy();
    }

    handle_type h_;
};

namespace sys {
// The bytes of the generator's frame: its block in the heap's pools (prefix included), or its
// allocation when larger than a block; a finished generator keeps its frame until it is destroyed
// or closed. 0 once closed, moved from, or default-constructed.
template <class T>
std::size_t getsizeof(const Generator<T>& gen) {
    return gen.h_ ? detail::frame_bytes(gen.h_.address()) : 0;
}
}  // namespace sys

}  // namespace ouro
