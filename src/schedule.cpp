// The collection schedule (see schedule.hpp).
#include "schedule.hpp"

#include <cstdint>

namespace ouro::detail {

std::size_t Schedule::trigger() const noexcept {
    const bool automatic = enabled && threshold[0] != 0 && !collecting && !tearing_down;
    return automatic ? threshold[0] : SIZE_MAX;
}

int Schedule::choose() const noexcept {
    // The oldest generation over its threshold, where a full collection also waits until a
    // quarter of the long-lived objects are new.
    if (count2 > threshold[2] && long_lived_pending_ > long_lived_total_ / 4) return 2;
    if (count1 > threshold[1]) return 1;
    return 0;
}

void Schedule::collected(int gen, std::size_t survivors) noexcept {
    if (gen == 0) {
        ++count1;
    } else if (gen == 1) {
        count1 = 0;
        ++count2;
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
