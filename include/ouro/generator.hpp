// ouro::Generator<T, Send, Return> — Python's generators as C++20 coroutines: a function that
// `co_yield`s values one at a time, consumed by range-for, std::ranges algorithms and views, or a
// container's extend(); with Python's send(), throw() (throw_), close(), `yield from`
// (co_yield ouro::yield_from(sub)) and StopIteration's value (co_return v; gen.value()).
//
//   ouro::Generator<long> count_up_to(long n) {
//       for (long i = 0; i < n; ++i) co_yield i;
//   }
//   for (long number : count_up_to(1'000'000)) use(number);  // one number in memory at a time
//
// The coroutine frame (its locals and where it stopped) is one block of the current heap's pools,
// given back when the generator is destroyed; sys::getsizeof(gen) reports it. An exception the
// body throws reaches the consumer where it resumed the generator (begin(), ++, next, send), as
// from Python's next(); the generator is then finished. Destroying an unfinished generator closes
// it as Python's close() does: GeneratorExit is thrown at the co_yield where it stopped, so that
// the destructors of the locals in scope run and `catch` blocks see it.
//
// The collector sees into a frame as CPython's gc traverses a generator's: a managed object that
// holds a Generator visits it in its trace() (OURO_TRACE(gen)), which visits the Refs of the
// frame's by-value parameters and of the locals the body registers with
// `auto scope = co_await ouro::trace_locals(a, b);`. Everything else in the frame is a root.
// docs/api.md lists what differs from Python's.
#pragma once

#include <ouro/exceptions.hpp>
#include <ouro/visitor.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>

namespace ouro {

template <class T, class Send = void, class Return = void>
class Generator;

namespace sys {
template <class T, class S, class R>
std::size_t getsizeof(const Generator<T, S, R>& gen);
}

namespace detail {
// A generator's frame: a block of the current heap's pools when it fits one (512 bytes), else
// operator new, behind a 16-byte prefix that records its size (src/generator.cpp).
void* allocate_frame(std::size_t size);
void deallocate_frame(void* frame, std::size_t size) noexcept;
// The bytes of the block holding the frame a coroutine handle's address() names.
std::size_t frame_bytes(const void* address);
// Whether `p` lies inside the frame a coroutine handle's address() names (false when the frame is
// not where its operator new put it: nothing is then registered, and all of it stays a root).
bool frame_holds(const void* address, const void* p) noexcept;
// Misuse: throws std::logic_error("ouro::Generator: " + what).
[[noreturn]] void generator_misuse(const char* what);
// A generator destroyed by its own body: prints the message and aborts (a destructor cannot throw).
[[noreturn]] void generator_destroyed_while_running() noexcept;
// Rethrows `pending`, leaving it null (out of line: the frame's resumption stays small).
[[noreturn]] void rethrow_pending(std::exception_ptr& pending);
// GeneratorExit, made for close(); null without memory for it.
std::exception_ptr make_generator_exit() noexcept;
bool is_generator_exit(const std::exception_ptr& e) noexcept;
// What unhandled_exception() keeps: the current exception, or PEP 479's RuntimeError for a
// StopIteration that escaped the body.
std::exception_ptr body_exception() noexcept;
// close()'s RuntimeError for a body that yielded after GeneratorExit.
[[noreturn]] void generator_ignored_exit();
// ~Generator's close() failed: to the unraisable hook.
void report_close_failure() noexcept;
struct FrameTraced;
// Frees the FrameParams block, the last node of a frame's traced list.
void free_params(FrameTraced* traced) noexcept;

// Storage in a frame that the generator's trace() visits: its parameters, a trace_locals scope.
struct FrameTraced {
    FrameTraced* next = nullptr;
    void (*visit)(Visitor&, FrameTraced&) = nullptr;
};

// A parameter the frame may own: by value (a reference's object is not in the frame, which the
// address check tells) and not const (the collector clears what it visits).
template <class X>
inline constexpr bool traced_param = holds_refs<X> && !std::is_const_v<X>;

template <class... Args>
inline constexpr std::size_t traced_param_count = (std::size_t{traced_param<Args>} + ... + 0);

inline void unlink_traced(FrameTraced*& head, FrameTraced* node) noexcept {
    for (FrameTraced** at = &head; *at; at = &(*at)->next)
        if (*at == node) {
            *at = node->next;
            return;
        }
}

// The frame's copies of the parameters that hold Refs (a null slot: not in the frame); a block
// of its own (allocate_frame), so that generators without such parameters pay nothing.
template <class... Args>
struct FrameParams final : FrameTraced {
    void* slots[traced_param_count<Args...>];

