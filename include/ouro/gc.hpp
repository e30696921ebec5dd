// ouro::gc — Python's gc module for the current heap (docs/cpython.md §4).
#pragma once

#include <ouro/ref.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

namespace ouro::gc {

// CPython's values.
inline constexpr unsigned DEBUG_STATS = 1;          // one line per collection on stderr
inline constexpr unsigned DEBUG_COLLECTABLE = 2;    // each unreachable object found
inline constexpr unsigned DEBUG_UNCOLLECTABLE = 4;  // objects left alive when a heap is destroyed
inline constexpr unsigned DEBUG_SAVEALL = 32;       // unreachable objects go to garbage() instead of being freed
inline constexpr unsigned DEBUG_LEAK = DEBUG_COLLECTABLE | DEBUG_UNCOLLECTABLE | DEBUG_SAVEALL;

struct GenerationStats {
    std::size_t collections = 0;   // collections of this generation
    std::size_t collected = 0;     // unreachable objects found (and freed, or saved with DEBUG_SAVEALL)
    std::size_t uncollectable = 0; // always 0: C++ has no legacy tp_del finalizers (see docs/api.md)
    double pause_seconds = 0;      // total time spent in these collections
    std::size_t candidates = 0;    // objects these collections examined (not in CPython's get_stats:
                                   // with pause_seconds, the cost of a collection per traced object)
};

struct Info {
    int generation = 0;
    std::size_t collected = 0;
    std::size_t uncollectable = 0;
    double duration_seconds = 0;   // 0 in the "start" phase
};
using Callback = std::function<void(std::string_view phase, const Info& info)>;

// Collects `generation` and every younger one; returns the number of unreachable objects found.
// Throws std::invalid_argument unless 0 <= generation <= 2. Returns 0 without doing anything
// when called while a collection is running (from a finalizer or callback). collect(2) then gives
// back to the OS the empty arenas the heap kept against map/unmap thrashing (docs/design.md §2).
std::size_t collect(int generation = 2);

void enable();
void disable();
bool isenabled();

std::array<std::size_t, 3> get_count();
std::array<std::size_t, 3> get_threshold();
void set_threshold(std::size_t threshold0);  // 0 disables automatic collection
void set_threshold(std::size_t threshold0, std::size_t threshold1);
void set_threshold(std::size_t threshold0, std::size_t threshold1, std::size_t threshold2);
std::array<GenerationStats, 3> get_stats();

// Tracked objects (frozen ones excluded, as in CPython), all of them or one generation's.
std::vector<Ref<Object>> get_objects();
std::vector<Ref<Object>> get_objects(int generation);
// Tracked objects whose trace() visits `obj` (frozen ones excluded, as CPython); the objects
// `obj`'s trace() visits.
std::vector<Ref<Object>> get_referrers(const Object& obj);
std::vector<Ref<Object>> get_referents(const Object& obj);
bool is_tracked(const Object& obj);
bool is_finalized(const Object& obj);

// CPython's permanent generation: freeze() moves every tracked object out of reach of the
// collector (they are never collected, and references from them count as roots);
// unfreeze() moves them back into the oldest generation.
void freeze();
void unfreeze();
std::size_t get_freeze_count();

std::vector<Ref<Object>>& garbage();
void set_debug(unsigned flags);
unsigned get_debug();
std::vector<Callback>& callbacks();

}  // namespace ouro::gc
