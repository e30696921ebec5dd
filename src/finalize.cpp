// Finalizers: a weak reference with a callback, kept registered by the referent's heap.
#include "heap_state.hpp"

#include <ouro/finalize.hpp>
#include <ouro/unraisable.hpp>

#include <stdexcept>

namespace ouro::detail {

struct FinalizerState {
    WeakRef<Object> ref;
    std::function<void()> fn;
    Heap* heap;             // whose registry holds it while alive
    std::uint64_t order;    // registration order: atexit finalizers run newest first
    bool alive = true;
    bool atexit = true;
};

namespace {
// Marks the finalizer dead and drops the registry's reference; returns the function to run.
// `self` keeps the state alive for the caller.
std::function<void()> kill(const std::shared_ptr<FinalizerState>& self) {
    self->alive = false;
    HeapAccess::state(*self->heap).finalizers.alive.erase(self->order);
    return std::move(self->fn);
}
}  // namespace

void run_atexit_finalizers(Heap& h) noexcept {
    auto& registry = HeapAccess::state(h).finalizers.alive;
    while (!registry.empty()) {
        auto newest = std::prev(registry.end());
        std::shared_ptr<FinalizerState> f = newest->second;
        if (!f->atexit) {
            registry.erase(newest);  // never runs: like Python's finalize after shutdown
            f->alive = false;
            continue;
        }
        std::function<void()> fn = kill(f);
        try {
            fn();
        } catch (...) {
            report_unraisable("an atexit finalizer");
        }
    }
}

}  // namespace ouro::detail

namespace ouro {

Finalizer finalize(const Ref<Object>& obj, std::function<void()> fn) {
    if (!obj) throw std::invalid_argument("ouro::finalize: the object is null");
    if (!fn) throw std::invalid_argument("ouro::finalize: the function is empty");
    Heap* heap = detail::heap_of(obj.get());
    if (!heap) throw std::invalid_argument("ouro::finalize: the object's heap was destroyed");
    auto& s = detail::HeapAccess::state(*heap);
    auto state = std::make_shared<detail::FinalizerState>();
    state->fn = std::move(fn);
    state->heap = heap;
    state->order = s.finalizers.next++;
    std::weak_ptr<detail::FinalizerState> weak = state;
    state->ref = WeakRef<Object>(obj, [weak](const WeakRef<Object>&) {
        std::shared_ptr<detail::FinalizerState> self = weak.lock();
        if (!self || !self->alive) return;
        detail::kill(self)();
    });
    detail::fault_point();
    s.finalizers.alive.emplace(state->order, state);
    return Finalizer(std::move(state));
}

void Finalizer::operator()() {
    if (!alive()) return;
    auto self = state_;
    detail::kill(self)();
}

std::optional<std::pair<Ref<Object>, std::function<void()>>> Finalizer::detach() {
    if (!alive()) return std::nullopt;
    auto self = state_;
    Ref<Object> obj = self->ref();
    return std::pair{std::move(obj), detail::kill(self)};
}

std::optional<std::pair<Ref<Object>, std::function<void()>>> Finalizer::peek() const {
    if (!alive()) return std::nullopt;
    return std::pair{state_->ref(), state_->fn};
}

bool Finalizer::alive() const noexcept { return state_ && state_->alive; }
bool Finalizer::atexit() const noexcept { return state_ && state_->atexit; }
void Finalizer::set_atexit(bool value) noexcept {
    if (state_) state_->atexit = value;
}

}  // namespace ouro
