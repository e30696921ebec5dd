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
#include <functional>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <utility>

namespace ouro {

template <class K, class V>
class WeakKeyDictionary {
    struct Entry {
        WeakRef<K> weak;
        const Object* identity;  // the key's address: hashed and compared while the key lives
        V value;
    };
    using Table = detail::WeakTable<Entry>;
    using Callback = typename Table::template Callback<K>;

    template <bool Const>
    class basic_iterator {
        using Value = std::conditional_t<Const, const V, V>;

    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = std::pair<Ref<K>, V>;
        using reference = std::pair<const Ref<K>&, Value&>;
        using difference_type = std::ptrdiff_t;

        basic_iterator() noexcept = default;
        reference operator*() const noexcept { return {key_, cursor_.slot().entry->value}; }
        basic_iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        bool operator==(const basic_iterator& o) const noexcept { return cursor_ == o.cursor_; }

    private:
        friend class WeakKeyDictionary;
        explicit basic_iterator(Table* t) : cursor_(t) { advance(); }
        void advance() {
            while (auto* slot = cursor_.next())
                if (Ref<K> k = slot->entry->weak()) {
                    key_ = std::move(k);
                    return;
                }
            key_ = nullptr;
        }
        detail::WeakCursor<Table> cursor_;  // declared first: destroyed after key_
        Ref<K> key_;                        // keeps the yielded key alive
    };

public:
    using key_type = Ref<K>;
    using mapped_type = V;
    using iterator = basic_iterator<false>;
    using const_iterator = basic_iterator<true>;

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
        std::uint32_t h = hash(identity);
        std::uint32_t id = t.find(h, [&](const Entry& e) { return e.identity == identity; });
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
        // The old value dies with the parameter, once the entry is consistent again.
        std::swap(e.value, value);
        return !was_alive;
    }

    // A copy of the value, or nothing when the key is absent or dead.
    std::optional<V> get(const Ref<K>& key) const {
        const Entry* e = find(key);
        if (e && e->weak.alive()) return e->value;
        return std::nullopt;
    }
    bool contains(const Ref<K>& key) const {
        const Entry* e = find(key);
        return e && e->weak.alive();
    }
    // Removes the entry (its value is destroyed); returns 1 when it was live, else 0.
    std::size_t erase(const Ref<K>& key) {
        std::uint32_t id = find_id(key);
        if (id == detail::kNoId) return 0;
        Table* t = table_.get();
        bool was_alive = t->slot(id).entry->weak.alive();
        t->remove(id);
        return was_alive ? 1 : 0;
    }

    // Live entries. An entry whose key has died counts until its callback has run, which is
    // before the death completes (unless this dictionary is itself garbage: see trace).
    std::size_t size() const noexcept { return table_.get() ? table_.get()->live() : 0; }
    bool empty() const noexcept { return size() == 0; }
    void clear() {
        if (Table* t = table_.get()) t->clear();
    }

    iterator begin() { return iterator(table_.get()); }
    iterator end() noexcept { return iterator(); }
    const_iterator begin() const { return const_iterator(table_.get()); }
    const_iterator end() const noexcept { return const_iterator(); }

    // For a managed object that holds this dictionary: call it from the object's trace(). It
    // declares the weak keys and the values' strong references (a value that is a Ref, a WeakRef,
    // a range of those, or has a trace(Visitor&) member), so a cycle through the values can be
    // collected. When the object is garbage, the keys' callbacks then do not run (CPython's rule).
    void trace(Visitor& visit) {
        if (Table* t = table_.get())
            t->for_each_owned([&](Entry& e) {
                visit(e.weak);
                detail::visit_value(visit, e.value);
            });
    }

private:
    static std::uint32_t hash(const Object* identity) noexcept {
        return detail::mix_hash(std::hash<const void*>()(identity));
    }
    std::uint32_t find_id(const Ref<K>& key) const {
        Table* t = table_.get();
        if (!t || !key) return detail::kNoId;
        const Object* identity = key.get();
        return t->find(hash(identity), [&](const Entry& e) { return e.identity == identity; });
    }
    const Entry* find(const Ref<K>& key) const {
        std::uint32_t id = find_id(key);
        return id == detail::kNoId ? nullptr : &*table_.get()->slot(id).entry;
    }

    detail::WeakTableHandle<Table> table_;
};

}  // namespace ouro
