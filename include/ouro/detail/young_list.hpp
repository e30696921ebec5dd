// YoungList: the tracked objects of generations 0 and 1, in one dense array. Each member's header
// holds its position. Positions [0, boundary) are generation 1 and [boundary, size) generation
// 0: a collection of generation 0 promotes its survivors by moving the boundary, without touching
// them (CPython splices a list; we write one integer). A member that dies is replaced by the last
// member of its generation (generation 1's hole then moves to the boundary, which generation 0's
// last member fills), so a young collection reads exactly the live young objects: with holes, a
// program that allocates and frees many short-lived objects between collections made each one
// read every entry it had ever appended.
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
        place(o, size_++);
        return true;
    }
    // Appends to generation 0 (old = false) or 1, growing the array first if it must. Returns
    // false when there is no room (kYoungListLimit entries, or no memory): the caller then puts
    // the object in generation 2.
    bool push(Object* o, bool old) noexcept;
    // A member leaves (it died, or a collection found it unreachable).
    OURO_ALWAYS_INLINE void remove(Object* o) noexcept {
        std::uint32_t hole = gcword(o) >> kIndexShift;
        if (hole < boundary_) {
            if (--boundary_ != hole) place(items_[boundary_], hole);
            hole = boundary_;
        }
        if (--size_ != hole) place(items_[size_], hole);
    }

    // After a collection: a list much bigger than its members (a burst of objects that died or
    // grew old) gives most of its array back.
    void shrink() noexcept;

    // Generation 0 joins generation 1.
    void promote_all() noexcept { boundary_ = size_; }
    void clear() noexcept { size_ = boundary_ = 0; }

    std::uint32_t size() const noexcept { return size_; }
    std::uint32_t boundary() const noexcept { return boundary_; }
    Object* operator[](std::uint32_t i) const noexcept { return items_[i]; }
    // The first broken invariant (positions, generations, the boundary), described, or "".
    std::string check() const;
    // The members of one generation.
    Object* const* begin(int gen) const noexcept { return items_ + (gen == 0 ? boundary_ : 0); }
    Object* const* end(int gen) const noexcept { return items_ + (gen == 0 ? size_ : boundary_); }

private:
    OURO_ALWAYS_INLINE void place(Object* o, std::uint32_t i) noexcept {
        items_[i] = o;
        std::uint32_t& w = gcword(o);
        w = (w & kFlagBits & ~kGenMask) | i << kIndexShift;
    }

    Object** items_ = nullptr;
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = 0;
    std::uint32_t boundary_ = 0;
};

}  // namespace ouro::detail
