// ouro::WeakMethod<R(Args...)> — Python's weakref.WeakMethod: a method bound to a managed object,
// held weakly, so that a callback registered with a signal or a timer does not keep its object
// alive.
//
//   ouro::WeakMethod<void(int)> on_click(button, &Button::clicked);   // WeakMethod(button.clicked)
//   if (auto m = on_click()) m(3);                                    // the bound method, or empty
//
// The method is a member function of T, or a managed callable object (F derives from Object, and
// is invocable as f(T&, Args...)), held weakly too, as Python holds __func__ weakly: the WeakMethod
// is dead once either its object or its function dies. Calling it gives the bound method, which
// holds both strongly while it lives (Python's bound method), or an empty one once dead (None).
// The callback runs once, when the first of the two dies, if a copy of the WeakMethod still
// exists; unlike Python's it takes no argument (capture what it needs). Two WeakMethods are equal
// while alive when they bind the same object to the same method; once dead, only a WeakMethod and
// its copies are equal (Python: `is`). hash() is the object's (Python's: hash of the ref). A
// WeakMethod member of a managed object is visited in trace() like a WeakRef.
#pragma once

#include <ouro/visitor.hpp>
#include <ouro/weakref.hpp>

#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace ouro {

template <class Signature>
class WeakMethod;

template <class R, class... Args>
class WeakMethod<R(Args...)> {
    // Calls the method stored in `method` on self (and func, when the function is managed).
    using Invoke = R (*)(const unsigned char* method, Object& self, Object* func, Args&&... args);
    static constexpr std::size_t kMethodBytes = 2 * sizeof(void*);  // a member function pointer (Itanium ABI)

public:
    using Callback = std::function<void()>;

    // The method bound to its object, held strongly: what calling a WeakMethod gives.
    class Bound {
    public:
        Bound() noexcept = default;
        explicit operator bool() const noexcept { return static_cast<bool>(self_); }
        R operator()(Args... args) const {
            if (!self_) throw std::bad_function_call();
            return invoke_(method_, *self_, func_.get(), std::forward<Args>(args)...);
        }

    private:
        friend WeakMethod;
        Ref<Object> self_, func_;
        Invoke invoke_ = nullptr;
        alignas(void*) unsigned char method_[kMethodBytes]{};
    };

    WeakMethod() noexcept = default;  // dead
    template <class T>
        requires std::derived_from<T, Object>
    WeakMethod(const Ref<T>& self, R (T::*method)(Args...), Callback callback = {}) {
        bind_member(self, method, std::move(callback));
    }
    template <class T>
        requires std::derived_from<T, Object>
    WeakMethod(const Ref<T>& self, R (T::*method)(Args...) const, Callback callback = {}) {
        bind_member(self, method, std::move(callback));
    }
    template <class T, class F>
        requires std::derived_from<T, Object> && std::derived_from<F, Object> && std::is_invocable_r_v<R, F&, T&, Args...>
    WeakMethod(const Ref<T>& self, const Ref<F>& function, Callback callback = {}) {
        if (!function) throw std::invalid_argument("ouro::WeakMethod: the function is null");
        invoke_ = [](const unsigned char*, Object& o, Object* f, Args&&... args) -> R {
            return std::invoke(static_cast<F&>(*f), static_cast<T&>(o), std::forward<Args>(args)...);
        };
        watch(self, function, std::move(callback));
    }

    // Python's call: the bound method, or an empty one once the object or the function died.
    Bound operator()() const {
        Bound b;
        if (!alive()) return b;
        b.self_ = self_();
        if (func_.alive()) b.func_ = func_();
        b.invoke_ = invoke_;
        std::memcpy(b.method_, method_, kMethodBytes);
        return b;
    }
    bool alive() const noexcept { return self_.alive() && (!managed_ || func_.alive()); }

    bool operator==(const WeakMethod& o) const noexcept {
        if (!alive() || !o.alive()) return self_ == o.self_ && func_ == o.func_ && invoke_ == o.invoke_;
        return self_ == o.self_ && func_ == o.func_ && invoke_ == o.invoke_ &&
               std::memcmp(method_, o.method_, kMethodBytes) == 0;
    }
    std::size_t hash() const noexcept { return self_.hash(); }

    void trace(Visitor& visit) { visit(self_, func_); }

private:
    template <class T, class M>
    void bind_member(const Ref<T>& self, M method, Callback callback) {
        static_assert(sizeof(M) <= kMethodBytes);
        std::memcpy(method_, &method, sizeof(M));
        invoke_ = [](const unsigned char* stored, Object& o, Object*, Args&&... args) -> R {
            M m;
            std::memcpy(&m, stored, sizeof(M));
            return std::invoke(m, static_cast<T&>(o), std::forward<Args>(args)...);
        };
        watch(self, Ref<Object>(), std::move(callback));
    }
    // Weak references of their own (with callbacks), so that a WeakMethod is a weak reference of
    // its own as in Python; the user's callback runs once, for the first death.
    template <class T>
    void watch(const Ref<T>& self, const Ref<Object>& function, Callback callback) {
        if (!self) throw std::invalid_argument("ouro::WeakMethod: the object is null");
        auto once = callback ? std::make_shared<Callback>(std::move(callback)) : nullptr;
        auto on_death = [once](const WeakRef<Object>&) {
            if (once && *once) std::exchange(*once, nullptr)();
        };
        self_ = WeakRef<Object>(Ref<Object>(self), on_death);
        if (function) func_ = WeakRef<Object>(function, on_death);
        managed_ = static_cast<bool>(function);
    }

    WeakRef<Object> self_;
    WeakRef<Object> func_;  // empty for a member function
    bool managed_ = false;  // the function is a managed object (func_)
    Invoke invoke_ = nullptr;
    alignas(void*) unsigned char method_[kMethodBytes]{};
};

}  // namespace ouro

template <class Signature>
struct std::hash<ouro::WeakMethod<Signature>> {
    std::size_t operator()(const ouro::WeakMethod<Signature>& m) const noexcept { return m.hash(); }
};
