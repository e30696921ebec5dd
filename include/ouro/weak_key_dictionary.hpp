// ouro::WeakKeyDictionary<K, V> — Python's weakref.WeakKeyDictionary: a map from managed objects,
// held weakly and compared by identity, to ordinary values. An entry (and its value) goes away
// once its key dies. Use it to attach data to objects you do not own.
//
// Python -> C++: d[k] = v is insert_or_assign(k, v); d.get(k) is get(k) (an empty std::optional
// when absent or dead); k in d is contains(k); del d[k] is erase(k) (returns 0 instead of raising
// KeyError); len(d) is size(); `for k, v in d.items()` is `for (auto [k, v] : d)`.
//
// Iteration yields (const Ref<K>&, V&) for live entries only, holding a strong reference to the
// key being yielded. Entries may die, be erased or be inserted while a loop runs (also by a
// collection the loop body triggers): iterators stay valid and no entry is yielded twice; an entry
// inserted during the loop may or may not be yielded. The container must outlive its iterators.
// As in Python, a value that refers to its own key keeps that key alive.
#pragma once

#include <ouro/detail/weak_table.hpp>
#include <ouro/weakref.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>

namespace ouro {

template <class K, class V>
class WeakKeyDictionary : public detail::WeakContainer<WeakKeyDictionary<K, V>> {
    struct Entry {
        WeakRef<K> weak;
        const Object* identity;  // the key's address: hashed and compared while the key lives
        V value;
    };
    using Table = detail::WeakTable<Entry>;
    using Callback = typename Table::template Callback<K>;
    template <class Value>  // V or const V
    struct Yield {
        using value_type = std::pair<Ref<K>, V>;
        using reference = std::pair<const Ref<K>&, Value&>;
        using pointer = void;
        static reference get(Entry& e, const Ref<K>& key) noexcept { return {key, e.value}; }
    };
    friend detail::WeakContainer<WeakKeyDictionary>;

public:
    using key_type = Ref<K>;
    using mapped_type = V;
    using iterator = detail::WeakIterator<WeakKeyDictionary, Entry, Yield<V>>;
    using const_iterator = detail::WeakIterator<WeakKeyDictionary, Entry, Yield<const V>>;

    WeakKeyDictionary() = default;
    WeakKeyDictionary(const WeakKeyDictionary& other) {
        for (auto [key, value] : other) insert_or_assign(key, value);
    }
    WeakKeyDictionary(WeakKeyDictionary&&) noexcept = default;
    WeakKeyDictionary& operator=(const WeakKeyDictionary& other) {
        if (this != &other) WeakKeyDictionary(other).swap(*this);
        return *this;
    }
    WeakKeyDictionary& operator=(WeakKeyDictionary&& other) noexcept {
        WeakKeyDictionary(std::move(other)).swap(*this);
        return *this;
    }
    ~WeakKeyDictionary() = default;
    void swap(WeakKeyDictionary& other) noexcept { table_.swap(other.table_); }

    // d[key] = value. Returns true when a new entry was made, false when a live one was updated.
    // Throws std::invalid_argument for a null key.
    bool insert_or_assign(const Ref<K>& key, V value) {
        if (!key) throw std::invalid_argument("ouro::WeakKeyDictionary: the key is null");
        Table& t = table_.make();
        const Object* identity = key.get();
        std::uint32_t h = detail::identity_hash(identity);
        std::uint32_t id = t.find(h, detail::identity_is(identity));
        if (id == detail::kNoId) {
            t.insert(h, [&](std::uint32_t new_id) {
                return Entry{WeakRef<K>(key, Callback(&t, new_id)), identity, std::move(value)};
            });
            return true;
        }
        Entry& e = *t.slot(id).entry;
        bool was_alive = e.weak.alive();
        // The address of a key that died without its callback running: a new key, same slot.
        if (!was_alive) e.weak = WeakRef<K>(key, Callback(&t, id));
        // The old value dies with `old`, once the entry is consistent again. Moves, not a swap:
        // a swap of allocator-aware values over different allocators is undefined.
        [[maybe_unused]] V old(std::move(e.value));
        e.value = std::move(value);
        return !was_alive;
    }

    // A copy of the value, or nothing when the key is absent or dead.
    std::optional<V> get(const Ref<K>& key) const {
        if (const Entry* e = this->live_entry(this->find_identity(key.get()))) return e->value;
        return std::nullopt;
    }
    bool contains(const Ref<K>& key) const {
        return this->live_entry(this->find_identity(key.get())) != nullptr;
    }
    // Removes the entry (its value is destroyed); returns 1 when it was live, else 0.
    std::size_t erase(const Ref<K>& key) { return this->erase_id(this->find_identity(key.get())); }

    // size, empty, clear, begin, end and trace come from detail::WeakContainer. trace, for a
    // managed object that holds this dictionary, also declares the values' strong references (a
    // value that is a Ref, a WeakRef, a range of those, or has a trace(Visitor&) member), so a
    // cycle through the values can be collected.

private:
    detail::WeakTableHandle<Table> table_;
};

}  // namespace ouro
