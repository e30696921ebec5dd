// An open-addressing hash map keyed by non-null pointers: linear probing, deletion by backward
// shift (no tombstones), one flat array. The weak reference table lives in one: std::unordered_map
// allocated a node per insert, a third of the cost of a weak reference's life.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace ouro::detail {

template <class V>
class PointerMap {
public:
    PointerMap() = default;
    PointerMap(const PointerMap&) = delete;
    PointerMap& operator=(const PointerMap&) = delete;
    ~PointerMap() { std::free(slots_); }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    V* find(const void* key) noexcept {
        if (!slots_) return nullptr;
        for (std::size_t i = home(key);; i = (i + 1) & mask_) {
            if (slots_[i].key == key) return &slots_[i].value;
            if (!slots_[i].key) return nullptr;
        }
    }

    // The value for key, inserted value-initialised if absent. Throws std::bad_alloc (with the
    // map unchanged) when it must grow and cannot.
    V& operator[](const void* key) {
        if ((size_ + 1) * 4 > capacity() * 3) grow();
        std::size_t i = home(key);
        while (slots_[i].key && slots_[i].key != key) i = (i + 1) & mask_;
        if (!slots_[i].key) {
            slots_[i].key = key;
            slots_[i].value = V{};
            ++size_;
        }
        return slots_[i].value;
    }

    bool erase(const void* key) noexcept {
        if (!slots_) return false;
        std::size_t i = home(key);
        while (slots_[i].key != key) {
            if (!slots_[i].key) return false;
            i = (i + 1) & mask_;
        }
        // Backward shift: move later entries of the probe run into the hole when that brings them
        // no further from home than they were.
        for (std::size_t j = (i + 1) & mask_; slots_[j].key; j = (j + 1) & mask_) {
            std::size_t h = home(slots_[j].key);
            if (((j - h) & mask_) >= ((j - i) & mask_)) {
                slots_[i] = slots_[j];
                i = j;
            }
        }
        slots_[i].key = nullptr;
        --size_;
        return true;
    }

private:
    struct Slot {
        const void* key;  // null: empty
        V value;
    };
    std::size_t capacity() const noexcept { return slots_ ? mask_ + 1 : 0; }
    std::size_t home(const void* key) const noexcept {
        auto x = reinterpret_cast<std::uintptr_t>(key);
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        return static_cast<std::size_t>(x) & mask_;
    }
    void grow() {
        const std::size_t old_cap = capacity();
        const std::size_t cap = old_cap ? old_cap * 2 : 16;
        auto* fresh = static_cast<Slot*>(std::calloc(cap, sizeof(Slot)));
        if (!fresh) throw std::bad_alloc();
        Slot* old = std::exchange(slots_, fresh);
        mask_ = cap - 1;
        for (std::size_t k = 0; k < old_cap; ++k)
            if (old[k].key) {
                std::size_t i = home(old[k].key);
                while (slots_[i].key) i = (i + 1) & mask_;
                slots_[i] = old[k];
            }
        std::free(old);
    }

    Slot* slots_ = nullptr;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace ouro::detail
