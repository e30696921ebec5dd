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
// loop may or may not be yielded. An iterator may outlive its set.
#pragma once

#include <ouro/detail/weak_table.hpp>
#include <ouro/weakref.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <utility>

namespace ouro {

namespace detail {
struct SetPayload {
    const Object* identity;  // the member's address
};
struct SetTraits : IdentityTraits {
    using Payload = SetPayload;
};
}  // namespace detail

template <class T>
class WeakSet : public detail::WeakContainer<WeakSet<T>> {
    using Table = detail::WeakTable<detail::SetTraits>;
    using Slot = typename Table::Slot;
    struct Yield {
        using value_type = Ref<T>;
        using reference = const Ref<T>&;
        using pointer = const Ref<T>*;
        using Held = Ref<T>;
        static reference get(Slot&, const Ref<T>& member) noexcept { return member; }
    };
    friend detail::WeakContainer<WeakSet>;

public:
    using value_type = Ref<T>;
    using iterator = detail::WeakIterator<WeakSet, Table, Yield>;
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
        return this->insert_identity(const_cast<Object*>(static_cast<const Object*>(member.get())),
                                     [&](void* p) { ::new (p) detail::SetPayload{member.get()}; })
            .second;
    }

    bool contains(const Ref<T>& member) const { return this->live_slot(this->find_identity(member.get())) != nullptr; }
    // s.discard(member): returns 1 when it was a (live) member, else 0.
    std::size_t erase(const Ref<T>& member) { return this->erase_slot(this->find_identity(member.get())); }

    // size, empty, clear, begin, end and trace (for a managed object that holds this set) come
    // from detail::WeakContainer.

private:
    detail::WeakTableHandle<Table> table_;
};

}  // namespace ouro
