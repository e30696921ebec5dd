// ouro::WeakSet<T, Hash, KeyEqual> — Python's weakref.WeakSet: a set of managed objects held
// weakly. A member leaves the set once it dies. Use it to track objects without keeping them alive
// (the live instances of a class, the observers of a subject).
//
// Members are compared by identity unless Hash and KeyEqual say otherwise: WeakSet<Point,
// PointHash, std::equal_to<Point>> compares them by value, as Python compares weak references by
// their referents' __hash__ and __eq__ (the hash is taken once, when a member is added).
//
// Python -> C++: s.add(x) is insert(x) (returns whether x was added); x in s is contains(x);
// s.discard(x) is erase(x) (returns 1 when x was a member); s.remove(x) and s.pop() are remove(x)
// and pop() (ouro::KeyError where Python raises KeyError); len(s) is size(); s.update(it),
// s.intersection(it), s.difference_update(it)... take any range of Refs; the operators | & - ^
// (and |= &= -= ^=) take another WeakSet; <= < >= > == compare the live members. `union` is a C++
// keyword: use |.
//
// Iteration yields a const Ref<T>& to each live member, holding it strongly while it is yielded.
// Members may die while a loop runs (also by a collection the loop body triggers): no member is
// yielded twice, and none that died. Adding or removing members during the loop makes the next
// step throw std::runtime_error (Python's RuntimeError). An iterator may outlive its set.
#pragma once

#include <ouro/detail/weak_table.hpp>
#include <ouro/exceptions.hpp>
#include <ouro/weakref.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <new>
#include <ranges>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ouro {

namespace detail {
template <class Stored>
struct SetPayload {
    Stored key;  // the member's address, or its hash
};
template <class Stored>
struct SetTraits : ReferentTraits<Stored> {
    using Payload = SetPayload<Stored>;
};
}  // namespace detail

template <class T, class Hash = IdentityHash, class KeyEqual = IdentityEqual>
class WeakSet : public detail::ReferentKeyed<WeakSet<T, Hash, KeyEqual>, T, Hash, KeyEqual> {
    using Base = detail::ReferentKeyed<WeakSet, T, Hash, KeyEqual>;
    using Stored = typename Base::Stored;
    using Table = detail::WeakTable<detail::SetTraits<Stored>>;
    using Slot = typename Table::Slot;
    struct Yield {
        using value_type = Ref<T>;
        using reference = const Ref<T>&;
        using pointer = const Ref<T>*;
        using Held = Ref<T>;
        static reference get(Slot&, const Ref<T>& member) noexcept { return member; }
    };
    friend detail::WeakContainer<WeakSet>;
    friend Base;

public:
    using value_type = Ref<T>;
    using iterator = detail::WeakIterator<WeakSet, Table, Yield>;
    using const_iterator = iterator;
    // A range of members: another WeakSet, a std::vector<Ref<T>>...
    template <class R>
    static constexpr bool kMembers = std::ranges::input_range<const R&> &&
                                     std::convertible_to<std::ranges::range_reference_t<const R&>, const Ref<T>&>;

    WeakSet() = default;
    explicit WeakSet(Hash hash, KeyEqual eq = KeyEqual()) : Base(std::move(hash), std::move(eq)) {}
    template <class R>
        requires kMembers<R> && (!std::same_as<R, WeakSet>)
    explicit WeakSet(const R& members) {
        update(members);
    }
    WeakSet(std::initializer_list<Ref<T>> members) { update(members); }
    WeakSet(const WeakSet& other) : Base(other.hash_, other.eq_) { update(other); }
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
    void swap(WeakSet& other) noexcept {
        table_.swap(other.table_);
        this->swap_keys(other);
    }

    // s.add(member). Returns true when it was not a member yet. Throws std::invalid_argument for
    // a null member.
    bool insert(const Ref<T>& member) {
        if (!member) throw std::invalid_argument("ouro::WeakSet: the member is null");
        return this->insert_key(member, [](void* p, Stored key) { ::new (p) detail::SetPayload<Stored>{key}; }).second;
    }
    bool contains(const Ref<T>& member) const { return this->live_slot(this->find_key(member.get())) != nullptr; }
    // s.discard(member): returns 1 when it was a (live) member, else 0.
    std::size_t erase(const Ref<T>& member) { return this->erase_slot(this->find_key(member.get())); }
    // s.remove(member): KeyError when it is not a member.
    void remove(const Ref<T>& member) {
        if (!erase(member)) throw KeyError("ouro::WeakSet::remove: not a member");
    }
    // s.pop(): some member, removed; KeyError when there is none.
    Ref<T> pop() {
        return this->pop_any("pop from empty WeakSet",
                             [](Slot&, const Ref<Object>& m) { return Ref<T>(static_cast<T*>(m.get())); });
    }

