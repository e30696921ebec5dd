// ouro::WeakSet<T> — Python's weakref.WeakSet: a set of managed objects, held weakly and compared
// by identity. A member leaves the set once it dies. Use it to track objects without keeping
// them alive (the live instances of a class, the observers of a subject).
//
// Python -> C++: s.add(x) is insert(x) (returns whether x was added); x in s is contains(x);
// s.discard(x) is erase(x) (returns 1 when x was a member); len(s) is size().
//
// Iteration yields a const Ref<T>& to each live member, holding it strongly while it is yielded.
// Members may die, be erased or be inserted while a loop runs (also by a collection the loop body
// triggers): iterators stay valid and no member is yielded twice; a member inserted during the
// loop may or may not be yielded. The set must outlive its iterators.
#pragma once

#include <ouro/detail/weak_table.hpp>
#include <ouro/weakref.hpp>

#include <cstddef>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace ouro {

template <class T>
class WeakSet {
    struct Entry {
        WeakRef<T> weak;
        const Object* identity;  // the member's address: hashed and compared while it lives
    };
    using Table = detail::WeakTable<Entry>;
    using Callback = typename Table::template Callback<T>;

public:
    using value_type = Ref<T>;

    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = Ref<T>;
        using reference = const Ref<T>&;
        using pointer = const Ref<T>*;
        using difference_type = std::ptrdiff_t;

        iterator() noexcept = default;
        reference operator*() const noexcept { return member_; }
        pointer operator->() const noexcept { return &member_; }
        iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        bool operator==(const iterator& o) const noexcept { return cursor_ == o.cursor_; }

    private:
        friend class WeakSet;
        explicit iterator(Table* t) : cursor_(t) { advance(); }
        void advance() {
            while (auto* slot = cursor_.next())
                if (Ref<T> m = slot->entry->weak()) {
                    member_ = std::move(m);
                    return;
                }
            member_ = nullptr;
        }
        detail::WeakCursor<Table> cursor_;  // declared first: destroyed after member_
        Ref<T> member_;                     // keeps the yielded member alive
    };
    using const_iterator = iterator;

    WeakSet() = default;
    WeakSet(const WeakSet& other) {
        for (const Ref<T>& member : other) insert(member);
    }
    WeakSet(WeakSet&&) noexcept = default;
    WeakSet& operator=(const WeakSet& other) {
        if (this != &other) WeakSet(other).swap(*this);
        return *this;
    }
    WeakSet& operator=(WeakSet&& other) noexcept {
        WeakSet(std::move(other)).swap(*this);
        return *this;
    }
    ~WeakSet() = default;
    void swap(WeakSet& other) noexcept { table_.swap(other.table_); }

    // s.add(member). Returns true when it was not a member yet. Throws std::invalid_argument for
    // a null member.
    bool insert(const Ref<T>& member) {
        if (!member) throw std::invalid_argument("ouro::WeakSet: the member is null");
        Table& t = table_.make();
        const Object* identity = member.get();
        std::uint32_t h = hash(identity);
        std::uint32_t id = t.find(h, [&](const Entry& e) { return e.identity == identity; });
        if (id == detail::kNoId) {
            t.insert(h, [&](std::uint32_t new_id) { return Entry{WeakRef<T>(member, Callback(&t, new_id)), identity}; });
            return true;
        }
        Entry& e = *t.slot(id).entry;
        if (e.weak.alive()) return false;
        // The address of a member that died without its callback running: a new member.
        e.weak = WeakRef<T>(member, Callback(&t, id));
        return true;
    }

    bool contains(const Ref<T>& member) const {
        std::uint32_t id = find_id(member);
        return id != detail::kNoId && table_.get()->slot(id).entry->weak.alive();
    }
    // s.discard(member): returns 1 when it was a (live) member, else 0.
    std::size_t erase(const Ref<T>& member) {
        std::uint32_t id = find_id(member);
        if (id == detail::kNoId) return 0;
        Table* t = table_.get();
        bool was_alive = t->slot(id).entry->weak.alive();
        t->remove(id);
        return was_alive ? 1 : 0;
    }

    // Live members. A member that has died counts until its callback has run, which is before
    // the death completes (unless this set is itself garbage: see trace).
    std::size_t size() const noexcept { return table_.get() ? table_.get()->live() : 0; }
    bool empty() const noexcept { return size() == 0; }
    void clear() {
        if (Table* t = table_.get()) t->clear();
    }

    iterator begin() const { return iterator(table_.get()); }
    iterator end() const noexcept { return iterator(); }

    // For a managed object that holds this set: call it from the object's trace(), so the
    // collector knows these weak references belong to the object. When the object is garbage,
    // their callbacks then do not run (CPython's rule); the set dies with it.
    void trace(Visitor& visit) {
        if (Table* t = table_.get()) t->for_each_owned([&](Entry& e) { visit(e.weak); });
    }

private:
    static std::uint32_t hash(const Object* identity) noexcept {
        return detail::mix_hash(std::hash<const void*>()(identity));
    }
    std::uint32_t find_id(const Ref<T>& member) const {
        Table* t = table_.get();
        if (!t || !member) return detail::kNoId;
        const Object* identity = member.get();
        return t->find(hash(identity), [&](const Entry& e) { return e.identity == identity; });
    }

    detail::WeakTableHandle<Table> table_;
};

}  // namespace ouro
