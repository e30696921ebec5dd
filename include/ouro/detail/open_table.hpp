// Open addressing over one flat array: linear probing, deletion by backward shift (no
// tombstones). A bucket that is all zero bytes is empty, and a bucket knows the hash that placed
// it, so growing calls no user code and a lookup allocates nothing. Two shapes:
// - OpenTable<Bucket>: a power-of-two capacity that doubles when three quarters full (the
//   collector's numbering of pools, PointerMap); a bucket's home is the hash's low bits.
// - OpenTable<Bucket, true>, WeakHash: the weak reference registry (referent -> its records) and
//   the weak containers' index (hash -> entry id), where buckets are the memory a weak reference
//   costs beyond its record (docs/design.md §7). The capacity need not be a power of two: a
//   bucket's home is (32-bit hash × capacity) >> 32, so the table grows by a quarter when 80% full
//   and stays 64–80% full (a doubling table swings between 37.5% and 75%); it halves when down to
//   an eighth full.
#pragma once

#include <ouro/detail/fault_injection.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace ouro::detail {

// 64 well-mixed bits (MurmurHash3's finalizer): pointers and std::hash of integers are not.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}
inline std::uint64_t mix_pointer(const void* p) noexcept { return mix(reinterpret_cast<std::uintptr_t>(p)); }

// Bucket: trivially copyable; all zero bytes when empty; `bool empty() const` and
// `std::size_t hash() const` (the mixed hash it was placed under; kCompact uses its low 32 bits).
template <class Bucket, bool kCompact = false>
class OpenTable {
    static_assert(std::is_trivially_copyable_v<Bucket>);

public:
    OpenTable() = default;
    OpenTable(const OpenTable&) = delete;
    OpenTable& operator=(const OpenTable&) = delete;
    OpenTable(OpenTable&& o) noexcept
        : b_(std::exchange(o.b_, nullptr)), cap_(std::exchange(o.cap_, 0)), size_(std::exchange(o.size_, 0)) {}
    OpenTable& operator=(OpenTable&& o) noexcept {
        OpenTable(std::move(o)).swap(*this);
        return *this;
    }
    ~OpenTable() { std::free(b_); }
    void swap(OpenTable& o) noexcept {
        std::swap(b_, o.b_);
        std::swap(cap_, o.cap_);
        std::swap(size_, o.size_);
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t bytes() const noexcept { return cap_ * sizeof(Bucket); }

    // The bucket on hash h's probe run that `match` accepts, or null. (A bucket that keeps its
    // hash should let `match` compare it first; one keyed by a pointer compares the key.) A match
    // that runs user code may throw; one that may change the table must return true once it
    // has (the probe then stops, and its result is not to be used): the bucket's address is
    // taken before the call, as the array may be gone after it.
    template <class Match>
    Bucket* find(std::size_t h, Match&& match) const noexcept(std::is_nothrow_invocable_v<Match&, Bucket&>) {
        if (!b_) return nullptr;
        for (std::size_t i = home(h);; i = step(i)) {
            Bucket* b = &b_[i];
            if (b->empty()) return nullptr;
            if (match(*b)) return b;
        }
    }

    // Room for one more bucket, so that the place() that follows cannot fail. Throws
    // std::bad_alloc with the table unchanged.
    void reserve_one() {
        if (kCompact ? (size_ + 1) * 5 <= cap_ * 4 : (size_ + 1) * 4 <= cap_ * 3) return;
        if constexpr (kCompact) fault_point();
        const std::size_t cap = !b_ ? 16 : kCompact ? cap_ + cap_ / 4 : cap_ * 2;
        if (!rehash(cap)) throw std::bad_alloc();
    }
    // Puts b (not empty) in the first empty bucket of its probe run; reserve_one() first.
    Bucket& place(const Bucket& b) noexcept {
        Bucket& slot = slot_for(b.hash());
        slot = b;
        ++size_;
        return slot;
    }
    // Empties a bucket from find(): later members of its probe run move back into the hole when
    // that brings them no further from home. (kCompact: a table down to an eighth full is halved,
    // when the memory for that can be had.) Bucket pointers from before do not survive an erase.
    void erase(Bucket* hole) noexcept {
        std::size_t i = static_cast<std::size_t>(hole - b_);
        for (std::size_t j = step(i); !b_[j].empty(); j = step(j)) {
            if (distance(home(b_[j].hash()), j) >= distance(i, j)) {
                b_[i] = b_[j];
                i = j;
            }
        }
        std::memset(static_cast<void*>(&b_[i]), 0, sizeof(Bucket));
        --size_;
        if constexpr (kCompact)
            if (cap_ > 64 && size_ * 8 < cap_) rehash(cap_ / 2);
    }
    void clear() noexcept { OpenTable().swap(*this); }
    // Empties the table but keeps its memory (a table emptied and refilled again and again).
    void reset() noexcept {
        if (b_) std::memset(static_cast<void*>(b_), 0, cap_ * sizeof(Bucket));
        size_ = 0;
    }

    template <class F>
    void for_each(F&& f) const {
        for (std::size_t k = 0; k < cap_; ++k)
            if (!b_[k].empty()) f(b_[k]);
    }
    template <class F>
    void for_each(F&& f) {  // f may change what a bucket holds, not its hash
        for (std::size_t k = 0; k < cap_; ++k)
            if (!b_[k].empty()) f(b_[k]);
    }

private:
    std::size_t home(std::size_t h) const noexcept {
        if constexpr (kCompact) return static_cast<std::size_t>((std::uint64_t{static_cast<std::uint32_t>(h)} * cap_) >> 32);
        else return h & (cap_ - 1);
    }
    std::size_t step(std::size_t i) const noexcept {
        if constexpr (kCompact) return i + 1 == cap_ ? 0 : i + 1;
        else return (i + 1) & (cap_ - 1);
    }
    // From a to b along the probe order (b reached from a).
    std::size_t distance(std::size_t a, std::size_t b) const noexcept {
        if constexpr (kCompact) return b >= a ? b - a : b + cap_ - a;
        else return (b - a) & (cap_ - 1);
    }
    Bucket& slot_for(std::size_t h) noexcept {
        std::size_t i = home(h);
        while (!b_[i].empty()) i = step(i);
        return b_[i];
    }
    // Moves every bucket into a fresh array of `cap` buckets; false (the table unchanged) when
    // the memory cannot be had.
    bool rehash(std::size_t cap) noexcept {
        if (kCompact && cap > (std::size_t{1} << 32)) return false;
        auto* fresh = static_cast<Bucket*>(std::calloc(cap, sizeof(Bucket)));
        if (!fresh) return false;
        Bucket* old = std::exchange(b_, fresh);
        const std::size_t old_cap = std::exchange(cap_, cap);
        for (std::size_t k = 0; k < old_cap; ++k)
            if (!old[k].empty()) slot_for(old[k].hash()) = old[k];
        std::free(old);
        return true;
    }

    Bucket* b_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t size_ = 0;
};

template <class Bucket>
using WeakHash = OpenTable<Bucket, true>;

}  // namespace ouro::detail
