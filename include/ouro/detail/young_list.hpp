// YoungList: the tracked objects of generations 0 and 1, in one array. Each member's header
// holds its position, so removal is one store. Positions [0, boundary) are generation 1 and
// [boundary, size) generation 0: a collection of generation 0 promotes its survivors by moving
// the boundary, without touching them (CPython splices a list; we write one integer).
#pragma once

#include <ouro/object.hpp>

#include <cstdint>
#include <string>

namespace ouro::detail {

class YoungList {
public:
    YoungList() = default;
    ~YoungList();
    YoungList(const YoungList&) = delete;
    YoungList& operator=(const YoungList&) = delete;

    // Appends a generation-0 object; false when the array is full (see push).
    OURO_ALWAYS_INLINE bool try_push(Object* o) noexcept {
        if (OURO_UNLIKELY(size_ == capacity_)) return false;
        std::uint32_t& w = gcword(o);
        w = (w & kFlagBits & ~kGenMask) | size_ << kIndexShift;
        items_[size_++] = o;
        return true;
    }
    // Appends to generation 0 (old = false) or 1, making room first: squeezing out holes or
    // growing. Returns false when there is no room (kYoungListLimit entries, or no memory): the
    // caller then puts the object in generation 2.
    bool push(Object* o, bool old) noexcept;
    // A dead or departing member leaves a hole; the collector skips holes.
    OURO_ALWAYS_INLINE void remove(Object* o) noexcept { items_[gcword(o) >> kIndexShift] = nullptr; }

    // Generation 0 joins generation 1.
    void promote_all() noexcept { boundary_ = size_; }
    void clear() noexcept { size_ = boundary_ = 0; }

    std::uint32_t size() const noexcept { return size_; }
    // Members (not holes) from position `from` on.
    std::size_t count_live(std::uint32_t from) const noexcept {
        std::size_t live = 0;
        for (std::uint32_t i = from; i < size_; ++i) live += items_[i] != nullptr;
        return live;
    }
    std::uint32_t boundary() const noexcept { return boundary_; }
    Object* operator[](std::uint32_t i) const noexcept { return items_[i]; }
    // The first broken invariant (positions, generations, the boundary), described, or "".
    std::string check() const;
    // The members of one generation (holes included).
    Object* const* begin(int gen) const noexcept { return items_ + (gen == 0 ? boundary_ : 0); }
    Object* const* end(int gen) const noexcept { return items_ + (gen == 0 ? size_ : boundary_); }

private:
    void squeeze() noexcept;

    Object** items_ = nullptr;
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = 0;
    std::uint32_t boundary_ = 0;
    std::uint32_t refused_ = 0;  // pushes refused since the last squeeze at the size limit
};

}  // namespace ouro::detail
