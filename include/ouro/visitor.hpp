// ouro::Visitor — how an object declares its references to the collector (CPython's
// tp_traverse) — and OURO_TRACE, which writes an object's trace() from the list of its members.
//
//   struct Node : ouro::Object {
//       ouro::Ref<Node> parent;
//       std::vector<ouro::Ref<Node>> children;
//       std::map<std::string, ouro::Ref<Node>> by_name;
//       OURO_TRACE(parent, children, by_name)
//   };
//
// visit(x) accepts a Ref or WeakRef (const ones too: the keys of a std::set or std::map), and
// anything built of them: std::optional, std::unique_ptr, std::shared_ptr, std::pair, std::tuple,
// std::variant, ranges (std::vector, std::array, std::deque, std::list, std::set, std::map, C
// arrays, nested to any depth) and types with a trace(Visitor&) member of their own. Parts that
// hold no reference (a map's std::string keys) are skipped; an argument that can hold none does
// not compile.
//
// Storage that several owners share through std::shared_ptr is visited through the shared_ptr,
// never by reaching into it (visit(p), not visit(p->items)): the collector then knows how many
// owners the storage has (use_count()) and treats what it holds as held by its owners only when
// every one of them is garbage. Visited directly, a Ref in storage shared with a live object
// looks like the garbage object's own, and clearing the garbage would empty the live one's.
#pragma once

#include <ouro/detail/open_table.hpp>
#include <ouro/detail/weak_record.hpp>
#include <ouro/object.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace ouro {

template <class T> class Ref;
template <class T> class WeakRef;
class Visitor;

namespace detail {
struct WeakRecord;

// The library's door into Ref's and WeakRef's single field. The collector clears slots of
// garbage through it, const ones included (a std::set's keys are const only to their users).
struct RefAccess {
    template <class T>
    static Object*& slot(const Ref<T>& r) noexcept {
        return const_cast<Ref<T>&>(r).obj_;
    }
    template <class T>
    static WeakRecord*& record(const WeakRef<T>& w) noexcept {
        return const_cast<WeakRef<T>&>(w).rec_;
    }
};

template <class X>
concept has_trace = requires(X& x, Visitor& v) { x.trace(v); };

// What the collector does with a suspended generator's frame (generator.hpp): pin() keeps the
// frame from being destroyed until release() (a Generator destroyed meanwhile leaves it to
// release()), false when it is pinned or finalized already; close() runs the body's GeneratorExit,
// once (Python's generator finalizer); forgo() finalizes it without running it; destroy(gen)
// destroys a finalized generator's frame now, through its Generator (a body that ignored
// GeneratorExit, or was forgone, still has live locals, whose destructors must run while what
// they use is intact).
struct GeneratorOps {
    bool (*pin)(void* frame) noexcept;
    void (*close)(void* frame) noexcept;
    void (*forgo)(void* frame) noexcept;
    void (*release)(void* frame) noexcept;
    void (*destroy)(void* gen) noexcept;
};

// HoldsRefs<X>: whether visiting an X (cv-qualifiers removed) can reach a Ref or a WeakRef.
template <class X>
struct HoldsRefs : std::bool_constant<has_trace<X>> {};
template <class T> struct HoldsRefs<Ref<T>> : std::true_type {};
template <class T> struct HoldsRefs<WeakRef<T>> : std::true_type {};
template <class X> struct HoldsRefs<std::optional<X>> : HoldsRefs<std::remove_cv_t<X>> {};
template <class X, class D> struct HoldsRefs<std::unique_ptr<X, D>> : HoldsRefs<std::remove_cv_t<X>> {};
template <class X> struct HoldsRefs<std::shared_ptr<X>> : HoldsRefs<std::remove_cv_t<X>> {};
template <class X>
inline constexpr bool is_shared_ptr = false;
template <class X>
inline constexpr bool is_shared_ptr<std::shared_ptr<X>> = true;
template <class A, class B>
struct HoldsRefs<std::pair<A, B>>
    : std::bool_constant<HoldsRefs<std::remove_cv_t<A>>::value || HoldsRefs<std::remove_cv_t<B>>::value> {};
template <class... Xs>
struct HoldsRefs<std::tuple<Xs...>> : std::bool_constant<(HoldsRefs<std::remove_cv_t<Xs>>::value || ...)> {};
template <class... Xs>
struct HoldsRefs<std::variant<Xs...>> : std::bool_constant<(HoldsRefs<std::remove_cv_t<Xs>>::value || ...)> {};
// A range holds what its elements hold (std::filesystem::path, a range of itself, holds nothing).
template <class R>
    requires(std::ranges::range<R> && !has_trace<R> &&
             !std::is_same_v<std::remove_cv_t<std::ranges::range_value_t<R>>, R>)
struct HoldsRefs<R> : HoldsRefs<std::remove_cv_t<std::ranges::range_value_t<R>>> {};
}  // namespace detail

