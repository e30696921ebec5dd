// The state of the gc module's own API for one heap: debug flags, statistics, gc.garbage and
// gc.callbacks (docs/cpython.md §4).
#pragma once

#include <ouro/gc.hpp>

#include <array>
#include <vector>

namespace ouro::detail {

struct GcModule {
    unsigned debug = 0;
    std::array<gc::GenerationStats, 3> stats{};
    std::vector<Ref<Object>> garbage;
    std::vector<gc::Callback> callbacks;
};

}  // namespace ouro::detail
