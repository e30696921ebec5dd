// What the collector keeps in a heap between collections: the young collections' scratch (they
// are frequent and small: reusing it saves an allocation each), the size of the last full
// collection's edge array (to size the next one's), the trace() mistakes it has reported, and the
// loaded modules' static storage.
#pragma once

#include "graph.hpp"
#include "slot_owners.hpp"

#include <cstddef>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ouro::detail {

struct CollectorState {
    GraphBuffers young_graph;
    std::size_t edges_hint = 0;
    std::set<std::pair<std::string, std::string>> reported;  // (type, problem): each reported once
    StaticStorage statics;
    std::vector<std::pair<const char*, const char*>> ranges;  // phase 4's scratch, reused
};

}  // namespace ouro::detail