    static void visit_all(Visitor& v, FrameTraced& self) {
        void* const* slot = static_cast<FrameParams&>(self).slots;
        (
            [&] {
                if constexpr (traced_param<Args>) {
                    if (void* p = *slot++) v(*static_cast<Args*>(p));
                }
            }(),
            ...);
    }
};

template <class T, class Send>
struct PromiseCore;

// A yield_from in progress: the sub-generator a frame delegates to (lives in the awaiter, in the
// delegating frame), and the way back up that the driver follows when the sub-generator finishes.
template <class T, class Send>
struct Delegation {
    PromiseCore<T, Send>* core;
    std::coroutine_handle<> handle;
    PromiseCore<T, Send>* parent;
    std::coroutine_handle<> parent_handle;
    Delegation* up = nullptr;         // the delegation that reached the parent (null: the chain's start)
    Delegation* innermost = nullptr;  // in the start's own delegation: the chain's deepest one
};

template <class Send>
struct SentSlot {
    std::optional<Send> sent;  // what send() passed, for the co_yield that resumes
};
template <>
struct SentSlot<void> {};

// What every Generator<T, Send, *> promise holds, so that a chain of yield_from delegations of
// different return types is walked as one.
template <class T, class Send>
struct PromiseCore : SentSlot<Send> {
    T* value = nullptr;        // the object the last co_yield named, alive while suspended there
    std::exception_ptr error;  // to raise at the co_yield on resume (throw_, close); then what the body threw
    FrameTraced* traced = nullptr;
    Delegation<T, Send>* delegate = nullptr;  // the sub-generator of the yield_from it stopped at
    // kRunning: resumed and not yet suspended again (Python's gi_running), or delegated to by a
    // yield_from; kDelegating: `delegate` is set. One byte, tested once before a resumption.
    enum : std::uint8_t { kRunning = 1, kDelegating = 2 };
    std::uint8_t busy = 0;
    bool started = false;
    bool taken = false;        // the current value was read: begin() moves on to the next
    bool owns_params = false;  // traced's last node is the FrameParams block
    bool gc_closed = false;    // finalized: closed once (by the collector or ~Generator), or forgone
    bool gc_pinned = false;    // the collector holds the frame (GeneratorOps::pin)
    bool gc_orphaned = false;  // its Generator went while pinned: release() destroys it

    bool running() const noexcept { return busy & kRunning; }
    void set_running(bool on) noexcept { busy = static_cast<std::uint8_t>(on ? busy | kRunning : busy & ~kRunning); }
    void delegate_to(Delegation<T, Send>* d) noexcept {
        delegate = d;
        busy = static_cast<std::uint8_t>(d ? busy | kDelegating : busy & ~kDelegating);
    }

    // Resumes the frame, or the innermost sub-generator it delegates to, until a value is yielded
    // or the frame finishes. Whatever `error` holds is raised in the innermost. Refused while it
    // runs (Python's "generator already executing").
    static void drive(PromiseCore& start, std::coroutine_handle<> h) {
        if (start.busy == 0) [[likely]] {
            start.started = true;
            start.taken = false;
            start.busy = kRunning;
            h.resume();
            if (start.busy == kRunning) [[likely]] {
                start.busy = 0;
                return;
            }
            start.set_running(false);  // it reached a yield_from
        } else if (start.running()) {
            generator_misuse("already executing (it resumed itself)");
        }
        drive_chain(start);
    }