template <class X>
inline constexpr bool holds_refs = detail::HoldsRefs<std::remove_cv_t<X>>::value;

class Visitor {
public:
    // visit(a, b, ...): each argument a Ref, a WeakRef or something built of them (see above).
    template <class... Xs>
        requires(sizeof...(Xs) > 0)
    void operator()(Xs&... xs) {
        static_assert((holds_refs<Xs> && ...),
                      "ouro::Visitor: an argument can hold no Ref or WeakRef (nothing to visit)");
        (visit_value(xs), ...);
    }

    // Implementations: the collector's phases, gc::get_referents, checks, and user code's own walks.
    virtual void visit(Object*& slot) = 0;
    // A weak reference held by the visiting object (weakref.hpp). The default ignores it.
    virtual void visit_weak(detail::WeakRecord*&) {}
    // Storage that several owners may share: what a std::shared_ptr points to (`owner` the visited
    // shared_ptr, `owners` its use_count(): 0 for an alias that owns nothing), or the callback of
    // a weak reference that holds references (`owner` the visited WeakRef, `owners` its record's
    // handles). Called at each owner met; returns whether to visit what the storage holds. The
    // default visits it. What it holds is visited once until reset_shared() however many owners
    // lead to it (a cycle of shared_ptrs included), from a worklist (a shared list a million
    // cells long is no deeper a recursion than one cell), between begin_shared() and end_shared().
    // A visitor that walks several objects calls reset_shared() before each (the collector's do),
    // so that each object's trace() visits its shared storage once.
    virtual bool enter_shared(const void* owner, const void* storage, long owners) {
        (void)owner, (void)storage, (void)owners;
        return true;
    }
    virtual void begin_shared() noexcept {}
    virtual void end_shared() noexcept {}
    // During enter_shared(): the shared storage in which the owner was met (null: in the visiting
    // object itself, or in storage only it owns).
    const void* shared_within() const noexcept { return within_; }
    // Forgets the shared storage visited so far (see enter_shared).
    void reset_shared() noexcept { forget_seen(); }
    // A suspended generator (generator.hpp) held by the visiting object, before its frame is
    // visited: `gen` is the Generator, `frame` its frame, `finalized` whether it was closed once
    // already (by the collector or its Generator's destructor), `ops` what the collector's
    // finalize phase does with garbage's (Python's generator finalizer). The default ignores it.
    virtual void visit_generator(void* gen, void* frame, bool finalized, const detail::GeneratorOps& ops) {
        (void)gen, (void)frame, (void)finalized, (void)ops;
    }
#if OURO_CHECKS
    // Checked builds: every Ref slot visited, null or not (the member-count check of make<T>).
    virtual void visit_any(const void*) {}
#endif

protected:
    Visitor() = default;
    Visitor(const Visitor&) = default;
    Visitor& operator=(const Visitor&) = default;
    ~Visitor() = default;

    // A visitor that handles many slots (the collector's gather) may have them written into a
    // buffer, [cursor_, limit_), instead of taking a virtual call each; when the buffer is full,
    // or there is none, visit() is called. It reads the buffer once trace() returns.
    Object*** cursor_ = nullptr;
    Object*** limit_ = nullptr;

private:
    template <class X>
    void visit_value(X& x) {
        using U = std::remove_cv_t<X>;
        if constexpr (!holds_refs<U>) {
            return;  // a part that holds no reference (a map's key, a pair's int)
        } else if constexpr (detail::has_trace<U>) {
            const_cast<U&>(x).trace(*this);
        } else if constexpr (requires { detail::RefAccess::slot(x); }) {
            Object*& slot = detail::RefAccess::slot(x);
#if OURO_CHECKS
            visit_any(&slot);
#endif
            if (!slot) return;
            if (cursor_ != limit_) *cursor_++ = &slot;
            else visit(slot);
        } else if constexpr (requires { detail::RefAccess::record(x); }) {
            if (detail::WeakRecord*& r = detail::RefAccess::record(x)) {
                visit_weak(r);
                if (detail::g_traced_callbacks.load(std::memory_order_relaxed) && r && (r->flags & detail::kWeakTraced)) [[unlikely]]
                    visit_callback(&x, static_cast<detail::WeakCallbackRecord&>(*r));
            }
        } else if constexpr (detail::is_shared_ptr<U>) {
            if (x) visit_shared(x);
        } else if constexpr (requires { x.has_value(); *x; } || requires { x.get(); *x; }) {  // optional, unique_ptr
            if (x) visit_value(*x);
        } else if constexpr (requires { x.first; x.second; }) {
            visit_value(x.first);
            visit_value(x.second);
        } else if constexpr (std::ranges::range<U>) {
            for (auto& element : x) visit_value(element);
        } else if constexpr (requires { x.valueless_by_exception(); }) {
            std::visit([&](auto& part) { visit_value(part); }, x);
        } else {  // std::tuple
            std::apply([&](auto&... parts) { (visit_value(parts), ...); }, x);
        }
    }

