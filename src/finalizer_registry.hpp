// The alive weakref.finalize registrations of one heap, in registration order: kept until each
// runs or is detached, and run newest first at teardown if atexit is set (src/finalize.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>

namespace ouro::detail {

struct FinalizerState;

struct FinalizerRegistry {
    std::map<std::uint64_t, std::shared_ptr<FinalizerState>> alive;
    std::uint64_t next = 0;
};

}  // namespace ouro::detail