    // A chain of delegations, walked with a loop: a deep recursion of yield_from (a tree walk)
    // resumes each frame from here, never one from another, and starts at the deepest delegation
    // it recorded. A sub-generator is marked running while delegated to, so that nobody else
    // resumes it and the chain changes only here.
    static void drive_chain(PromiseCore& start) {
        start.started = true;
        start.taken = false;
        start.set_running(true);
        Delegation<T, Send>* via = start.delegate->innermost;
        PromiseCore* p = via->core;
        std::coroutine_handle<> h = via->handle;
        p->error = std::exchange(start.error, nullptr);  // throw_/close reach the innermost
        if constexpr (!std::is_void_v<Send>) p->sent = std::exchange(start.sent, std::nullopt);
        for (;;) {
            if (!h.done()) {
                p->started = true;
                h.resume();
            }
            if (Delegation<T, Send>* d = p->delegate) {  // it reached a yield_from: step its sub-generator
                d->up = via;
                via = d;
                start.delegate->innermost = d;
                p = d->core;
                h = d->handle;
                continue;
            }
            if (!h.done()) {
                start.value = p->value;
                break;
            }
            if (p == &start) break;
            // p finished: its parent resumes at its yield_from, which re-raises what p threw.
            p->set_running(false);
            PromiseCore* parent = via->parent;
            h = via->parent_handle;
            via = via->up;
            if (via) start.delegate->innermost = via;
            parent->delegate_to(nullptr);
            parent->error = std::exchange(p->error, nullptr);
            p = parent;
        }
        start.set_running(false);
    }

    // The registered storage of the frame and of the sub-generators it delegates to; while the
    // chain runs, all of it is a stack's: roots.
    void trace(Visitor& v) {
        if (running()) return;
        for (PromiseCore* q = this; q; q = q->delegate ? q->delegate->core : nullptr)
            for (FrameTraced* n = q->traced; n; n = n->next) n->visit(v, *n);
    }

