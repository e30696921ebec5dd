// Fault injection for the reliability tests (docs/reliability.md §3): with OURO_FAULT_INJECTION defined (the CMake
// option of that name), every allocation the library makes — a block for make<T>, a pool, an
// arena, a large object, a weak reference record, a collector's scratch array — first calls
// fault_point(), which throws std::bad_alloc when the thread's countdown reaches zero.
// Without the option fault_point() is empty and costs nothing.
#pragma once

#include <ouro/config.hpp>

#include <cstdint>
#include <new>

namespace ouro::detail {

#ifdef OURO_FAULT_INJECTION
inline thread_local std::uint64_t t_fault_countdown = 0;  // 0: off; n: the n-th allocation from now fails
inline thread_local std::uint64_t t_fault_points = 0;     // allocations seen, for tests to size their sweeps
OURO_ALWAYS_INLINE void fault_point() {
    ++t_fault_points;
    if (OURO_UNLIKELY(t_fault_countdown != 0) && --t_fault_countdown == 0) throw std::bad_alloc();
}
#else
OURO_ALWAYS_INLINE void fault_point() noexcept {}
#endif

}  // namespace ouro::detail
