// ouro::WeakValueDictionary<K, V> — Python's weakref.WeakValueDictionary: a map whose values are
// managed objects held weakly. An entry disappears once its value dies (by its count or in a
// collection); keys are ordinary values, hashed with Hash and compared with KeyEqual.
//
// Python -> C++: d[k] = v is insert_or_assign(k, v); d.get(k) is get(k) (a null Ref when absent
// or dead); k in d is contains(k); del d[k] is erase(k) (returns 0 instead of raising KeyError);
// len(d) is size(); d.pop(k[, default]), d.popitem(), d.setdefault(k, default), d.update(other),
// d.valuerefs(), d | other and d |= other keep their names (ouro::KeyError where Python raises
// KeyError); `for k, v in d.items()` is `for (auto [k, v] : d)`.
//
// Iteration yields (const K&, const Ref<V>&) for live entries only, holding a strong reference to
// the value being yielded. Entries may die while a loop runs (also by a collection the loop body
// triggers): no entry is yielded twice, and none whose value died. Adding or removing entries
// during the loop makes the next step throw std::runtime_error (Python's RuntimeError); assigning
// to a key already there does not. An iterator may outlive its container.
// Like the referents, a container is used by one thread at a time.
#pragma once

#include <ouro/detail/weak_table.hpp>
#include <ouro/exceptions.hpp>
#include <ouro/weakref.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ouro {

namespace detail {
// A WeakValueDictionary's payload: the key, and its hash when Hash cannot be asked again without
// risk (a stateless hasher that cannot throw is asked again when the entry goes).
template <class K, class Hash>
inline constexpr bool kRehashKeys = std::is_empty_v<Hash> && std::is_nothrow_default_constructible_v<Hash> &&
                                    std::is_nothrow_invocable_v<const Hash&, const K&>;
template <class K, bool kStoreHash>
struct ValuePayload {
    K key;
};
template <class K>
struct ValuePayload<K, true> {
    std::uint32_t hash;
    K key;
};
// Keys whose comparison runs no user code (std::equal_to over a scalar or a std::string): their
// lookups need no guard against the comparison changing the dictionary.
template <class K, class KeyEqual>
inline constexpr bool kPlainKeyEqual =
    (std::is_same_v<KeyEqual, std::equal_to<K>> || std::is_same_v<KeyEqual, std::equal_to<>>) &&
    (std::is_scalar_v<K> || std::is_same_v<K, std::string>);
template <class K, class Hash>
struct ValueTraits {
    using Payload = ValuePayload<K, !kRehashKeys<K, Hash>>;
    template <class Slot>
    static std::uint32_t hash(const Slot& s) noexcept {
        if constexpr (kRehashKeys<K, Hash>) return mix_hash(Hash{}(s.payload().key));
        else return s.payload().hash;
    }
};
}  // namespace detail

