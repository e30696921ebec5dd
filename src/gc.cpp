// The gc module's API over the current heap: settings, statistics and introspection.
#include "heap_state.hpp"

#include <ouro/gc.hpp>

#include <stdexcept>
#include <string>

namespace ouro::gc {
namespace {
using detail::gcword;
using detail::HeapAccess;

Heap& heap() { return Heap::current(); }
detail::Schedule& schedule() { return HeapAccess::state(heap()).schedule; }
detail::GcModule& module() { return HeapAccess::state(heap()).gc; }

void check_generation(int generation, const char* function) {
    if (generation < 0 || generation > 2)
        throw std::invalid_argument(std::string("ouro::gc::") + function + ": generation must be 0, 1 or 2, not " +
                                    std::to_string(generation));
}

// Tracked and not dying: a count of 0 means a deallocation is under way (perhaps queued by the
// trashcan); handing out a reference to it would bring it back from the dead.
bool is_tracked_object(Object* o) { return (gcword(o) & detail::kTracked) != 0 && detail::refcnt(o) != 0; }

// Objects visited by one object's trace(), in order, duplicates kept (CPython's get_referents).
// get_referrers, like CPython's, searches generations 0-2 only: frozen objects are not listed.
struct Collect final : Visitor {
    std::vector<Ref<Object>>* out;
    explicit Collect(std::vector<Ref<Object>>* o) : out(o) {}
    void visit(Object*& slot) override { out->emplace_back(slot); }
};
struct Finds final : Visitor {
    const Object* target;
    bool found = false;
    explicit Finds(const Object* t) : target(t) {}
    void visit(Object*& slot) override { found |= slot == target; }
};
}  // namespace

std::size_t collect(int generation) {
    check_generation(generation, "collect");
    std::size_t found = detail::collect(heap(), generation);
    // Asked for by the program: the empty arenas kept against thrashing go back now. Not from
    // inside a running collection, where collect() does nothing.
    if (generation == 2 && !schedule().collecting) HeapAccess::allocator(heap()).trim();
    return found;
}

void enable() {
    schedule().enabled = true;
    HeapAccess::update_trigger(heap());
}
void disable() {
    schedule().enabled = false;
    HeapAccess::update_trigger(heap());
}
bool isenabled() { return schedule().enabled; }

std::array<std::size_t, 3> get_count() {
    auto& s = schedule();
    return {HeapAccess::count0(heap()), s.count1, s.count2};
}
std::array<std::size_t, 3> get_threshold() { return schedule().threshold; }
void set_threshold(std::size_t threshold0) { set_threshold(threshold0, schedule().threshold[1], schedule().threshold[2]); }
void set_threshold(std::size_t threshold0, std::size_t threshold1) {
    set_threshold(threshold0, threshold1, schedule().threshold[2]);
}
void set_threshold(std::size_t threshold0, std::size_t threshold1, std::size_t threshold2) {
    schedule().threshold = {threshold0, threshold1, threshold2};
    schedule().adaptive = false;  // thresholds asked for: CPython's exact schedule
    HeapAccess::update_trigger(heap());
}
std::array<GenerationStats, 3> get_stats() { return module().stats; }

std::vector<Ref<Object>> get_objects() {
    std::vector<Ref<Object>> out;
    detail::for_each_object(heap(), [&](Object* o) {
        if (is_tracked_object(o) && detail::generation(gcword(o)) != detail::kPermanent) out.emplace_back(o);
    });
    return out;
}

std::vector<Ref<Object>> get_objects(int generation) {
    check_generation(generation, "get_objects");
    std::vector<Ref<Object>> out;
    if (generation < 2) {
        auto& young = HeapAccess::young(heap());
        for (auto* it = young.begin(generation); it != young.end(generation); ++it)
            if (is_tracked_object(*it)) out.emplace_back(*it);
        return out;
    }
    detail::for_each_object(heap(), [&](Object* o) {
        if (is_tracked_object(o) && detail::generation(gcword(o)) == 2) out.emplace_back(o);
    });
    return out;
}

std::vector<Ref<Object>> get_referrers(const Object& obj) {
    std::vector<Object*> found;
    detail::for_each_object(heap(), [&](Object* o) {
        if (!is_tracked_object(o) || detail::generation(gcword(o)) == detail::kPermanent) return;
        Finds finds(&obj);
        o->trace(finds);
        if (finds.found) found.push_back(o);
    });
    return {found.begin(), found.end()};
}

std::vector<Ref<Object>> get_referents(const Object& obj) {
    std::vector<Ref<Object>> out;
    Collect collect(&out);
    const_cast<Object&>(obj).trace(collect);
    return out;
}

bool is_tracked(const Object& obj) { return (detail::ObjectAccess::gcword(obj) & detail::kTracked) != 0; }
bool is_finalized(const Object& obj) { return (detail::ObjectAccess::gcword(obj) & detail::kFinalized) != 0; }

void freeze() { detail::freeze(heap()); }
void unfreeze() { detail::unfreeze(heap()); }
std::size_t get_freeze_count() { return schedule().frozen; }

std::vector<Ref<Object>>& garbage() { return module().garbage; }
void set_debug(unsigned flags) { module().debug = flags; }
unsigned get_debug() { return module().debug; }
std::vector<Callback>& callbacks() { return module().callbacks; }

}  // namespace ouro::gc
