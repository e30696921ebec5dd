// What List and Array share: one contiguous buffer, over-allocated as CPython over-allocates
// (Growth: list_resize or array_resize), Python's sequence operations, and pinned iterators.
#pragma once

#include <ouro/detail/container.hpp>

#include <algorithm>
#include <compare>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <ranges>
#include <span>
#include <vector>

namespace ouro::detail {

// Objects/listobject.c, list_resize: the buffer is kept while newsize is within [allocated/2,
// allocated]; otherwise it becomes newsize + newsize/8 + 6 rounded down to a multiple of 4 (0, 4,
// 8, 16, 24, 32, 40, 52, 64, 76, ...), or newsize rounded up to 4 when that is closer.
struct ListGrowth {
    static bool fits(std::size_t allocated, std::size_t, std::size_t newsize) noexcept {
        return allocated >= newsize && newsize >= (allocated >> 1);
    }
    static std::size_t capacity(std::size_t size, std::size_t newsize) noexcept {
        if (newsize == 0) return 0;
        std::size_t n = (newsize + (newsize >> 3) + 6) & ~std::size_t{3};
        if (newsize > size && newsize - size > n - newsize) n = (newsize + 3) & ~std::size_t{3};
        return n;
    }
    // A list built from n items at once (list_preallocate_exact): n rounded up to even.
    static std::size_t exact(std::size_t n) noexcept { return (n + 1) & ~std::size_t{1}; }
    // list.extend(seq) makes room for all of seq at once.
    static constexpr bool kExtendAtOnce = true;
};

// Modules/arraymodule.c, array_resize: kept while newsize <= allocated and the array shrinks by
// fewer than 16 items; otherwise newsize + newsize/16 + (3 below 8 items, else 7) (0, 4, 8, 16,
// 25, 34, 44, 54, 65, ...), and nothing for an empty array.
struct ArrayGrowth {
    static bool fits(std::size_t allocated, std::size_t size, std::size_t newsize) noexcept {
        return allocated >= newsize && size < newsize + 16 && allocated != 0;
    }
    static std::size_t capacity(std::size_t size, std::size_t newsize) noexcept {
        if (newsize == 0) return 0;
        return (newsize >> 4) + (size < 8 ? 3 : 7) + newsize;
    }
    static std::size_t exact(std::size_t n) noexcept { return n; }
    // array.extend(iterable) appends one item at a time; only another array is added at once.
    static constexpr bool kExtendAtOnce = false;
};

// Derived names itself in Python's messages (Derived::kName: "list", "array") and gives the error
// for a size change while it is pinned (Derived::kPinned).
//
// trace() sees items [0, size_) only, and they are always constructed: an item is counted after
// it is built, and uncounted before it is destroyed. Its Refs are therefore always either visited
// or held outside every trace (a root), whatever user code — which may allocate, and so collect —
// runs in between.
template <class Derived, class E, class Growth>
class Sequence : public Traced<Derived, holds_refs<E>> {
    static_assert(storable<E>, "ouro: a container's elements need a noexcept move constructor and destructor");
    using Base = Traced<Derived, holds_refs<E>>;
    friend Traced<Derived, true>;
    // Operations on non-plain items run their (user) move constructors and assignments.
    using PinMoves = PinIf<!plain<E>>;

    template <bool Const>
    class Iter {
        using Ptr = std::conditional_t<Const, const E*, E*>;

    public:
        using iterator_category = std::random_access_iterator_tag;
        using iterator_concept = std::random_access_iterator_tag;
        using value_type = E;
        using difference_type = std::ptrdiff_t;
        using pointer = Ptr;
        using reference = std::conditional_t<Const, const E&, E&>;

        Iter() noexcept = default;
        template <bool C = Const>
            requires C
        Iter(const Iter<false>& other) noexcept : pin_(other.pin_), p_(other.p_) {}