    // Raised at the co_yield that resumes: throw_(), close(), or a sub-generator's exception.
    void raise_pending() {
        if (error) [[unlikely]]
            rethrow_pending(error);
    }
    auto resume_value() {
        raise_pending();
        if constexpr (!std::is_void_v<Send>) return std::exchange(this->sent, std::nullopt);
    }
};

template <class R>
struct ReturnSlot {
    std::optional<R> returned;  // co_return's value: StopIteration.value
    template <class U = R>
    void return_value(U&& v) {
        returned.emplace(std::forward<U>(v));
    }
};
template <>
struct ReturnSlot<void> {
    void return_void() noexcept {}
};

template <class G>
struct YieldFrom {
    G gen;
};

template <class... Xs>
struct TraceLocals {
    std::tuple<Xs&...> locals;
};
}  // namespace detail

// `co_yield ouro::yield_from(sub)`: Python's `yield from sub` — sub's values, send(), throw_() and
// close() pass through until it finishes; the co_yield's result is sub's return value.
template <class T, class S, class R>
detail::YieldFrom<Generator<T, S, R>> yield_from(Generator<T, S, R>&& sub) noexcept {
    return {std::move(sub)};
}

// `auto scope = co_await ouro::trace_locals(a, b);` in a generator's body: until `scope` goes out
// of scope, the Refs held by the locals a and b (and anything visit() accepts) are visited by the
// generator's trace(), so a cycle through them is collected. Locals only: storage outside the
// frame (a reference's object, a container's element) is not registered and stays a root.
template <class... Xs>
    requires(sizeof...(Xs) > 0)
detail::TraceLocals<Xs...> trace_locals(Xs&... locals) noexcept {
    static_assert((holds_refs<Xs> && ...), "ouro::trace_locals: an argument can hold no Ref or WeakRef");
    static_assert((!std::is_const_v<Xs> && ...),
                  "ouro::trace_locals: a const local cannot be registered (the collector clears what it visits)");
    return {{locals...}};
}

namespace detail {
// What `co_await trace_locals(...)` evaluates to: registered while it lives; neither copied nor
// moved, so that it cannot outlive the locals declared before it.
template <class... Xs>
class [[nodiscard("keep the scope in a variable: the locals are registered while it lives")]] LocalsScope final
    : FrameTraced {
public:
    // Registers the locals if all of them lie in the frame; else none (they stay roots).
    LocalsScope(FrameTraced*& head, const void* frame, std::tuple<Xs&...> locals) {
        const bool inside = std::apply(
            [&](Xs&... xs) { return (frame_holds(frame, std::addressof(xs)) && ...); }, locals);
        if (!inside) return;
        items_ = std::apply([](Xs&... xs) { return std::tuple<Xs*...>(std::addressof(xs)...); }, locals);
        visit = &visit_all;
        next = head;
        head = this;
        head_ = &head;
    }
    LocalsScope(const LocalsScope&) = delete;
    LocalsScope& operator=(const LocalsScope&) = delete;
    ~LocalsScope() {
        if (head_) unlink_traced(*head_, this);
    }

private:
    static void visit_all(Visitor& v, FrameTraced& self) {
        std::apply([&](Xs*... xs) { v(*xs...); }, static_cast<LocalsScope&>(self).items_);
    }
    FrameTraced** head_ = nullptr;
    std::tuple<Xs*...> items_{};
};
}  // namespace detail

template <class T, class Send, class Return>
class Generator : public std::ranges::view_base {
    static_assert(std::is_object_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                  "ouro::Generator<T>: T must be a non-const object type (yield values, not references)");
    static_assert(std::is_void_v<Send> || std::is_object_v<Send>, "ouro::Generator: Send must be void or an object type");
    static_assert(std::is_void_v<Return> || std::is_object_v<Return>,
                  "ouro::Generator: Return must be void or an object type");
    using Core = detail::PromiseCore<T, Send>;
    template <class, class, class>
    friend class Generator;

public:
    struct promise_type;
    using handle_type = std::coroutine_handle<promise_type>;
    // What `co_yield v` evaluates to in the body: void, or what send() passed (nullopt when
    // resumed by iteration or next(), Python's None).
    using sent_type = std::conditional_t<std::is_void_v<Send>, void, std::optional<Send>>;

    struct promise_type : Core, detail::ReturnSlot<Return> {
        promise_type() noexcept = default;
        // The coroutine's parameters (C++20 passes the promise lvalues of the frame's copies):
        // those that hold Refs are registered for trace().
        template <class... Args>
        explicit promise_type(Args&... args) {
            if constexpr (detail::traced_param_count<Args...> > 0) register_params(args...);
        }
        ~promise_type() {
            if (this->owns_params) [[unlikely]]
                detail::free_params(this->traced);
        }
        promise_type(const promise_type&) = delete;
        promise_type& operator=(const promise_type&) = delete;

        static void* operator new(std::size_t size) { return detail::allocate_frame(size); }
        static void operator delete(void* frame, std::size_t size) noexcept { detail::deallocate_frame(frame, size); }

        Generator get_return_object() noexcept { return Generator(handle_type::from_promise(*this)); }
        // The body starts at the first resumption (throw_() before it never runs it).
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        void unhandled_exception() noexcept { this->error = detail::body_exception(); }

        // A yielded lvalue or temporary lives in the frame until the generator resumes: no copy.
        // (GCC copies an awaiter returned by reference: it holds the promise's address instead.)
        struct YieldAwaiter {
            Core* promise;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<>) const noexcept {}
            sent_type await_resume() const { return promise->resume_value(); }
        };
        YieldAwaiter yield_value(T& v) noexcept {
            this->value = std::addressof(v);
            return {this};
        }
        YieldAwaiter yield_value(T&& v) noexcept {
            this->value = std::addressof(v);
            return {this};
        }
        // A const lvalue is copied into the awaiter, which also lives in the frame until resumed.
        struct CopyAwaiter {
            T copy;
            Core* promise;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<>) noexcept { promise->value = std::addressof(copy); }
            sent_type await_resume() const { return promise->resume_value(); }
        };
        CopyAwaiter yield_value(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>)
            requires std::copy_constructible<T>
        {
            return CopyAwaiter{v, this};
        }

