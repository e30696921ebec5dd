// ouro::finalize — Python's weakref.finalize: call a function when an object dies.
#pragma once

#include <ouro/weakref.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace ouro {

namespace detail {
struct FinalizerState;
}

// A handle to a registered finalizer. The heap keeps the finalizer registered until it has run
// or is detached, whether or not any handle is kept (as Python's finalize registry does).
class Finalizer {
public:
    Finalizer() = default;

    // Runs the function now if the finalizer is still alive (at most once in all). Exceptions
    // propagate to the caller, as from Python's finalize.__call__.
    void operator()();
    // Unregisters it without running; returns the object and the function if it was alive.
    std::optional<std::pair<Ref<Object>, std::function<void()>>> detach();
    // The object and the function, if alive, leaving the finalizer registered.
    std::optional<std::pair<Ref<Object>, std::function<void()>>> peek() const;
    bool alive() const noexcept;

    // Whether it runs when its heap is destroyed (or the process exits) while still alive.
    // Default true; such finalizers run newest first. Others never run after that point.
    bool atexit() const noexcept;
    void set_atexit(bool value) noexcept;

private:
    friend Finalizer finalize(const Ref<Object>& obj, std::function<void()> fn);
    explicit Finalizer(std::shared_ptr<detail::FinalizerState> s) : state_(std::move(s)) {}
    std::shared_ptr<detail::FinalizerState> state_;
};

// Registers fn to run once when obj dies (by count or in a collection). fn must not hold a
// strong reference to obj, or obj never dies (capture a WeakRef, or nothing, instead).
Finalizer finalize(const Ref<Object>& obj, std::function<void()> fn);

}  // namespace ouro
