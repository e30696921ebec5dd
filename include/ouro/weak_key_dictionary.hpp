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
// inserted during the loop may or may not be yielded. An iterator may outlive its container.
// As in Python, a value that refers to its own key keeps that key alive.
#pragma once

#include <ouro/detail/weak_table.hpp>
#include <ouro/weakref.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace ouro {

namespace detail {
template <class V>
struct KeyPayload {
    const Object* identity;  // the key's address
    V value;
};
template <class V>
struct KeyTraits : IdentityTraits {
    using Payload = KeyPayload<V>;
};
}  // namespace detail

template <class K, class V>
class WeakKeyDictionary : public detail::WeakContainer<WeakKeyDictionary<K, V>> {
    using Payload = detail::KeyPayload<V>;
    using Table = detail::WeakTable<detail::KeyTraits<V>>;
    using Slot = typename Table::Slot;
    template <class Value>  // V or const V
    struct Yield {
        using value_type = std::pair<Ref<K>, V>;
        using reference = std::pair<const Ref<K>&, Value&>;
        using pointer = void;
        using Held = Ref<K>;
        static reference get(Slot& s, const Ref<K>& key) noexcept { return {key, s.payload().value}; }
    };
    friend detail::WeakContainer<WeakKeyDictionary>;
    static constexpr bool kTrivialValue = std::is_trivially_copyable_v<V>;

public:
    using key_type = Ref<K>;
    using mapped_type = V;
    using iterator = detail::WeakIterator<WeakKeyDictionary, Table, Yield<V>>;
    using const_iterator = detail::WeakIterator<WeakKeyDictionary, Table, Yield<const V>>;

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
        auto [kept, added] = this->insert_identity(const_cast<Object*>(static_cast<const Object*>(key.get())),
                                                   [&](void* p) { ::new (p) Payload{key.get(), std::move(value)}; });
        if (kept) {
            // An iteration meanwhile, so that user code in V's moves cannot destroy the entry
            // under the assignment. The old value dies with `old`, after the guard. Moves, not a
            // swap: a swap of allocator-aware values over different allocators is undefined.
            typename Table::Guard guard(kTrivialValue ? nullptr : this->table());
            [[maybe_unused]] V old(std::move(kept->payload().value));
            kept->payload().value = std::move(value);
            guard.end();
        }
        return added;
    }

    // A copy of the value, or nothing when the key is absent or dead.
    std::optional<V> get(const Ref<K>& key) const {
        Slot* s = this->live_slot(this->find_identity(key.get()));
        if (!s) return std::nullopt;
        typename Table::Guard guard(kTrivialValue ? nullptr : this->table());  // V's copy may run user code
        return s->payload().value;
    }
    bool contains(const Ref<K>& key) const { return this->live_slot(this->find_identity(key.get())) != nullptr; }
    // Removes the entry (its value is destroyed); returns 1 when it was live, else 0.
    std::size_t erase(const Ref<K>& key) { return this->erase_slot(this->find_identity(key.get())); }

    // size, empty, clear, begin, end and trace come from detail::WeakContainer. trace, for a
    // managed object that holds this dictionary, also declares the values' strong references (a
    // value that is a Ref, a WeakRef, a range of those, or has a trace(Visitor&) member), so a
    // cycle through the values can be collected.

private:
    detail::WeakTableHandle<Table> table_;
};

}  // namespace ouro
