// ouro::Proxy<T> — Python's weakref.proxy: a weak reference used as if it were its referent.
//
//   auto p = ouro::proxy(window);          // weakref.proxy(window)
//   p->redraw();                           // the referent, held for the whole expression
//   window = nullptr;                      // its last reference goes
//   p->redraw();                           // throws ouro::ReferenceError, as Python raises ReferenceError
//
// Python -> C++: attribute access and method calls go through `->`; calling a proxy of a callable
// object calls it (CallableProxyType); `==` compares the referents with T's ==, as Python's proxy
// compares with the referents' __eq__. A proxy without a callback is shared by all such proxies of
// its referent (one record, as CPython shares proxy(obj)); one with a callback is a record of its
// own, and the callback gets the (dead) proxy. getweakrefcount counts proxies; getweakrefs lists
// the basic one right after the basic WeakRef. Like Python's, proxies are not hashable. A Proxy
// member of a managed object is visited in trace() like a WeakRef.
#pragma once

#include <ouro/exceptions.hpp>
#include <ouro/visitor.hpp>
#include <ouro/weakref.hpp>

#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

namespace ouro {

template <class T>
class Proxy {
public:
    using Callback = std::function<void(const Proxy<T>&)>;

    Proxy() noexcept = default;  // dead, like a proxy whose referent has gone
    explicit Proxy(const Ref<T>& referent) : weak_(basic(referent)) {}
    Proxy(const Ref<T>& referent, Callback callback)
        : Proxy(callback ? detail::WeakCallbackOf<Proxy>::make(object_of(referent), std::move(callback)) : Proxy(referent)) {}
    // A callback that holds references and says so (bind_callback, or a trace() of its own), as
    // WeakRef's: the collector sees them.
    template <class F>
        requires(detail::has_trace<std::decay_t<F>> && std::is_invocable_v<std::decay_t<F>&, const Proxy<T>&>)
    Proxy(const Ref<T>& referent, F&& callback)
        : Proxy(detail::WeakCallbackOf<Proxy, std::decay_t<F>>::make(object_of(referent), std::decay_t<F>(std::forward<F>(callback)))) {}

    // The referent, held until the end of the full expression (`p->f()` cannot see it die), or
    // ouro::ReferenceError once it has died.
    Ref<T> operator->() const { return get(); }
    // A proxy of a callable object calls it.
    template <class... A>
        requires std::invocable<T&, A...>
    decltype(auto) operator()(A&&... args) const {
        Ref<T> held = get();
        return std::invoke(*held, std::forward<A>(args)...);
    }
    // Whether the referent lives (Python would need a try around an attribute access).
    bool alive() const noexcept { return weak_.alive(); }
    void reset() noexcept { weak_.reset(); }

    // The referents compared with T's ==; ReferenceError when either has died.
    template <class U>
        requires std::equality_comparable_with<const T&, const U&>
    bool operator==(const Proxy<U>& other) const {
        return *get() == *other.get();
    }
    template <class U>
        requires std::equality_comparable_with<const T&, const U&>
    bool operator==(const Ref<U>& other) const {
        return other && *get() == *other;
    }

    void trace(Visitor& visit) { visit(weak_); }

private:
    template <class U> friend class Proxy;
    friend struct detail::WeakAccess;
    Proxy(detail::WeakAdopt, detail::WeakRecord* counted, Object* referent) noexcept
        : weak_(detail::WeakAccess::adopt<WeakRef<T>>(counted, referent)) {}
    static Object* object_of(const Ref<T>& referent) {
        if (!referent) throw std::invalid_argument("ouro::Proxy: cannot create a weak reference to null");
        return const_cast<Object*>(static_cast<const Object*>(referent.get()));
    }
    static WeakRef<T> basic(const Ref<T>& referent) {
        Object* o = object_of(referent);
        return detail::WeakAccess::adopt<WeakRef<T>>(detail::weak_acquire(o, detail::WeakKind::BasicProxy), o);
    }
    Ref<T> get() const {
        if (Ref<T> r = weak_()) return r;
        throw ReferenceError();
    }

    WeakRef<T> weak_;
};

// weakref.proxy(obj[, callback]).
template <class T>
Proxy<T> proxy(const Ref<T>& referent, typename Proxy<T>::Callback callback = {}) {
    return Proxy<T>(referent, std::move(callback));
}

}  // namespace ouro
