// Walking this thread's native stack fast enough to do it at every allocation (tracemalloc):
// return addresses from the unwind tables (.eh_frame) every C++ program carries, no frame
// pointers needed, each function's rule cached after its first sight (docs/design.md §10).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ouro::detail {

struct NativeFrame {
    std::uintptr_t pc;   // a return address (the call site is the instruction before it)
    std::uintptr_t cfa;  // the frame's canonical frame address: its locals lie below it, older frames above
    bool library;        // in ouroboros' or the standard library's code (is_library_code)
};

// Fills out[0, max) with the frames from the one whose return address is `start` outward (from
// the caller of unwind_stack when `start` is not among the first frames), and stops once
// `max_user` frames outside library code are in; returns how many. With `start_sp`, the stack
// pointer `start` returns with, the walk begins there instead of at its own frame. Stops early,
// never faults, at a frame whose unwind rule it does not know (a signal frame, hand-written
// assembly) or that would lead outside this thread's stack.
std::size_t unwind_stack(const void* start, const void* start_sp, NativeFrame* out, std::size_t max,
                         std::size_t max_user) noexcept;

// One step outward from the frame that return address `pc` returns into, from the same rules
// (cached): when that frame's CFA is its stack pointer plus cfa_offset, with its caller's return
// address at CFA + ra_offset, true. false for any other rule, or none.
bool frame_step(std::uintptr_t pc, std::int32_t& cfa_offset, std::int16_t& ra_offset) noexcept;

}  // namespace ouro::detail