    // Shared storage met while visiting (see enter_shared): what is still to visit, and what was
    // seen since reset_shared().
    struct Pending {
        const void* storage;
        void (*visit)(Visitor&, const void* storage);
    };
    struct Seen {
        const void* storage;  // null: empty
        bool empty() const noexcept { return storage == nullptr; }
        std::size_t hash() const noexcept { return detail::mix_pointer(storage); }
    };
    struct SeenSet {  // a copy of a visitor starts with nothing seen
        detail::OpenTable<Seen> table;
        SeenSet() = default;
        SeenSet(const SeenSet&) noexcept {}
        SeenSet& operator=(const SeenSet&) noexcept {
            table.clear();
            return *this;
        }
    };
    std::vector<Pending> pending_;
    const void* within_ = nullptr;  // the storage being visited (null: the object itself)
    SeenSet seen_;
    bool draining_ = false;

    template <class T>
    void visit_shared(const std::shared_ptr<T>& p) {
        visit_storage(&p, static_cast<const void*>(p.get()), p.use_count(),
                      [](Visitor& v, const void* storage) { v.visit_value(*static_cast<T*>(const_cast<void*>(storage))); });
    }
    // A weak reference's callback that holds references: storage its record's handles share.
    void visit_callback(const void* handle, detail::WeakCallbackRecord& r) {
        if (!r.vtbl || !r.vtbl->trace) return;
        visit_storage(handle, &r, static_cast<long>(r.handles), [](Visitor& v, const void* storage) {
            auto* rec = static_cast<detail::WeakCallbackRecord*>(const_cast<void*>(storage));
            if (rec->vtbl && rec->vtbl->trace) rec->vtbl->trace(rec, v);
        });
    }
    void visit_storage(const void* owner, const void* storage, long owners, void (*visit)(Visitor&, const void*)) {
        if (!enter_shared(owner, storage, owners) || !first_sight(storage)) return;
        pending_.push_back({storage, visit});
        if (draining_) return;  // the drain below, further up, takes it
        struct Drained {
            Visitor* v;
            ~Drained() {  // (also when a trace() throws)
                v->draining_ = false;
                v->within_ = nullptr;
                v->pending_.clear();
            }
        } drained{this};
        draining_ = true;
        while (!pending_.empty()) {
            const Pending next = pending_.back();
            pending_.pop_back();
            within_ = next.storage;
            begin_shared();
            struct End {
                Visitor* v;
                ~End() { v->end_shared(); }
            } end{this};
            next.visit(*this, next.storage);
        }
    }
    bool first_sight(const void* storage) {
        const std::size_t h = detail::mix_pointer(storage);
        if (seen_.table.find(h, [storage](const Seen& s) { return s.storage == storage; })) return false;
        seen_.table.reserve_one();
        seen_.table.place(Seen{storage});
        return true;
    }
    // A big table (a long shared list was visited) goes; a small one is kept for the next object.
    void forget_seen() noexcept {
        if (seen_.table.empty()) return;
        if (seen_.table.bytes() > 64 * sizeof(Seen)) seen_.table.clear();
        else seen_.table.reset();
    }
};

}  // namespace ouro

// Writes `void trace(ouro::Visitor&) override` visiting the listed members, in order.
#define OURO_TRACE(...) \
    void trace(::ouro::Visitor& ouro_visit_) override { ouro_visit_(__VA_ARGS__); }
