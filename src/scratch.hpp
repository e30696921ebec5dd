// Scratch arrays that live for one collection.
//
// A full collection of a million objects needs ~10 MB of scratch for a few milliseconds. From
// malloc that is thousands of page faults every time (a fifth of a full collection).
// Large arrays therefore come straight from mmap with transparent huge pages requested: a few
// faults, memory that is already zero, and all of it back to the OS when the collection ends.
#pragma once

#include "os.hpp"

#include <ouro/detail/fault_injection.hpp>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace ouro::detail {

template <class T>
class ScratchArray {
    static_assert(std::is_trivial_v<T>);

public:
    ScratchArray() = default;
    ~ScratchArray() { release(); }
    ScratchArray(ScratchArray&& o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_), mapped_(o.mapped_) {
        o.data_ = nullptr;
        o.size_ = o.cap_ = 0;
    }
    ScratchArray(const ScratchArray&) = delete;
    ScratchArray& operator=(const ScratchArray&) = delete;
    ScratchArray& operator=(ScratchArray&&) = delete;

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }
    bool empty() const noexcept { return size_ == 0; }
    T* begin() noexcept { return data_; }
    T* end() noexcept { return data_ + size_; }
    const T* begin() const noexcept { return data_; }
    const T* end() const noexcept { return data_ + size_; }

    // n elements, all zero (capacity kept from earlier use). Only the elements the array had room
    // for before are written: what reserve() adds is zero already (a fresh mapping's pages, which
    // a full collection's arrays always are, are written once, by the kernel).
    void assign_zero(std::size_t n) {
        const std::size_t old = cap_ < n ? cap_ : n;
        reserve(n);
        if (old) std::memset(static_cast<void*>(data_), 0, old * sizeof(T));
        size_ = n;
    }
    void clear() noexcept { size_ = 0; }

    // Shrinks (capacity stays).
    void resize(std::size_t n) noexcept {
        if (n < size_) size_ = n;
    }

    void push_back(T v) {
        if (size_ == cap_) reserve(cap_ ? cap_ * 2 : 1024);
        data_[size_++] = v;
    }
    // After elements up to n were written through data() within the capacity reserve() made.
    void commit(std::size_t n) noexcept { size_ = n; }

    // Grows the capacity to at least n elements (doubling at least); new elements are zero.
    void reserve(std::size_t n) {
        if (n <= cap_) return;
        if (n < cap_ * 2) n = cap_ * 2;
        fault_point();
        std::size_t bytes = n * sizeof(T);
        if (bytes < kMapThreshold && !mapped_) {
            void* p = std::realloc(data_, bytes);
            if (!p) throw std::bad_alloc();
            std::memset(static_cast<char*>(p) + cap_ * sizeof(T), 0, bytes - cap_ * sizeof(T));
            data_ = static_cast<T*>(p);
        } else {
            bytes = (bytes + kHuge - 1) & ~(kHuge - 1);
            void* p = nullptr;
            if (mapped_) {
                p = os::remap(data_, cap_ * sizeof(T), bytes);
            } else {
                p = os::map(bytes);
                if (p && data_) {
                    std::memcpy(p, data_, size_ * sizeof(T));
                    std::free(data_);
                }
            }
            if (!p) throw std::bad_alloc();
            os::prefer_huge_pages(p, bytes);
            data_ = static_cast<T*>(p);
            mapped_ = true;
            n = bytes / sizeof(T);
        }
        cap_ = n;
    }

    // Gives a mapped array (1 MiB or more: a big collection's) back to the OS; small ones stay
    // for the next collection.
    void trim() noexcept {
        if (!mapped_) return;
        release();
        data_ = nullptr;
        size_ = cap_ = 0;
        mapped_ = false;
    }

private:
    static constexpr std::size_t kMapThreshold = 1 << 20;
    static constexpr std::size_t kHuge = 2 << 20;

    void release() noexcept {
        if (mapped_) os::unmap(data_, cap_ * sizeof(T));
        else std::free(data_);
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
    bool mapped_ = false;
};

}  // namespace ouro::detail