        reference operator*() const noexcept { return *p_; }
        pointer operator->() const noexcept { return p_; }
        reference operator[](difference_type n) const noexcept { return p_[n]; }
        Iter& operator++() noexcept { return ++p_, *this; }
        Iter& operator--() noexcept { return --p_, *this; }
        Iter operator++(int) noexcept {
            Iter t(*this);
            ++p_;
            return t;
        }
        Iter operator--(int) noexcept {
            Iter t(*this);
            --p_;
            return t;
        }
        Iter& operator+=(difference_type n) noexcept { return p_ += n, *this; }
        Iter& operator-=(difference_type n) noexcept { return p_ -= n, *this; }
        friend Iter operator+(Iter it, difference_type n) noexcept { return it += n; }
        friend Iter operator+(difference_type n, Iter it) noexcept { return it += n; }
        friend Iter operator-(Iter it, difference_type n) noexcept { return it -= n; }
        friend difference_type operator-(const Iter& a, const Iter& b) noexcept { return a.p_ - b.p_; }
        friend bool operator==(const Iter& a, const Iter& b) noexcept { return a.p_ == b.p_; }
        friend auto operator<=>(const Iter& a, const Iter& b) noexcept { return a.p_ <=> b.p_; }

    private:
        friend Sequence;
        friend Iter<true>;
        Iter(const Sequence* s, Ptr p) noexcept : pin_(s), p_(p) {}
        Pin pin_;
        Ptr p_ = nullptr;
    };

public:
    using value_type = E;
    using reference = E&;
    using const_reference = const E&;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    // Random access; while one exists the sequence cannot change size (std::runtime_error), so an
    // iterator, and the reference it yields, never dangle.
    using iterator = Iter<false>;
    using const_iterator = Iter<true>;