    // s.update(members), s |= other.
    template <class R>
        requires kMembers<R>
    void update(const R& members) {
        for (const Ref<T>& m : members) insert(m);
    }
    // s.difference_update(members), s -= other: the members of `members` leave.
    template <class R>
        requires kMembers<R>
    void difference_update(const R& members) {
        if (is_self(members)) return this->clear();
        for (const Ref<T>& m : snapshot(members)) erase(m);
    }
    // s.intersection_update(members), s &= other: only the members also in `members` stay.
    template <class R>
        requires kMembers<R>
    void intersection_update(const R& members) {
        if (is_self(members)) return;
        const WeakSet keep = like(members);
        for (const Ref<T>& m : snapshot(*this))
            if (!keep.contains(m)) erase(m);
    }
    // s.symmetric_difference_update(members), s ^= other: each of `members` leaves if it was a
    // member, else joins.
    template <class R>
        requires kMembers<R>
    void symmetric_difference_update(const R& members) {
        if (is_self(members)) return this->clear();
        for (const Ref<T>& m : snapshot(like(members)))
            if (!erase(m)) insert(m);
    }

    template <class R>
        requires kMembers<R>
    WeakSet difference(const R& members) const {
        return updated(&WeakSet::difference_update<R>, members);
    }
    template <class R>
        requires kMembers<R>
    WeakSet intersection(const R& members) const {
        WeakSet s(this->hash_, this->eq_);
        for (const Ref<T>& m : members)
            if (contains(m)) s.insert(m);
        return s;
    }
    template <class R>
        requires kMembers<R>
    WeakSet symmetric_difference(const R& members) const {
        return updated(&WeakSet::symmetric_difference_update<R>, members);
    }
    // Every live member of this set is in `members`.
    template <class R>
        requires kMembers<R>
    bool issubset(const R& members) const {
        const WeakSet other = like(members);
        for (const Ref<T>& m : *this)
            if (!other.contains(m)) return false;
        return true;
    }
    template <class R>
        requires kMembers<R>
    bool issuperset(const R& members) const {
        for (const Ref<T>& m : members)
            if (!contains(m)) return false;
        return true;
    }
    template <class R>
        requires kMembers<R>
    bool isdisjoint(const R& members) const {
        for (const Ref<T>& m : members)
            if (contains(m)) return false;
        return true;
    }

    friend WeakSet operator|(const WeakSet& a, const WeakSet& b) { return a.updated(&WeakSet::update<WeakSet>, b); }
    friend WeakSet operator&(const WeakSet& a, const WeakSet& b) { return a.intersection(b); }
    friend WeakSet operator-(const WeakSet& a, const WeakSet& b) { return a.difference(b); }
    friend WeakSet operator^(const WeakSet& a, const WeakSet& b) { return a.symmetric_difference(b); }
    WeakSet& operator|=(const WeakSet& b) {
        update(b);
        return *this;
    }
    WeakSet& operator&=(const WeakSet& b) {
        intersection_update(b);
        return *this;
    }
    WeakSet& operator-=(const WeakSet& b) {
        difference_update(b);
        return *this;
    }
    WeakSet& operator^=(const WeakSet& b) {
        symmetric_difference_update(b);
        return *this;
    }
    friend bool operator<=(const WeakSet& a, const WeakSet& b) { return a.issubset(b); }
    friend bool operator>=(const WeakSet& a, const WeakSet& b) { return b.issubset(a); }
    friend bool operator==(const WeakSet& a, const WeakSet& b) { return a.live_count() == b.live_count() && a.issubset(b); }
    friend bool operator<(const WeakSet& a, const WeakSet& b) { return a.live_count() < b.live_count() && a.issubset(b); }
    friend bool operator>(const WeakSet& a, const WeakSet& b) { return b < a; }

    // size, empty, clear, begin, end and trace (for a managed object that holds this set) come
    // from detail::WeakContainer.

private:
    template <class R>
    bool is_self(const R& members) const noexcept {
        if constexpr (std::same_as<R, WeakSet>) return &members == this;
        else return false;
    }
    // A copy of this set, changed by update(members).
    template <class Update, class R>
    WeakSet updated(Update update, const R& members) const {
        WeakSet s(*this);
        (s.*update)(members);
        return s;
    }
    // The members as strong references: a loop that changes this set must not iterate it.
    template <class R>
    static std::vector<Ref<T>> snapshot(const R& members) {
        std::vector<Ref<T>> v;
        for (const Ref<T>& m : members) v.push_back(m);
        return v;
    }
    // `members` as a set that compares as this one does.
    template <class R>
    WeakSet like(const R& members) const {
        WeakSet s(this->hash_, this->eq_);
        s.update(members);
        return s;
    }
    std::size_t live_count() const {
        std::size_t n = 0;
        for (const Ref<T>& m : *this) n += static_cast<bool>(m);
        return n;
    }

    detail::WeakTableHandle<Table> table_;
};

}  // namespace ouro
