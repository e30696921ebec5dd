// A map keyed by non-null pointers over OpenTable (the weak reference registry lives in one:
// std::unordered_map allocated a node per insert, a third of the cost of a weak reference's life).
#pragma once

#include <ouro/detail/open_table.hpp>

#include <cstddef>

namespace ouro::detail {

template <class V>
class PointerMap {
public:
    std::size_t size() const noexcept { return table_.size(); }
    bool empty() const noexcept { return table_.empty(); }
    std::size_t bytes() const noexcept { return table_.bytes(); }

    V* find(const void* key) const noexcept {
        Bucket* b = locate(key);
        return b ? &b->value : nullptr;
    }
    // The value for key, inserted value-initialised if absent. Throws std::bad_alloc (with the
    // map unchanged) when it must grow and cannot.
    V& operator[](const void* key) {
        if (V* v = find(key)) return *v;
        table_.reserve_one();
        return table_.place(Bucket{key, V{}}).value;
    }
    // Inserts key (with v) unless present; true when it was new. Throws std::bad_alloc as [].
    bool insert(const void* key, V v = V{}) {
        if (find(key)) return false;
        table_.reserve_one();
        table_.place(Bucket{key, v});
        return true;
    }
    bool erase(const void* key) noexcept {
        Bucket* b = locate(key);
        if (b) table_.erase(b);
        return b != nullptr;
    }
    template <class F>
    void for_each(F&& f) const {
        table_.for_each([&](const Bucket& b) { f(b.key, b.value); });
    }

private:
    struct Bucket {
        const void* key;  // null: empty
        V value;
        bool empty() const noexcept { return key == nullptr; }
        std::size_t hash() const noexcept { return mix_pointer(key); }
    };
    Bucket* locate(const void* key) const noexcept {
        return table_.find(mix_pointer(key), [key](const Bucket& b) { return b.key == key; });
    }
    OpenTable<Bucket> table_;
};

}  // namespace ouro::detail
