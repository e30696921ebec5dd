// Open addressing over one flat power-of-two array: linear probing, deletion by backward shift
// (no tombstones), never above three quarters full. The weak reference registry (referent ->
// its records), the weak containers' index (hash -> entry id) and the collector's numbering of
// pools use it. A bucket that is all zero bytes is empty, and a bucket knows the hash that placed
// it, so growing calls no user code and a lookup allocates nothing.
#pragma once

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
// `std::size_t hash() const` (the mixed hash it was placed under).
template <class Bucket>
class OpenTable {
    static_assert(std::is_trivially_copyable_v<Bucket>);

public:
    OpenTable() = default;
    OpenTable(const OpenTable&) = delete;
    OpenTable& operator=(const OpenTable&) = delete;
    OpenTable(OpenTable&& o) noexcept : b_(std::exchange(o.b_, nullptr)), mask_(o.mask_), size_(std::exchange(o.size_, 0)) {}
    OpenTable& operator=(OpenTable&& o) noexcept {
        OpenTable(std::move(o)).swap(*this);
        return *this;
    }
    ~OpenTable() { std::free(b_); }
    void swap(OpenTable& o) noexcept {
        std::swap(b_, o.b_);
        std::swap(mask_, o.mask_);
        std::swap(size_, o.size_);
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t bytes() const noexcept { return b_ ? (mask_ + 1) * sizeof(Bucket) : 0; }

    // The bucket on hash h's probe run that `match` accepts, or null. (A bucket that keeps its
    // hash should let `match` compare it first; one keyed by a pointer compares the key.)
    template <class Match>
    Bucket* find(std::size_t h, Match&& match) const noexcept {
        if (!b_) return nullptr;
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            if (b_[i].empty()) return nullptr;
            if (match(b_[i])) return &b_[i];
        }
    }

    // Room for one more bucket, so that the place() that follows cannot fail. Throws
    // std::bad_alloc with the table unchanged.
    void reserve_one() {
        if ((size_ + 1) * 4 <= capacity() * 3) return;
        const std::size_t cap = b_ ? capacity() * 2 : 16;
        auto* fresh = static_cast<Bucket*>(std::calloc(cap, sizeof(Bucket)));
        if (!fresh) throw std::bad_alloc();
        Bucket* old = std::exchange(b_, fresh);
        const std::size_t old_cap = old ? mask_ + 1 : 0;
        mask_ = cap - 1;
        for (std::size_t k = 0; k < old_cap; ++k)
            if (!old[k].empty()) slot_for(old[k].hash()) = old[k];
        std::free(old);
    }
    // Puts b (not empty) in the first empty bucket of its probe run; reserve_one() first.
    Bucket& place(const Bucket& b) noexcept {
        Bucket& slot = slot_for(b.hash());
        slot = b;
        ++size_;
        return slot;
    }
    // Empties a bucket from find(): later members of its probe run move back into the hole
    // when that brings them no further from home.
    void erase(Bucket* hole) noexcept {
        std::size_t i = static_cast<std::size_t>(hole - b_);
        for (std::size_t j = (i + 1) & mask_; !b_[j].empty(); j = (j + 1) & mask_) {
            const std::size_t home = b_[j].hash() & mask_;
            if (((j - home) & mask_) >= ((j - i) & mask_)) {
                b_[i] = b_[j];
                i = j;
            }
        }
        std::memset(static_cast<void*>(&b_[i]), 0, sizeof(Bucket));
        --size_;
    }
    void clear() noexcept { OpenTable().swap(*this); }

    template <class F>
    void for_each(F&& f) const {
        for (std::size_t k = 0; b_ && k <= mask_; ++k)
            if (!b_[k].empty()) f(b_[k]);
    }

private:
    std::size_t capacity() const noexcept { return b_ ? mask_ + 1 : 0; }
    Bucket& slot_for(std::size_t h) noexcept {
        std::size_t i = h & mask_;
        while (!b_[i].empty()) i = (i + 1) & mask_;
        return b_[i];
    }

    Bucket* b_ = nullptr;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace ouro::detail