        // yield_from: the driver (PromiseCore::drive) steps the sub-generator once this frame
        // has suspended; its result (or exception) is the co_yield's once it finishes.
        template <class R2>
        struct FromAwaiter {
            Generator<T, Send, R2> sub;
            Core* promise;
            detail::Delegation<T, Send> link{};
            FromAwaiter(Generator<T, Send, R2>&& g, Core* p) noexcept : sub(std::move(g)), promise(p) {}
            FromAwaiter(const FromAwaiter&) = delete;
            FromAwaiter& operator=(const FromAwaiter&) = delete;
            // Destroyed mid-delegation (its frame closed or destroyed): sub is an ordinary generator again.
            ~FromAwaiter() {
                if (sub.h_) sub.h_.promise().set_running(false);
            }
            bool await_ready() const noexcept { return sub.done(); }
            void await_suspend(std::coroutine_handle<> self) noexcept {
                link = {&sub.h_.promise(), sub.h_, promise, self, nullptr, &link};
                sub.h_.promise().set_running(true);
                promise->delegate_to(&link);
            }
            R2 await_resume() {
                promise->raise_pending();
                if constexpr (!std::is_void_v<R2>) return std::move(sub.value());
            }
        };
        template <class R2>
        FromAwaiter<R2> yield_value(detail::YieldFrom<Generator<T, Send, R2>>&& from) noexcept {
            return {std::move(from.gen), this};
        }

        template <class... Xs>
        struct LocalsAwaiter {
            promise_type* promise;
            std::tuple<Xs&...> locals;
            bool await_ready() const noexcept { return true; }
            void await_suspend(std::coroutine_handle<>) const noexcept {}
            detail::LocalsScope<Xs...> await_resume() const {
                return {promise->traced, handle_type::from_promise(*promise).address(), locals};
            }
        };
        template <class... Xs>
        LocalsAwaiter<Xs...> await_transform(detail::TraceLocals<Xs...> t) noexcept {
            return {this, t.locals};
        }
        // A Python generator cannot await; neither can this one (trace_locals aside).
        template <class U>
        std::suspend_never await_transform(U&&) = delete;