template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class WeakValueDictionary : public detail::WeakContainer<WeakValueDictionary<K, V, Hash, KeyEqual>>,
                            public detail::WeakMapping<WeakValueDictionary<K, V, Hash, KeyEqual>> {
    using Traits = detail::ValueTraits<K, Hash>;
    using Payload = typename Traits::Payload;
    using Table = detail::WeakTable<Traits>;
    using Slot = typename Table::Slot;
    struct Yield {
        using value_type = std::pair<K, Ref<V>>;
        using reference = std::pair<const K&, const Ref<V>&>;
        using pointer = void;
        using Held = Ref<V>;
        static reference get(Slot& s, const Ref<V>& value) noexcept { return {s.payload().key, value}; }
    };
    friend detail::WeakContainer<WeakValueDictionary>;

public:
    using key_type = K;
    using mapped_type = Ref<V>;
    using iterator = detail::WeakIterator<WeakValueDictionary, Table, Yield>;
    using const_iterator = iterator;

    WeakValueDictionary() = default;
    WeakValueDictionary(const WeakValueDictionary& other) : hash_(other.hash_), eq_(other.eq_) { this->update(other); }
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
        auto* referent = const_cast<Object*>(static_cast<const Object*>(value.get()));
        const std::uint32_t h = detail::mix_hash(hash_(key));
        Slot* s = find_slot(key, h);
        Table& t = table_.make();  // after Hash and KeyEqual: they may have replaced the table
        if (!s) {
            t.insert(h, referent, [&](void* p) { make_payload(p, h, std::move(key)); });
            return true;
        }
        const bool was_alive = s->alive();
        // Another referent: its record, when someone else holds it too (a WeakRef from
        // getweakrefs, or a death running its removal), keeps the old one, and the key gets a new
        // entry (with this key: an equal one, as the entry's key is not copied).
        if (s->referent != referent) t.repoint(h, *s, referent, [&](void* p) { make_payload(p, h, std::move(key)); });
        return !was_alive;
    }

    // The value, or a null Ref when the key is absent or its value has died.
    Ref<V> get(const K& key) const {
        Slot* s = find_slot(key);
        return s && s->alive() ? Ref<V>(static_cast<V*>(s->referent)) : Ref<V>();
    }
    bool contains(const K& key) const { return this->live_slot(find_slot(key)) != nullptr; }
    // Removes the entry; returns 1 when it was live, else 0.
    std::size_t erase(const K& key) { return this->erase_slot(find_slot(key)); }

    // d.pop(key): the value, its entry removed; KeyError when the key is absent or its value has
    // died (that entry is removed too, as in Python).
    Ref<V> pop(const K& key) {
        return this->take_slot(find_slot(key), "ouro::WeakValueDictionary::pop: no such key",
                               [](Slot&, const Ref<Object>& v) { return Ref<V>(static_cast<V*>(v.get())); });
    }
    // d.pop(key, default).
    Ref<V> pop(const K& key, Ref<V> default_value) {
        Slot* s = find_slot(key);
        if (s && s->alive()) return pop(key);
        this->erase_slot(s);  // a dead entry goes too
        return default_value;
    }
    // d.popitem(): some live entry, removed; KeyError when there is none.
    std::pair<K, Ref<V>> popitem() {
        return this->pop_any("popitem(): dictionary is empty", [](Slot& s, const Ref<Object>& v) {
            return std::pair<K, Ref<V>>(std::move(s.payload().key), Ref<V>(static_cast<V*>(v.get())));
        });
    }
    // d.setdefault(key, default): the live value under key, or default_value put there (a null
    // one throws std::invalid_argument, as Python cannot weakly reference None).
    Ref<V> setdefault(const K& key, const Ref<V>& default_value) {
        if (Ref<V> v = get(key)) return v;
        insert_or_assign(key, default_value);
        return default_value;
    }
    // update, |= and | (Python's update(), |= and |) come from detail::WeakMapping.
    // d.valuerefs(): WeakRefs to the values (the entries' own records; dead ones included).
    std::vector<WeakRef<V>> valuerefs() const { return this->template entry_refs<V>(); }

    // size, empty, clear, begin, end and trace (for a managed object that holds this dictionary)
    // come from detail::WeakContainer.

private:
    static void make_payload(void* p, [[maybe_unused]] std::uint32_t h, K&& key) {
        if constexpr (detail::kRehashKeys<K, Hash>) ::new (p) Payload{std::move(key)};
        else ::new (p) Payload{h, std::move(key)};
    }
    Slot* find_slot(const K& key) const {
        if (!this->table()) return nullptr;  // an empty dictionary does not call Hash
        return find_slot(key, detail::mix_hash(hash_(key)));
    }
    Slot* find_slot(const K& key, std::uint32_t h) const {
        // KeyEqual may be user code (which may change or replace this dictionary).
        return this->template lookup<!detail::kPlainKeyEqual<K, KeyEqual>>(h, [&](const Slot& x) { return static_cast<bool>(eq_(x.payload().key, key)); });
    }

    detail::WeakTableHandle<Table> table_;
    [[no_unique_address]] Hash hash_;
    [[no_unique_address]] KeyEqual eq_;
};

}  // namespace ouro
