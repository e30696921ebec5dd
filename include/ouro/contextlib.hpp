// Deterministic release, as Python's contextlib and io.IOBase give it:
//
//   ouro::closing(x)   contextlib.closing: x's close() runs when the scope ends, exception or not
//   ouro::ExitStack    contextlib.ExitStack: callbacks and context objects, released last-in first-out
//   ouro::Resource     a managed object with close() (io.IOBase's protocol): closed at most once; one
//                      that dies still open is closed by its finalizer and reported, as CPython
//                      reports an unclosed file with a ResourceWarning
//
//   struct File : ouro::Resource { ... void do_close() override { fclose(f); } };
//   {
//       auto f = ouro::closing(ouro::make<File>("file.txt"));  // with closing(open(...)) as f:
//       data = f->read();
//   }                                                          // f->close() has run
//
// An exception from a close() or a callback propagates when the scope ends normally; when it ends
// by an exception, that one propagates and the close()'s goes to the unraisable hook (C++ cannot
// throw a second exception out of a destructor; docs/api.md says how this differs from Python).
#pragma once

#include <ouro/object.hpp>
#include <ouro/unraisable.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace ouro {

// Python's ResourceWarning: what the unraisable hook receives for a Resource that died unclosed.
class ResourceWarning : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A managed object that holds something to release. Subclasses implement do_close(); close() runs
// it once. If the object dies while still open (by its count or in a collection), its finalizer
// reports a ResourceWarning ("unclosed <File at 0x...>") through the unraisable hook and closes it;
// an exception from that close() is reported there too. A subclass that overrides finalize() must
// call Resource::finalize() from it.
class Resource : public Object {
public:
    // Python's close(): the first call runs do_close() (the resource counts as closed even if it
    // throws, as IOBase's does); later calls do nothing.
    void close();
    bool closed() const noexcept { return closed_; }

    void finalize() override;

protected:
    virtual void do_close() = 0;

private:
    bool closed_ = false;
};

namespace detail {
// Calls x.close(), or x->close() when x is a pointer or a handle such as Ref<T>.
template <class X>
void close_thing(X& x) {
    if constexpr (requires { x->close(); }) x->close();
    else x.close();
}
}  // namespace detail

// contextlib.closing: owns `thing` (a Ref<T>, a pointer, or an object with close()) and calls its
// close() when destroyed. get(), * and -> give the thing (Python's `as f`).
template <class X>
class Closing {
public:
    explicit Closing(X thing) : thing_(std::move(thing)) {
        if constexpr (requires { thing_ == nullptr; })
            if (thing_ == nullptr) throw std::invalid_argument("ouro::closing: the resource is null");
    }
    Closing(Closing&& other) noexcept(std::is_nothrow_move_constructible_v<X>)
        : thing_(std::move(other.thing_)), entered_(other.entered_), active_(std::exchange(other.active_, false)) {}
    Closing& operator=(Closing&&) = delete;
    // An exception from close() propagates, unless the scope is being left by another one: then
    // it goes to the unraisable hook.
    ~Closing() noexcept(false) {
        if (!active_) return;
        active_ = false;
        if (std::uncaught_exceptions() <= entered_) {
            detail::close_thing(thing_);
            return;
        }
        try {
            detail::close_thing(thing_);
        } catch (...) {
            report_unraisable("closing()");
        }
    }

    X& get() noexcept { return thing_; }
    X& operator*() noexcept { return thing_; }
    decltype(auto) operator->() noexcept {
        if constexpr (std::is_pointer_v<X> || requires { thing_.operator->(); }) return (thing_);
        else return &thing_;
    }

private:
    X thing_;
    int entered_ = std::uncaught_exceptions();
    bool active_ = true;
};

template <class X>
Closing<std::decay_t<X>> closing(X&& thing) {
    return Closing<std::decay_t<X>>(std::forward<X>(thing));
}

// contextlib.ExitStack: callbacks and context objects (anything whose destructor releases
// something: a Closing, a lock, a Heap::Scope...) released in reverse order of registration when
// the stack is destroyed or close()d. Every exit runs even when an earlier one throws. The last
// exception raised propagates once all have run, as in Python; the earlier ones (Python chains
// them to it) go to the unraisable hook. When the scope is left by an exception, that one
// propagates and every exit's exception goes to the hook.
class ExitStack {
public:
    ExitStack() = default;
    ExitStack(ExitStack&& other) noexcept : exits_(std::move(other.exits_)) {}
    ExitStack& operator=(ExitStack&&) = delete;
    ~ExitStack() noexcept(false) { unwind(std::uncaught_exceptions() <= entered_); }

    // Python's callback(fn, *args): fn() runs at exit (bind arguments by capturing them).
    template <class F>
    void callback(F&& fn) {
        exits_.reserve(exits_.size() + 1);
        exits_.push_back(std::make_unique<Callback<std::decay_t<F>>>(std::forward<F>(fn)));
    }
    // Python's enter_context(cm): the stack takes the object and destroys it at exit; returns it.
    template <class C>
    std::decay_t<C>& enter_context(C&& cm) {
        exits_.reserve(exits_.size() + 1);  // so that the object, once taken, is always released
        auto exit = std::make_unique<Context<std::decay_t<C>>>(std::forward<C>(cm));
        std::decay_t<C>& held = exit->object;
        exits_.push_back(std::move(exit));
        return held;
    }
    // Python's pop_all(): a new stack with every exit of this one, which is left empty.
    ExitStack pop_all() noexcept { return ExitStack(std::move(*this)); }
    // Runs every exit now (the stack is then empty and reusable).
    void close() { unwind(true); }
    std::size_t size() const noexcept { return exits_.size(); }

private:
    struct Exit {
        virtual ~Exit() = default;
        virtual void run() = 0;
    };
    template <class F>
    struct Callback final : Exit {
        F fn;
        explicit Callback(F f) : fn(std::move(f)) {}
        void run() override { fn(); }
    };
    // The object is destroyed by run(), so that its destructor's exception reaches unwind()
    // (a union keeps it out of ~Context, which is noexcept).
    template <class C>
    struct Context final : Exit {
        union {
            C object;
        };
        bool alive = true;
        template <class A>
        explicit Context(A&& a) : object(std::forward<A>(a)) {}
        ~Context() noexcept override {
            if (alive) object.~C();  // only if never run, which unwind() does not allow
        }
        void run() override {
            alive = false;
            object.~C();
        }
    };

    // Runs the exits, newest first, until none is left (an exit may register more).
    // `may_throw`: rethrow the last exception once all have run; otherwise report it too.
    void unwind(bool may_throw);

    std::vector<std::unique_ptr<Exit>> exits_;
    int entered_ = std::uncaught_exceptions();
};

}  // namespace ouro