    ~Sequence() override {
        check_element<E>();
        drop(std::exchange(data_, nullptr), std::exchange(size_, 0), this->origin_);
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    // Items the buffer holds before it must grow (CPython's `allocated`).
    std::size_t capacity() const noexcept { return cap_; }

    iterator begin() noexcept { return {this, data_}; }
    iterator end() noexcept { return {this, data_ + size_}; }
    const_iterator begin() const noexcept { return {this, data_}; }
    const_iterator end() const noexcept { return {this, data_ + size_}; }
    const_iterator cbegin() const noexcept { return begin(); }
    const_iterator cend() const noexcept { return end(); }

    // s[i], i < 0 counting from the end; IndexError (std::out_of_range) outside. The reference is
    // valid until the size next changes.
    E& operator[](std::ptrdiff_t i) { return data_[position(i, " index out of range")]; }
    const E& operator[](std::ptrdiff_t i) const { return data_[position(i, " index out of range")]; }

    void append(const E& x) { push(x); }
    void append(E&& x) { push(std::move(x)); }

    // s.extend(items): any range of elements, or of what converts to them; this sequence too.
    template <class R>
        requires std::ranges::input_range<R> && std::constructible_from<E, std::ranges::range_reference_t<R>>
    void extend(R&& items) {
        if constexpr (std::is_base_of_v<Sequence, std::remove_cvref_t<R>>) {
            if (static_cast<const Sequence*>(&items) == this) return extend_self();
        }
        if constexpr (std::ranges::contiguous_range<R>) {
            // A view of this very buffer (Array::span()) would dangle once the buffer grows.
            const void* p = std::ranges::data(items);
            if (p >= static_cast<const void*>(data_) && p < static_cast<const void*>(data_ + cap_))
                return extend_moved(materialize(std::forward<R>(items)));
        }
        if constexpr (Growth::kExtendAtOnce || std::is_base_of_v<Sequence, std::remove_cvref_t<R>>) {
            if constexpr (std::ranges::sized_range<R> && std::ranges::forward_range<R>)
                return extend_at_once(items, Growth::kExtendAtOnce);
        }
        for (auto&& x : items) push(E(std::forward<decltype(x)>(x)));
    }
    void extend(std::initializer_list<E> items) { extend(std::span<const E>(items.begin(), items.size())); }
    // s.extend(other) taking other's items, which is left empty: references change hands with no
    // count changing (when this sequence is empty, the buffer itself changes hands).
    void extend(Derived&& other) {
        if (&other == this) return extend_self();
        this->check_unpinned(Derived::kPinned);
        other.check_unpinned(Derived::kPinned);
        if (other.size_ == 0) return;
        if (size_ == 0) {
            storage_free(std::exchange(data_, nullptr), std::exchange(this->origin_, Origin::system));
            cap_ = 0;
            return take_storage(other);
        }
        if (size_ + other.size_ > cap_) grow_exact_or(size_ + other.size_);
        Sequence& from = other;
        if constexpr (plain<E>) {
            std::memcpy(static_cast<void*>(data_ + size_), static_cast<const void*>(from.data_), from.size_ * sizeof(E));
            size_ += std::exchange(from.size_, 0);  // relocated: nothing to destroy
        } else {
            PinIf<true> pin(this);
            std::uninitialized_move(from.data_, from.data_ + from.size_, data_ + size_);
            size_ += from.size_;
            from.truncate(0);
        }
        from.shrink(size_);
    }

    // s.insert(i, x): before item i (clamped: i past the end appends, i < 0 counts from the end).
    void insert(std::ptrdiff_t i, E x) {
        this->check_unpinned(Derived::kPinned);
        const std::size_t at = insert_index(i, size_);
        reserve_for(size_ + 1);
        insert_moved(at, &x, 1);
    }

    // s.pop(i): removes and returns item i (the last by default); IndexError when empty or out of range.
    E pop(std::ptrdiff_t i = -1) {
        this->check_unpinned(Derived::kPinned);
        if (size_ == 0) index_error("pop from empty " + std::string(Derived::kName));
        const std::size_t at = item_index(i, size_, "pop index out of range");
        E out(std::move(data_[at]));
        close_gap(at, 1);
        return out;
    }
    // del s[i]
    void del_item(std::ptrdiff_t i) {
        this->check_unpinned(Derived::kPinned);
        const std::size_t at = position(i, " assignment index out of range");
        [[maybe_unused]] E gone(std::move(data_[at]));  // dropped once the sequence is consistent
        close_gap(at, 1);
    }
    // s.remove(x): the first item equal to x; ValueError (std::invalid_argument) when there is none.
    void remove(const E& x) {
        const std::size_t at = find(x, 0, size_);
        if (at == size_) value_error(msg(".remove(x): x not in ") + Derived::kName);
        this->check_unpinned(Derived::kPinned);
        [[maybe_unused]] E gone(std::move(data_[at]));
        close_gap(at, 1);
    }
    // The items are detached first: what their destructors run sees an empty sequence (CPython's
    // list_clear).
    void clear() {
        this->check_unpinned(Derived::kPinned);
        cap_ = 0;
        drop(std::exchange(data_, nullptr), std::exchange(size_, 0), std::exchange(this->origin_, Origin::system));
    }

    // s.index(x[, start[, stop]]): the first position of x in s[start:stop]; ValueError when absent.
    std::size_t index(const E& x, std::optional<std::ptrdiff_t> start = {}, std::optional<std::ptrdiff_t> stop = {}) const {
        const std::size_t at = find(x, bound_index(start, size_, 0), bound_index(stop, size_, size_));
        if (at == size_) value_error(msg(".index(x): x not in ") + Derived::kName);
        return at;
    }
    std::size_t count(const E& x) const {
        PinIf<!plain_eq<E>> pin(this);
        return static_cast<std::size_t>(std::count(data_, data_ + size_, x));
    }
    bool contains(const E& x) const { return find(x, 0, size_) != size_; }

    // In place; allowed during iteration (the size does not change), as in Python.
    void reverse() {
        PinMoves pin(this);
        std::reverse(data_, data_ + size_);
    }

    // s[start:stop:step] as a new sequence (an omitted bound is {} or std::nullopt).
    Derived slice(std::optional<std::ptrdiff_t> start, std::optional<std::ptrdiff_t> stop, std::ptrdiff_t step = 1) const {
        const SliceRange r = slice_range(size_, start, stop, step);
        Derived out;
        Sequence& o = out;
        o.reserve_exact(r.length);
        for (std::size_t k = 0; k < r.length; ++k) o.construct_back(data_[r.at(k)]);
        return out;
    }
    // del s[start:stop:step]
    void del_slice(std::optional<std::ptrdiff_t> start, std::optional<std::ptrdiff_t> stop, std::ptrdiff_t step = 1) {
        const SliceRange r = increasing(slice_range(size_, start, stop, step));
        if (r.length == 0) return;
        this->check_unpinned(Derived::kPinned);
        std::vector<E> gone;  // the removed items, dropped once the sequence is consistent
        gone.reserve(r.length);
        PinMoves pin(this);
        std::size_t w = static_cast<std::size_t>(r.start), next = 0;
        for (std::size_t i = w; i < size_; ++i) {
            if (next < r.length && i == r.at(next)) {
                gone.push_back(std::move(data_[i]));
                ++next;
            } else {
                data_[w++] = std::move(data_[i]);  // onto a moved-from item: nothing is dropped
            }
        }
        truncate(w);
    }
    // s[start:stop] = items (the size may change). `items` may be this sequence.
    template <class R>
        requires std::ranges::input_range<R> && std::constructible_from<E, std::ranges::range_reference_t<R>>
    void set_slice(std::optional<std::ptrdiff_t> start, std::optional<std::ptrdiff_t> stop, R&& items) {
        std::vector<E> in = materialize(std::forward<R>(items));
        const SliceRange r = slice_range(size_, start, stop, 1);
        const std::size_t lo = static_cast<std::size_t>(r.start), hi = lo + r.length;
        std::vector<E> gone;
        if (in.size() != r.length) {
            this->check_unpinned(Derived::kPinned);
            if (in.size() > r.length) reserve_for(size_ - r.length + in.size());
            else gone.reserve(r.length - in.size());
        }
        PinMoves pin(this);
        // The old items are swapped out into `in` and dropped with it, once the sequence is consistent.
        const std::size_t common = std::min(in.size(), r.length);
        for (std::size_t k = 0; k < common; ++k) std::swap(data_[lo + k], in[k]);
        if (in.size() > r.length) {
            insert_moved(hi, in.data() + common, in.size() - common);
        } else if (in.size() < r.length) {
            for (std::size_t i = lo + common; i < hi; ++i) gone.push_back(std::move(data_[i]));
            std::move(data_ + hi, data_ + size_, data_ + lo + common);
            truncate(size_ - (r.length - common));
        }
    }
    // s[start:stop:step] = items, step != 1: as many items as the slice has, else ValueError.
    template <class R>
        requires std::ranges::input_range<R> && std::constructible_from<E, std::ranges::range_reference_t<R>>
    void set_slice(std::optional<std::ptrdiff_t> start, std::optional<std::ptrdiff_t> stop, std::ptrdiff_t step, R&& items) {
        if (step == 1) return set_slice(start, stop, std::forward<R>(items));
        std::vector<E> in = materialize(std::forward<R>(items));
        // CPython's array deletes an extended slice it is given no items for; a list refuses.
        if (Derived::kEmptySliceDeletes && in.empty()) return del_slice(start, stop, step);
        const SliceRange r = slice_range(size_, start, stop, step);
        if (in.size() != r.length)
            value_error("attempt to assign sequence of size " + std::to_string(in.size()) + " to extended slice of size " +
                        std::to_string(r.length));
        PinMoves pin(this);
        for (std::size_t k = 0; k < r.length; ++k) std::swap(data_[r.at(k)], in[k]);
    }

    friend bool operator==(const Sequence& a, const Sequence& b) {
        if (a.size_ != b.size_) return false;
        PinIf<!plain_eq<E>> pa(&a), pb(&b);
        return std::equal(a.data_, a.data_ + a.size_, b.data_);
    }

    std::size_t owned_bytes() const noexcept override {
        return cap_ ? storage_size(cap_ * sizeof(E), this->origin_) : 0;
    }

protected:
    Sequence() noexcept = default;
    Sequence(const Sequence& other) : Base(other) {
        reserve_exact(other.size_);
        for (std::size_t i = 0; i < other.size_; ++i) construct_back(other.data_[i]);
    }
    Sequence(Sequence&& other) : Base(other) {
        other.check_unpinned(Derived::kPinned);
        take_storage(other);
    }
    Sequence& operator=(const Sequence& other) {
        if (this != &other) *this = Derived(static_cast<const Derived&>(other));
        return *this;
    }
    // The old items are dropped after the new ones are in place.
    Sequence& operator=(Sequence&& other) {
        if (this == &other) return *this;
        this->check_unpinned(Derived::kPinned);
        other.check_unpinned(Derived::kPinned);
        Derived old;
        static_cast<Sequence&>(old).take_storage(*this);
        take_storage(other);
        return *this;
    }
    void swap_storage(Sequence& other) {
        this->check_unpinned(Derived::kPinned);
        other.check_unpinned(Derived::kPinned);
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(cap_, other.cap_);
        std::swap(this->origin_, other.origin_);
    }
    // What a constructor from items does: all at once when their number is known, as CPython's
    // list(seq) and array(t, seq) do.
    template <class R>
    void init(R&& items) {
        if constexpr (std::ranges::sized_range<R> && std::ranges::forward_range<R>) extend_at_once(items, true);
        else extend(std::forward<R>(items));
    }
    // Python's message for this sequence: msg(" index out of range") is "list index out of range".
    static std::string msg(const char* rest) { return std::string(Derived::kName) + rest; }

    // Room for newsize items, as CPython's resize decides (keeping the buffer when it fits).
    void reserve_for(std::size_t newsize) {
        if (!Growth::fits(cap_, size_, newsize)) reallocate(Growth::capacity(size_, newsize));
    }
    // After a removal from `old` items: CPython resizes down once the size falls far enough below
    // the buffer. Optional (a failed allocation keeps the bigger buffer), so removals never throw.
    void shrink(std::size_t old) noexcept {
        if (Growth::fits(cap_, old, size_)) return;
        try {
            reallocate(Growth::capacity(old, size_));
        } catch (...) {
        }
    }

    E* data_ = nullptr;
    std::size_t size_ = 0;

private:
    std::size_t cap_ = 0;

    void visit_items(Visitor& visit) {
        for (std::size_t i = 0; i < size_; ++i) visit(data_[i]);
    }

    std::size_t position(std::ptrdiff_t i, const char* rest) const {
        const std::size_t k = i < 0 ? size_ + static_cast<std::size_t>(i) : static_cast<std::size_t>(i);
        if (OURO_UNLIKELY(k >= size_)) index_error(msg(rest));
        return k;
    }

    // This empty sequence takes the buffer of `other` (pinned by nobody).
    void take_storage(Sequence& other) noexcept {
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        cap_ = std::exchange(other.cap_, 0);
        this->origin_ = std::exchange(other.origin_, Origin::system);
    }

    // Appends a copy or a move of x, which may be an item of this sequence: when the buffer must
    // grow, x is copied out first.
    template <class A>
    void push(A&& x) {
        this->check_unpinned(Derived::kPinned);
        if (OURO_UNLIKELY(size_ == cap_)) return push_grow(E(std::forward<A>(x)));
        construct_back(std::forward<A>(x));
    }
    OURO_NOINLINE void push_grow(E&& x) {
        reserve_for(size_ + 1);
        construct_back(std::move(x));
    }
    // Builds the new last item, then counts it. Constructors that may run user code run with the
    // sequence pinned.
    template <class A>
    void construct_back(A&& x) {
        PinIf<!plain<E> && !std::is_nothrow_constructible_v<E, A&&>> pin(this);
        ::new (static_cast<void*>(data_ + size_)) E(std::forward<A>(x));
        ++size_;
    }
    void extend_self() {
        this->check_unpinned(Derived::kPinned);
        const std::size_t n = size_;
        if (n == 0) return;
        reserve_for(2 * n);
        for (std::size_t i = 0; i < n; ++i) construct_back(data_[i]);
    }
    void extend_moved(std::vector<E>&& items) {
        if (items.empty()) return;
        this->check_unpinned(Derived::kPinned);
        if (size_ + items.size() > cap_) grow_exact_or(size_ + items.size());
        for (E& x : items) construct_back(std::move(x));
    }

    // Room for all of them first: exactly, into an empty sequence, when `exact` (CPython's
    // list(seq), list.extend(seq) and array(t, seq)); else as a resize (array.extend(array)).
    template <class R>
    void extend_at_once(R& items, bool exact) {
        const auto n = static_cast<std::size_t>(std::ranges::size(items));
        if (n == 0) return;
        this->check_unpinned(Derived::kPinned);
        if (size_ + n > cap_) {
            if (exact) grow_exact_or(size_ + n);
            else reserve_for(size_ + n);
        }
        for (auto&& x : items) construct_back(std::forward<decltype(x)>(x));
    }

    template <class R>
    static std::vector<E> materialize(R&& items) {
        std::vector<E> out;
        if constexpr (std::ranges::sized_range<R>) out.reserve(static_cast<std::size_t>(std::ranges::size(items)));
        for (auto&& x : items) out.emplace_back(std::forward<decltype(x)>(x));
        return out;
    }

    // The first index in [lo, hi) whose item equals x, or size_.
    std::size_t find(const E& x, std::size_t lo, std::size_t hi) const {
        PinIf<!plain_eq<E>> pin(this);
        for (std::size_t i = lo; i < hi; ++i)
            if (data_[i] == x) return i;
        return size_;
    }

    // A slice with step < 0 as the same positions in increasing order.
    static SliceRange increasing(SliceRange r) noexcept {
        if (r.step < 0 && r.length > 0) {
            r.start += static_cast<std::ptrdiff_t>(r.length - 1) * r.step;
            r.step = -r.step;
        }
        return r;
    }

    // n items at once: into an empty sequence, CPython's exact preallocation; else its resize.
    void grow_exact_or(std::size_t newsize) {
        if (data_ == nullptr) reserve_exact(newsize);
        else reserve_for(newsize);
    }
    void reserve_exact(std::size_t n) {
        if (n > cap_) reallocate(Growth::exact(n));
    }
    void reallocate(std::size_t cap) {
        if (cap == 0) {
            storage_free(std::exchange(data_, nullptr), std::exchange(this->origin_, Origin::system));
            cap_ = 0;
            return;
        }
        BlockAllocator* pools = pools_for(this);
        const std::size_t bytes = buffer_bytes(cap, sizeof(E));
        if constexpr (plain<E>) {
            data_ = static_cast<E*>(storage_resize(pools, data_, this->origin_, size_ * sizeof(E), bytes));
        } else {
            Origin origin;
            E* fresh = static_cast<E*>(storage_allocate(pools, bytes, alignof(E), origin));
            E* old = data_;
            PinIf<true> pin(this);
            std::uninitialized_move(old, old + size_, fresh);
            data_ = fresh;  // trace() sees the new buffer before the moved-from items are destroyed
            std::destroy(old, old + size_);
            storage_free(old, std::exchange(this->origin_, origin));
        }
        cap_ = cap;
    }

    // Moves the n items at `from` (not in this buffer) in at position `at`, the buffer having room.
    // Every slot below size_ stays a constructed item throughout.
    void insert_moved(std::size_t at, E* from, std::size_t n) noexcept {
        const std::size_t s = size_;
        if constexpr (plain<E>) {
            std::memmove(static_cast<void*>(data_ + at + n), static_cast<const void*>(data_ + at), (s - at) * sizeof(E));
            std::memcpy(static_cast<void*>(data_ + at), static_cast<const void*>(from), n * sizeof(E));
            if constexpr (!std::is_trivially_copyable_v<E>) std::uninitialized_default_construct(from, from + n);
            size_ = s + n;  // (from's items were relocated; they are left null)
        } else {
            PinIf<true> pin(this);
            const std::size_t tail = s - at;
            if (tail >= n) {
                std::uninitialized_move(data_ + s - n, data_ + s, data_ + s);
                size_ = s + n;
                std::move_backward(data_ + at, data_ + s - n, data_ + s);
                std::move(from, from + n, data_ + at);
            } else {
                std::uninitialized_move(data_ + at, data_ + s, data_ + at + n);
                std::uninitialized_move(from + tail, from + n, data_ + s);
                size_ = s + n;
                std::move(from, from + tail, data_ + at);
            }
        }
    }
    // Removes the n (moved-from) items at `at`: the rest move down and the buffer may shrink.
    void close_gap(std::size_t at, std::size_t n) noexcept {
        const std::size_t s = size_;
        if constexpr (plain<E>) {
            // Moved-from Refs are null and trivially copyable items have no destructor: overwrite.
            std::memmove(static_cast<void*>(data_ + at), static_cast<const void*>(data_ + at + n), (s - at - n) * sizeof(E));
            size_ = s - n;
            shrink(s);
        } else {
            PinIf<true> pin(this);
            std::move(data_ + at + n, data_ + s, data_ + at);
            truncate(s - n);
        }
    }
    // Drops the (moved-from) items from n on: uncounted first, then destroyed.
    void truncate(std::size_t n) noexcept {
        const std::size_t old = std::exchange(size_, n);
        std::destroy(data_ + n, data_ + old);
        shrink(old);
    }
    static void drop(E* d, std::size_t n, Origin origin) noexcept {
        for (std::size_t i = n; i-- > 0;) std::destroy_at(d + i);
        storage_free(d, origin);
    }

    template <class, class, class>
    friend class Sequence;
};

}  // namespace ouro::detail
