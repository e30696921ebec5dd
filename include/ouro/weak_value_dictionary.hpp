// ouro::WeakValueDictionary<K, V> — Python's weakref.WeakValueDictionary: a map whose values are
// managed objects held weakly. An entry disappears once its value dies (by its count or in a
// collection); keys are ordinary values, hashed with Hash and compared with KeyEqual.
//
// Python -> C++: d[k] = v is insert_or_assign(k, v); d.get(k) is get(k) (a null Ref when absent
// or dead); k in d is contains(k); del d[k] is erase(k) (returns 0 instead of raising KeyError);
// len(d) is size(); `for k, v in d.items()` is `for (auto [k, v] : d)`.
//
// Iteration yields (const K&, const Ref<V>&) for live entries only, holding a strong reference to
// the value being yielded. Entries may die, be erased or be inserted while a loop runs (also by a
// collection the loop body triggers): iterators stay valid and no entry is yielded twice; an entry
// inserted during the loop may or may not be yielded. The container must outlive its iterators.
// Like the referents, a container is used by one thread at a time.
#pragma once

#include <ouro/detail/weak_table.hpp>
#include <ouro/weakref.hpp>

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <utility>

namespace ouro {

template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class WeakValueDictionary : public detail::WeakContainer<WeakValueDictionary<K, V, Hash, KeyEqual>> {
    struct Entry {
        K key;
        WeakRef<V> weak;
    };
    using Table = detail::WeakTable<Entry>;
    using Callback = typename Table::template Callback<V>;
    struct Yield {
        using value_type = std::pair<K, Ref<V>>;
        using reference = std::pair<const K&, const Ref<V>&>;
        using pointer = void;
        static reference get(Entry& e, const Ref<V>& value) noexcept { return {e.key, value}; }
    };
    friend detail::WeakContainer<WeakValueDictionary>;

public:
    using key_type = K;
    using mapped_type = Ref<V>;
    using iterator = detail::WeakIterator<WeakValueDictionary, Entry, Yield>;
    using const_iterator = iterator;

    WeakValueDictionary() = default;
    WeakValueDictionary(const WeakValueDictionary& other) : hash_(other.hash_), eq_(other.eq_) {
        for (auto [key, value] : other) insert_or_assign(key, value);
    }
    WeakValueDictionary(WeakValueDictionary&&) noexcept = default;
    WeakValueDictionary& operator=(const WeakValueDictionary& other) {
        if (this != &other) WeakValueDictionary(other).swap(*this);
        return *this;
    }
    WeakValueDictionary& operator=(WeakValueDictionary&& other) noexcept {
        WeakValueDictionary(std::move(other)).swap(*this);
        return *this;
    }
    ~WeakValueDictionary() = default;
    void swap(WeakValueDictionary& other) noexcept {
        using std::swap;
        table_.swap(other.table_);
        swap(hash_, other.hash_);
        swap(eq_, other.eq_);
    }

    // d[key] = value. Returns true when a new entry was made, false when a live one was replaced.
    // Throws std::invalid_argument for a null value (Python cannot weakly reference None either).
    bool insert_or_assign(K key, const Ref<V>& value) {
        if (!value) throw std::invalid_argument("ouro::WeakValueDictionary: the value is null");
        Table& t = table_.make();
        std::uint32_t h = detail::mix_hash(hash_(key));
        std::uint32_t id = t.find(h, [&](const Entry& e) { return eq_(e.key, key); });
        if (id != detail::kNoId) {
            Entry& e = *t.slot(id).entry;
            bool was_alive = e.weak.alive();
            e.weak = WeakRef<V>(value, Callback(&t, id));  // the old record's callback finds no match
            return !was_alive;
        }
        t.insert(h, [&](std::uint32_t new_id) { return Entry{std::move(key), WeakRef<V>(value, Callback(&t, new_id))}; });
        return true;
    }

    // The value, or a null Ref when the key is absent or its value has died.
    Ref<V> get(const K& key) const {
        std::uint32_t id = find_id(key);
        return id != detail::kNoId ? this->entry(id).weak() : Ref<V>();
    }
    bool contains(const K& key) const { return this->live_entry(find_id(key)) != nullptr; }
    // Removes the entry; returns 1 when it was live, else 0.
    std::size_t erase(const K& key) { return this->erase_id(find_id(key)); }

    // size, empty, clear, begin, end and trace (for a managed object that holds this dictionary)
    // come from detail::WeakContainer.

private:
    std::uint32_t find_id(const K& key) const {
        if (!this->table()) return detail::kNoId;  // an empty dictionary does not call Hash
        return this->lookup(detail::mix_hash(hash_(key)), [&](const Entry& e) { return eq_(e.key, key); });
    }

    detail::WeakTableHandle<Table> table_;
    [[no_unique_address]] Hash hash_;
    [[no_unique_address]] KeyEqual eq_;
};

}  // namespace ouro