    private:
        template <class... Args>
        void register_params(Args&... args) {
            using Params = detail::FrameParams<Args...>;
            auto* node = ::new (detail::allocate_frame(sizeof(Params))) Params{};
            node->visit = &Params::visit_all;
            const void* frame = handle_type::from_promise(*this).address();
            void** slot = node->slots;
            (
                [&] {
                    if constexpr (detail::traced_param<Args>) {
                        const void* p = std::addressof(args);
                        *slot++ = detail::frame_holds(frame, p) ? const_cast<void*>(p) : nullptr;
                    }
                }(),
                ...);
            node->next = this->traced;
            this->traced = node;
            this->owns_params = true;
        }
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
            finalize();
            h_ = std::exchange(other.h_, nullptr);
        }
        return *this;
    }
    // Python's generator finalizer: an unfinished generator is closed (GeneratorExit at its
    // co_yield); what close() raises goes to the unraisable hook.
    ~Generator() { finalize(); }

    // Starts the generator, or moves on past a value already read (a second loop continues after
    // the value a first loop broke at, as in Python). Rethrows what the body threw.
    iterator begin() {
        if (h_ && h_.promise().running()) detail::generator_misuse("already executing (it resumed itself)");
        if (h_ && !h_.done() && (!h_.promise().started || h_.promise().taken)) resume(h_);
        return iterator(h_);
    }
    std::default_sentinel_t end() const noexcept { return {}; }

    // Python's next(gen) (also ouro::next(gen)): the next value, or a value begin() reached and
    // nothing read yet. Throws StopIteration once the generator has finished.
    T& next() {
        if (!h_ || h_.done()) throw StopIteration();
        promise_type& p = h_.promise();
        if (!p.started || p.taken) resume(h_);
        return take();
    }
    // Python's gen.send(value): resumes the generator, its co_yield evaluating to `value`; returns
    // the next value, or throws StopIteration once it finishes. A generator that has not started
    // cannot be sent a value (start it with next(), Python's send(None)).
    template <class U = Send>
        requires(!std::is_void_v<Send> && std::is_constructible_v<Send, U &&>)
    T& send(U&& v) {
        if (!h_ || h_.done()) throw StopIteration();
        promise_type& p = h_.promise();
        if (!p.started) detail::generator_misuse("can't send a value to a just-started generator (call next() first)");
        if (p.running()) detail::generator_misuse("already executing (it resumed itself)");
        p.sent.emplace(std::forward<U>(v));
        resume(h_);
        return take();
    }
    // Python's gen.throw(exc): raises `error` at the co_yield where the generator stopped (or
    // before its first statement, if it never started). Returns the next value if the body
    // handled it and yielded; rethrows what the body did not handle; StopIteration if it returned.
    T& throw_(std::exception_ptr error) {
        if (!error) detail::generator_misuse("throw_() of a null exception_ptr");
        if (!h_ || h_.done()) std::rethrow_exception(error);
        if (h_.promise().running()) detail::generator_misuse("already executing (it resumed itself)");
        if (!h_.promise().started) {  // raised before the first statement: nothing can catch it
            destroy();
            std::rethrow_exception(error);
        }
        h_.promise().error = std::move(error);
        resume(h_);
        return take();
    }
    template <class E>
        requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
    T& throw_(E&& error) {
        return throw_(std::make_exception_ptr(std::forward<E>(error)));
    }

    // Python's close(): raises GeneratorExit at the co_yield where the generator stopped, so that
    // its locals' destructors run and its `catch` blocks see it, then destroys the frame (a
    // generator that never started is destroyed without running). Rethrows an exception the body
    // raised instead; throws std::runtime_error("generator ignored GeneratorExit") if the body
    // yielded again (the frame is destroyed all the same). Does nothing to a generator that
    // finished or was closed. Refused while it runs.
    void close() {
        if (!h_) return;
        promise_type& p = h_.promise();
        if (p.running()) detail::generator_misuse("close() called while it is running");
        struct Destroy {
            Generator* gen;
            ~Destroy() { gen->destroy(); }
        } destroy_after{this};
        if (p.started && !h_.done()) unwind(h_);
    }
    // Whether the body has returned, thrown or been closed (not Python's: gi_frame is None).
    bool done() const noexcept { return !h_ || h_.done(); }

    // StopIteration.value: what the body's `co_return v` returned (a Generator whose Return is
    // not void). Throws std::logic_error if it has not returned (unfinished, raised or closed).
    template <class R = Return>
        requires(!std::is_void_v<R>)
    R& value() {
        if (!h_ || !h_.done() || !h_.promise().returned) detail::generator_misuse("value(): the generator has not returned a value");
        return *h_.promise().returned;
    }

    // For an object's trace(): visits the Refs of the frame's parameters and registered locals
    // (and those of the sub-generator it delegates to), unless the generator is running.
    void trace(Visitor& v) {
        if (!h_) return;
        promise_type& p = h_.promise();
        if (p.started && !h_.done() && !p.running()) v.visit_generator(this, h_.address(), p.gc_closed, kGcOps);
        p.trace(v);
    }

