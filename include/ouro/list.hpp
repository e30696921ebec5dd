// ouro::List<T> — Python's list: references to managed objects (List<Node> holds Ref<Node>s), or
// values (List<int>, List<std::string>). A managed object itself — ouro::make<List<Node>>() —
// traced when its items hold references, so cycles through lists are collected; also usable as a
// member of a managed object (declare it in trace(): visit(children)) or as a local.
//
// Python -> C++: l.append(x), l.extend(xs), l.insert(i, x), l.pop(), l.pop(i), l.remove(x),
// l.index(x), l.count(x), x in l -> l.contains(x), l.sort(key=k, reverse=True) -> l.sort(k, true),
// l.reverse(), l.clear(), l.copy(), len(l) -> ouro::len(l) or l.size(), l[i] (i < 0 from the end),
// l[a:b:c] -> l.slice(a, b, c) (omitted bounds: {}), del l[i] -> l.del_item(i), del l[a:b] ->
// l.del_slice(a, b), l[a:b] = xs -> l.set_slice(a, b, xs), `for x in l` -> `for (auto& x : l)`.
//
// Errors are Python's, as standard exceptions with Python's messages: IndexError is
// std::out_of_range ("list index out of range", "pop from empty list"), ValueError is
// std::invalid_argument ("list.remove(x): x not in list"). Items compare with ==: Refs by
// identity, which is Python's default.
//
// The buffer grows exactly as CPython's (Objects/listobject.c, list_resize), so
// sys::getsizeof(list) changes at the same sizes as sys.getsizeof of a Python list. While an
// iterator over the list exists, operations that change its size throw std::runtime_error ("list
// changed size during iteration"); Python's list iterator would let the loop see the change, but a
// C++ iterator or reference into the old buffer would dangle. Index loops (`for i < l.size()`) may
// change the list freely.
#pragma once

#include <ouro/detail/sequence.hpp>

#include <functional>
#include <numeric>
#include <type_traits>

namespace ouro {

template <class T>
class List : public detail::Sequence<List<T>, detail::element_t<T>, detail::ListGrowth> {
    using E = detail::element_t<T>;
    using Base = detail::Sequence<List<T>, E, detail::ListGrowth>;
    friend Base;
    static constexpr const char* kName = "list";
    static constexpr bool kEmptySliceDeletes = false;
    static constexpr const char* kPinned = "list changed size during iteration";

public:
    List() noexcept = default;
    List(std::initializer_list<E> items) { this->init(std::span<const E>(items.begin(), items.size())); }
    template <class R>
        requires std::ranges::input_range<R> && std::constructible_from<E, std::ranges::range_reference_t<R>> &&
                 (!std::is_same_v<std::remove_cvref_t<R>, List>)
    explicit List(R&& items) {
        this->init(std::forward<R>(items));
    }
    List(const List&) = default;
    List(List&&) = default;  // throws std::runtime_error when `other` is being iterated
    List& operator=(const List&) = default;
    List& operator=(List&&) = default;
    ~List() override = default;

    void swap(List& other) { this->swap_storage(other); }
    friend void swap(List& a, List& b) { a.swap(b); }

    List copy() const { return *this; }

    // l.sort(): stable, by <; a list of references compares the objects (*a < *b; a null Ref throws
    // std::invalid_argument, as None cannot be ordered). Allowed during iteration, as in Python.
    void sort(bool reverse = false) {
        sort_by([](const E& x) -> const E& { return x; }, reverse);
    }
    // l.sort(key=key, reverse=reverse): each item's key is computed once, then the keys are
    // compared with <. If a key or a comparison throws, the list is left as it was.
    template <class Key>
        requires std::invocable<Key&, const E&>
    void sort(Key key, bool reverse = false) {
        using K = std::remove_cvref_t<std::invoke_result_t<Key&, const E&>>;
        std::vector<K> keys;
        {
            detail::Pin pin(this);  // user code: the list may not change size meanwhile
            keys.reserve(this->size_);
            for (std::size_t i = 0; i < this->size_; ++i) keys.push_back(std::invoke(key, this->data_[i]));
        }
        sort_by([&](const E& x) -> const K& { return keys[static_cast<std::size_t>(&x - this->data_)]; }, reverse);
    }

private:
    template <class A, class B>
    static bool less(const A& a, const B& b) {
        if constexpr (detail::is_ref<A>) {
            if (!a || !b) detail::value_error("ouro::List::sort: a null Ref cannot be ordered (sort with a key)");
            return *a < *b;
        } else {
            return a < b;
        }
    }
    // Sorts a permutation of the positions (comparing key_of(item)), then applies it in place:
    // nothing moves until every comparison is done, and the buffer stays the same.
    template <class KeyOf>
    void sort_by(KeyOf key_of, bool reverse) {
        const std::size_t n = this->size_;
        if (n < 2) return;
        std::vector<std::size_t> order(n);
        std::iota(order.begin(), order.end(), std::size_t{0});
        {
            detail::Pin pin(this);
            E* d = this->data_;
            std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                return reverse ? less(key_of(d[b]), key_of(d[a])) : less(key_of(d[a]), key_of(d[b]));
            });
        }
        detail::PinIf<!detail::plain<E>> pin(this);
        E* d = this->data_;
        // order[k] is the item that goes to k; each cycle is rotated through one temporary.
        for (std::size_t k = 0; k < n; ++k) {
            if (order[k] == k || order[k] == n) continue;
            E t(std::move(d[k]));
            std::size_t j = k;
            while (order[j] != k) {
                const std::size_t src = order[j];
                d[j] = std::move(d[src]);
                order[j] = n;
                j = src;
            }
            d[j] = std::move(t);
            order[j] = n;
        }
    }
};

}  // namespace ouro
