// When to collect: CPython's thresholds and counts, and its guard against quadratic full
// collections (docs/cpython.md §3) — with the objects a young collection promotes counted while
// they live (docs/design.md §6) — and the population of generation 2 and of the permanent
// generation. The hot half of the schedule (count0 and the trigger it is compared with) lives in
// Heap, beside the allocator, for make<T>'s inline path.
#pragma once

#include <ouro/detail/header.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace ouro::detail {

// The default schedule adapts: an automatic collection that finds nothing makes the next one of
// its generation wait longer — generations 0 and 1 wait up to 16 times their thresholds, and a
// full collection for up to all the long-lived objects to be new instead of a quarter — and one
// that finds garbage puts its generation and the younger ones back. So a program that makes no cyclic garbage (most of
// whose objects die by their counts) is collected a little, and one that does is collected on
// CPython's schedule. set_threshold() asks for CPython 3.12's exact schedule and turns this off.
class Schedule {
public:
    std::array<std::size_t, 3> threshold{700, 10, 10};
    bool adaptive = true;
    std::size_t count1 = 0;  // collections of generation 0 since the last of generation 1
    std::size_t count2 = 0;  // collections of generation 1 since the last full one
    bool enabled = true;
    bool collecting = false;
    bool tearing_down = false;
    std::size_t frozen = 0;  // objects in the permanent generation (gc::freeze)

    // make<T>'s trigger for count0: threshold0, or SIZE_MAX while automatic collection is off.
    std::size_t trigger() const noexcept;
    // The generation an automatic collection collects (CPython's gc_collect_generations).
    int choose() const noexcept;
    // The index a young collection of `gen` gives the objects it promotes to generation 2.
    std::uint32_t promotion_index(int gen) const noexcept { return gen == 1 ? pending_index_ : kNoIndex; }
    // A collection of `gen` is over; `survivors` joined generation 2 (0 for generation 0).
    void collected(int gen, std::size_t survivors) noexcept;
    // ...and it found `found` unreachable objects (automatic: started by an allocation).
    void found(int gen, std::size_t found, bool automatic) noexcept;
    // A tracked object of generation 2 or the permanent generation died (`word`: its header).
    void old_death(std::uint32_t word) noexcept;

private:
    std::size_t long_lived_total_ = 0;    // generation 2 after the last full collection
    std::size_t long_lived_pending_ = 0;  // promoted to it since, still alive
    // The epoch that marks this period's pending objects (kPendingBase up, a new one per full
    // collection: older marks simply stop matching, so no pass over generation 2 forgets them).
    std::uint32_t pending_index_ = kPendingBase;
    // Adaptive waits: generation g is collected after threshold[g] << wait_[g] (g = 0, 1), and a
    // full collection waits for long_lived_total / 4 << wait_[2] pending objects.
    std::array<unsigned, 3> wait_{};
};

}  // namespace ouro::detail
