// The collection schedule (see schedule.hpp).
#include "schedule.hpp"

#include <cstdint>

namespace ouro::detail {

namespace {
constexpr std::array<unsigned, 3> kMaxWait{4, 4, 2};  // 16 x threshold0 and threshold1; all long-lived objects
}  // namespace

std::size_t Schedule::trigger() const noexcept {
    const bool automatic = enabled && threshold[0] != 0 && !collecting && !tearing_down;
    if (!automatic) return SIZE_MAX;
    const unsigned wait = adaptive ? wait_[0] : 0;
    return threshold[0] > (SIZE_MAX >> wait) ? SIZE_MAX : threshold[0] << wait;
}

int Schedule::choose() const noexcept {
    // The oldest generation over its threshold, where a full collection also waits until a
    // quarter of the long-lived objects are new (CPython's rule; more after empty ones).
    const unsigned wait1 = adaptive ? wait_[1] : 0, wait2 = adaptive ? wait_[2] : 0;
    if (count2 > threshold[2] && long_lived_pending_ > (long_lived_total_ / 4) << wait2) return 2;
    if (count1 > threshold[1] << wait1) return 1;
    return 0;
}

void Schedule::found(int gen, std::size_t found, bool automatic) noexcept {
    const auto g = static_cast<std::size_t>(gen);
    if (found) {
        for (std::size_t k = 0; k <= g; ++k) wait_[k] = 0;
        return;
    }
    if (automatic && wait_[g] < kMaxWait[g]) ++wait_[g];
}

void Schedule::collected(int gen, std::size_t survivors) noexcept {
    // A collection that waited 2^k times its threshold counts as 2^k of them for the next
    // generation: the older generations keep CPython's clock in allocations, and only their own
    // empty collections make them wait. (Counting it as one multiplied the waits: with young
    // collections that find nothing, a full collection came after 16 x 16 x 100 x threshold0
    // allocations, and the cyclic garbage of old objects piled up meanwhile.)
    const std::size_t weight = std::size_t{1} << (adaptive && gen < 2 ? wait_[static_cast<std::size_t>(gen)] : 0);
    if (gen == 0) {
        count1 += weight;
    } else if (gen == 1) {
        count1 = 0;
        count2 += weight;
        long_lived_pending_ += survivors;
    } else {
        count1 = count2 = 0;
        long_lived_total_ = survivors;
        long_lived_pending_ = 0;
        pending_index_ = pending_index_ + 1 < kNoIndex ? pending_index_ + 1 : kPendingBase;
    }
}

void Schedule::old_death(std::uint32_t word) noexcept {
    if (generation(word) == kPermanent) --frozen;
    else if ((word >> kIndexShift) == pending_index_ && long_lived_pending_ > 0) --long_lived_pending_;
}

}  // namespace ouro::detail
