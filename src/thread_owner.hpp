// Which thread may touch a heap's objects: the one that created it or entered it last, while any
// Heap::Scope is active on it (docs/design.md §8). Checked builds compare it on every Ref operation.
#pragma once

#include <atomic>
#include <thread>

namespace ouro::detail {

struct ThreadOwner {
    std::atomic<std::thread::id> thread{};
    std::atomic<int> scopes{0};  // active Heap::Scope objects (a default heap counts one for its thread)
};

}  // namespace ouro::detail