private:
    // close() of a started, suspended generator, but for the frame's destruction: GeneratorExit
    // at its co_yield; throws what close() throws. Only the frame is used once the body ran: the
    // body may have moved or destroyed the Generator object that started this.
    static void unwind(handle_type h) {
        promise_type& p = h.promise();
        std::exception_ptr exit = detail::make_generator_exit();
        if (!exit) return;  // no memory for GeneratorExit: the frame is destroyed without it
        p.error = std::move(exit);
        Core::drive(p, h);
        const bool ignored = !h.done();
        std::exception_ptr raised = std::exchange(p.error, nullptr);
        if (ignored) detail::generator_ignored_exit();
        if (raised && !detail::is_generator_exit(raised)) std::rethrow_exception(raised);
    }
    // The collector's finalizer of a garbage generator (Visitor::visit_generator), once, as
    // Python's: its body is closed while what it uses is intact, and never resumed again (a body
    // that ignored GeneratorExit is destroyed without running when its Generator goes). The frame
    // stays until then (its parameters, which the holder may point into, with it); what close()
    // raises goes to the unraisable hook. The frame is pinned meanwhile: cleanup code may destroy
    // or move Generators, but not a frame the collector will still close.
    static bool gc_pin(void* frame) noexcept {
        promise_type& p = handle_type::from_address(frame).promise();
        if (p.gc_pinned || p.gc_closed) return false;
        p.gc_pinned = true;
        return true;
    }
    static void gc_close(void* frame) noexcept {
        const handle_type h = handle_type::from_address(frame);
        promise_type& p = h.promise();
        if (p.gc_closed || h.done() || p.running()) return;
        p.gc_closed = true;
        try {
            unwind(h);
        } catch (...) {
            detail::report_close_failure();
        }
    }
    static void gc_forgo(void* frame) noexcept { handle_type::from_address(frame).promise().gc_closed = true; }
    static void gc_destroy(void* gen) noexcept { static_cast<Generator*>(gen)->destroy(); }
    static void gc_release(void* frame) noexcept {
        const handle_type h = handle_type::from_address(frame);
        h.promise().gc_pinned = false;
        if (h.promise().gc_orphaned) h.destroy();
    }
    static constexpr detail::GeneratorOps kGcOps{&gc_pin, &gc_close, &gc_forgo, &gc_release, &gc_destroy};
    template <class T2, class S2, class R2>
    friend std::size_t sys::getsizeof(const Generator<T2, S2, R2>& gen);
    explicit Generator(handle_type h) noexcept : h_(h) {}

    static void resume(handle_type h) {
        if (!h || h.done()) detail::generator_misuse("an iterator at the end was incremented");
        promise_type& p = h.promise();
        Core::drive(p, h);
        p.raise_pending();
    }
    T& take() {
        if (h_.done()) throw StopIteration();
        h_.promise().taken = true;
        return *h_.promise().value;
    }
    void destroy() noexcept {
        if (!h_) return;
        if (h_.promise().running()) detail::generator_destroyed_while_running();
        const handle_type h = std::exchange(h_, nullptr);
        if (h.promise().gc_pinned) {  // the collector will close it yet: it destroys the frame then
            h.promise().gc_orphaned = true;
            return;
        }
        h.destroy();
    }
    void finalize() noexcept {
        if (!h_) return;
        if (h_.promise().started && !h_.done() && !h_.promise().running() && !h_.promise().gc_closed) [[unlikely]] {
            h_.promise().gc_closed = true;  // its one finalizer (a pinned frame is not closed again)
            try {
                close();
            } catch (...) {
                detail::report_close_failure();
            }
        }
        destroy();
    }

    handle_type h_;
};

// Python's next(gen).
template <class T, class S, class R>
T& next(Generator<T, S, R>& gen) {
    return gen.next();
}

namespace sys {
// The bytes of the generator's frame: its block in the heap's pools (prefix included), or its
// allocation when larger than a block; a finished generator keeps its frame until it is destroyed
// or closed. 0 once closed, moved from, or default-constructed.
template <class T, class S, class R>
std::size_t getsizeof(const Generator<T, S, R>& gen) {
    return gen.h_ ? detail::frame_bytes(gen.h_.address()) : 0;
}
}  // namespace sys

}  // namespace ouro
