// ouro::WeakKeyDictionary<K, V, Hash, KeyEqual> — Python's weakref.WeakKeyDictionary: a map from
// managed objects, held weakly, to ordinary values. An entry (and its value) goes away once its
// key dies. Use it to attach data to objects you do not own.
//
// Keys are compared by identity unless Hash and KeyEqual say otherwise (called with `const K&`,
// as Python compares weak references by their referents' __hash__ and __eq__). By value, as in
// Python, setting an equal key keeps the entry of the first one, which goes when that one dies.
//
// Python -> C++: d[k] = v is insert_or_assign(k, v); d.get(k) is get(k) (an empty std::optional
// when absent or dead); k in d is contains(k); del d[k] is erase(k) (returns 0 instead of raising
// KeyError); len(d) is size(); d.pop(k[, default]), d.popitem(), d.setdefault(k, default),
// d.update(other), d.keyrefs(), d | other and d |= other keep their names (ouro::KeyError where
// Python raises KeyError); `for k, v in d.items()` is `for (auto [k, v] : d)`.
//
// Iteration yields (const Ref<K>&, V&) for live entries only, holding a strong reference to the
// key being yielded. Entries may die while a loop runs (also by a collection the loop body
// triggers): no entry is yielded twice, and none whose key died. Adding or removing entries during
// the loop makes the next step throw std::runtime_error (Python's RuntimeError); assigning to a
// key already there does not. An iterator may outlive its container. As in Python, a value that
// refers to its own key keeps that key alive.
#pragma once

#include <ouro/detail/weak_table.hpp>
#include <ouro/exceptions.hpp>
#include <ouro/weakref.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace ouro {

namespace detail {
template <class Stored, class V>
struct KeyPayload {
    Stored key;  // the key's address, or its hash
    V value;
};
template <class Stored, class V>
struct KeyTraits : ReferentTraits<Stored> {
    using Payload = KeyPayload<Stored, V>;
};
}  // namespace detail

template <class K, class V, class Hash = IdentityHash, class KeyEqual = IdentityEqual>
class WeakKeyDictionary : public detail::ReferentKeyed<WeakKeyDictionary<K, V, Hash, KeyEqual>, K, Hash, KeyEqual>,
                          public detail::WeakMapping<WeakKeyDictionary<K, V, Hash, KeyEqual>> {
    using Base = detail::ReferentKeyed<WeakKeyDictionary, K, Hash, KeyEqual>;
    using Stored = typename Base::Stored;
    using Payload = detail::KeyPayload<Stored, V>;
    using Table = detail::WeakTable<detail::KeyTraits<Stored, V>>;
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
    friend Base;
    static constexpr bool kTrivialValue = std::is_trivially_copyable_v<V>;

public:
    using key_type = Ref<K>;
    using mapped_type = V;
    using iterator = detail::WeakIterator<WeakKeyDictionary, Table, Yield<V>>;
    using const_iterator = detail::WeakIterator<WeakKeyDictionary, Table, Yield<const V>>;

    WeakKeyDictionary() = default;
    explicit WeakKeyDictionary(Hash hash, KeyEqual eq = KeyEqual()) : Base(std::move(hash), std::move(eq)) {}
    WeakKeyDictionary(const WeakKeyDictionary& other) : Base(other.hash_, other.eq_) { this->update(other); }
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
    void swap(WeakKeyDictionary& other) noexcept {
        table_.swap(other.table_);
        this->swap_keys(other);
    }

    // d[key] = value. Returns true when a new entry was made, false when a live one was updated.
    // Throws std::invalid_argument for a null key.
    bool insert_or_assign(const Ref<K>& key, V value) {
        if (!key) throw std::invalid_argument("ouro::WeakKeyDictionary: the key is null");
        auto [kept, added] = this->insert_key(key, [&](void* p, Stored k) { ::new (p) Payload{k, std::move(value)}; });
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
        Slot* s = this->live_slot(this->find_key(key.get()));
        if (!s) return std::nullopt;
        typename Table::Guard guard(kTrivialValue ? nullptr : this->table());  // V's copy may run user code
        return s->payload().value;
    }
    bool contains(const Ref<K>& key) const { return this->live_slot(this->find_key(key.get())) != nullptr; }
    // Removes the entry (its value is destroyed); returns 1 when it was live, else 0.
    std::size_t erase(const Ref<K>& key) { return this->erase_slot(this->find_key(key.get())); }

    // d.pop(key): the value, its entry removed; KeyError when the key is absent.
    V pop(const Ref<K>& key) {
        return this->take_slot(this->find_key(key.get()), "ouro::WeakKeyDictionary::pop: no such key",
                               [](Slot& s, const Ref<Object>&) { return V(std::move(s.payload().value)); });
    }
    // d.pop(key, default).
    V pop(const Ref<K>& key, V default_value) {
        Slot* s = this->find_key(key.get());
        if (s && s->alive()) return pop(key);
        this->erase_slot(s);  // a dead entry at the key's address goes too
        return default_value;
    }
    // d.popitem(): some live entry, removed; KeyError when there is none.
    std::pair<Ref<K>, V> popitem() {
        return this->pop_any("popitem(): dictionary is empty", [](Slot& s, const Ref<Object>& key) {
            return std::pair<Ref<K>, V>(Ref<K>(static_cast<K*>(key.get())), std::move(s.payload().value));
        });
    }
    // d.setdefault(key, default): the value under key, default_value put there first when the key
    // is absent.
    V setdefault(const Ref<K>& key, V default_value = V()) {
        if (std::optional<V> v = get(key)) return std::move(*v);
        insert_or_assign(key, default_value);
        return default_value;
    }
    // update, |= and | (Python's update(), |= and |) come from detail::WeakMapping.
    // d.keyrefs(): WeakRefs to the keys (the entries' own records; dead ones included).
    std::vector<WeakRef<K>> keyrefs() const { return this->template entry_refs<K>(); }

    // size, empty, clear, begin, end and trace come from detail::WeakContainer. trace, for a
    // managed object that holds this dictionary, also declares the values' strong references (a
    // value that is a Ref, a WeakRef, a range of those, or has a trace(Visitor&) member), so a
    // cycle through the values can be collected.

private:
    detail::WeakTableHandle<Table> table_;
};

}  // namespace ouro
